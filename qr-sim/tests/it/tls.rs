//! The simulator over HTTPS with a `pos-tls` development certificate: a signed request through
//! rustls gets its JSON answer.

use std::sync::Arc;

use pos_core::ManualClock;
use pos_tls::{ClientAuth, DevPki};
use qr_protocol::auth::SignedRequest;
use qr_sim::{QrSimConfig, StartOptions};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::rig::{instant, sample};

#[tokio::test]
async fn https_serves_the_same_api() {
    let pki = DevPki::new("qr-sim test CA").unwrap();
    let leaf = pki.server(&["localhost"]).unwrap();
    let server =
        pos_tls::server_config_from_pem(leaf.chain_pem.as_bytes(), leaf.key_pem.as_bytes(), None, ClientAuth::None)
            .unwrap();
    let client = pos_tls::client_config_from_pem(pki.ca_pem().as_bytes(), None).unwrap();
    let now = instant("2026-11-24T11:00:00+09:00");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = StartOptions { clock: Arc::new(ManualClock::new(now)), tls: Some(server) };
    let handle = qr_sim::start_with(listener, QrSimConfig::example(), options).await.unwrap();

    let path = "/v2/payments/NOPE";
    let request = SignedRequest { method: "GET", path, content_type: None, body: b"" };
    let authorization = qr_protocol::sign(&sample(), &request, "tls00001", now.timestamp()).to_header_value();
    let tcp = tokio::net::TcpStream::connect(handle.address()).await.unwrap();
    let connector = tokio_rustls::TlsConnector::from(client);
    let mut stream = connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap();
    let message = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: {authorization}\r\nX-ASSUME-MERCHANT: \r\nConnection: close\r\n\r\n"
    );
    stream.write_all(message.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok();
    assert!(answer.starts_with("HTTP/1.1 404"), "{answer}");
    assert!(answer.contains("\"code\":\"DYNAMIC_QR_PAYMENT_NOT_FOUND\""), "{answer}");
    handle.shutdown().await;
}
