//! Turning acceptance off (failover tests) and shutting down.

use acquirer_sim::{Centre, Fault, FaultPlan, MessageKind};
use iso8583::fields;

use crate::support::*;

#[tokio::test]
async fn not_accepting_closes_connections_and_refuses_new_ones() {
    let sim = start_sim(Centre::Card).await;
    let mut open = Client::connect(&sim).await;
    assert_eq!(code_of(&open.request(&network("000001", fields::NETWORK_SIGN_ON)).await), "00");

    sim.handle.set_accepting(false);
    assert!(matches!(open.incoming(DEADLINE).await, Incoming::Closed));
    assert!(Client::try_connect(sim.handle.address(), &sim.client_tls).await.is_err());

    sim.handle.set_accepting(true);
    let mut again = Client::connect(&sim).await;
    assert_eq!(code_of(&again.request(&network("000002", fields::NETWORK_ECHO)).await), "00");
}

#[tokio::test]
async fn shutdown_closes_connections_and_drops_held_answers() {
    let sim = start_sim(Centre::Card).await;
    sim.handle.set_faults(vec![FaultPlan::always(Fault::LateAnswer { ms: 60_000 }, MessageKind::Purchase)]);
    let mut client = Client::connect(&sim).await;
    client.send(&purchase("000001", 1500)).await;
    // Requests on a connection are read in order: once the echo is answered, the purchase is
    // booked and its answer held back.
    assert_eq!(code_of(&client.request(&network("000002", fields::NETWORK_ECHO)).await), "00");
    assert_eq!(sim.handle.ledger().len(), 1);
    let address = sim.handle.address();
    tokio::time::timeout(DEADLINE, sim.handle.clone().shutdown()).await.expect("shutdown within the deadline");
    assert!(matches!(client.incoming(DEADLINE).await, Incoming::Closed));
    assert!(tokio::net::TcpStream::connect(address).await.is_err(), "the port is closed");
}

#[tokio::test]
async fn a_frame_that_does_not_decode_closes_the_connection() {
    let sim = start_sim(Centre::Card).await;
    let mut client = Client::connect(&sim).await;
    client.send_raw(b"not an ISO 8583 message").await;
    assert!(matches!(client.incoming(DEADLINE).await, Incoming::Closed));
    assert!(sim.handle.received().is_empty());
    // The simulator itself is unharmed.
    let mut next = Client::connect(&sim).await;
    assert_eq!(code_of(&next.request(&network("000001", fields::NETWORK_ECHO)).await), "00");
}
