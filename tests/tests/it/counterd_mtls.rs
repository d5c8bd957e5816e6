//! counterd reaches the gateway over HTTPS with mutual TLS: it trusts the city's CA and presents
//! its counter's client certificate (both from `pos_tls`, as the settings' `ca_file`,
//! `client_cert_file` and `client_key_file` give them). The gateway's API is served here behind a
//! TLS front that requires a client certificate from that CA, as a deployment's reverse proxy
//! does; a counterd without a certificate is turned away at the handshake.

use device_drivers::counterd::{DeviceToken, GatewayClient, SystemDevices, TerminalAddress};
use device_drivers::terminal_sim::CardSource;
use e2e::counter_rig::{counterd_via, ended, is_charge_of, start_sale, terminal};
use e2e::Counter;
use pos_core::api::CommandState;
use pos_core::{Brand, PaymentState, RegisterId};
use serde_json::json;

/// A TLS front on a port of its own: it requires a client certificate from `pki`'s CA and passes
/// the bytes on to the gateway's plain HTTP listener. Returns its `https://` address.
async fn tls_front(pki: &pos_tls::DevPki, gateway: &str) -> String {
    let leaf = pki.server(&["localhost"]).expect("server certificate");
    let config = pos_tls::server_config_from_pem(
        leaf.chain_pem.as_bytes(),
        leaf.key_pem.as_bytes(),
        Some(pki.ca_pem().as_bytes()),
        pos_tls::ClientAuth::Required,
    )
    .expect("server TLS");
    let acceptor = tokio_rustls::TlsAcceptor::from(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let gateway = gateway.trim_start_matches("http://").to_string();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, gateway) = (acceptor.clone(), gateway.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut plain) = tokio::net::TcpStream::connect(&gateway).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    format!("https://localhost:{port}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn counterd_takes_a_charge_over_https_with_its_client_certificate() {
    let counter = Counter::start().await;
    let pki = pos_tls::DevPki::new("city CA").expect("CA");
    let front = tls_front(&pki, &counter.base).await;
    let identity = pki.client("counter-r0101").expect("client certificate");
    let tls = pos_tls::client_config_from_pem(
        pki.ca_pem().as_bytes(),
        Some((identity.chain_pem.as_bytes(), identity.key_pem.as_bytes())),
    )
    .expect("client TLS");

    // Without a client certificate the front refuses the connection.
    let anonymous = pos_tls::client_config_from_pem(pki.ca_pem().as_bytes(), None).expect("client TLS");
    let register = RegisterId::parse("R0101").expect("register");
    let token = DeviceToken::new(&Counter::token_of("counter-r0101")).expect("token");
    let refused = GatewayClient::new(&front, register.clone(), token.clone(), Some(anonymous)).expect("client");
    let error = refused.next_command(0).await.expect_err("no certificate, no connection");
    assert!(error.is_transient(), "{error}");
    let admitted = GatewayClient::new(&front, register, token, Some(tls.clone())).expect("client");
    assert!(admitted.next_command(0).await.is_ok(), "with its certificate counterd is served");

    let dir = tempfile::tempdir().expect("dir");
    let terminal = terminal(&counter, 10_010_101, CardSource::fixed(Brand::Visa).expect("brand"), dir.path(), 20).await;
    let devices =
        SystemDevices { terminal: TerminalAddress::Serial(terminal.path.clone()), printer: None, scanner: None };
    let task = counterd_via(&front, Some(tls), "R0101", devices, &dir.path().join("counterd.json"));
    let line = json!({ "fee_item": "KOSEKI-ZENBU", "quantity": 1 });
    let started = start_sale(&counter, "clerk-r0101", "R0101", line, "card").await;
    let charge = ended(&counter, "R0101", is_charge_of(&started.payment.id)).await;
    assert_eq!(charge.state, CommandState::Done, "{charge:?}");
    let payment: pos_core::api::PaymentView =
        counter.get("treasury", &format!("/v1/payments/{}", started.payment.id)).await;
    assert_eq!(payment.state, PaymentState::Completed);
    assert_eq!(counter.card.ledger().len(), 1);
    task.abort();
    counter.stop().await;
}
