//! Payment terminals for the demo, the benchmark and tests: one ISO 8583 connection per terminal
//! to the terminal host, each presenting that terminal's own certificate from a development PKI
//! (the host believes field 41 only from the terminal its certificate names).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use iso8583::client::{Client, ClientError, ClientSettings};
use iso8583::{fields, Message};

/// How long a terminal's connection attempt may take.
pub const TERMINAL_CONNECT_TIMEOUT_MS: u64 = 3_000;

pub struct TerminalFleet {
    address: String,
    pki: Arc<pos_tls::DevPki>,
    clients: Mutex<HashMap<String, Client>>,
}

impl TerminalFleet {
    /// Terminals of `pki` connecting to the terminal host at `address` (named `localhost`).
    pub fn new(address: impl Into<String>, pki: Arc<pos_tls::DevPki>) -> TerminalFleet {
        TerminalFleet { address: address.into(), pki, clients: Mutex::new(HashMap::new()) }
    }

    /// The connection of one terminal, started on first use.
    pub fn terminal(&self, terminal_id: &str) -> Result<Client, pos_tls::TlsError> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(client) = clients.get(terminal_id) {
            return Ok(client.clone());
        }
        let client = Client::start(ClientSettings {
            endpoints: vec![self.address.clone()],
            server_name: "localhost".to_string(),
            tls: self.pki.terminal_client(terminal_id)?,
            in_flight_max: 4,
            connect_timeout_ms: TERMINAL_CONNECT_TIMEOUT_MS,
            echo_interval_ms: 60_000,
            reconnect_backoff_ms_max: 1_000,
        });
        clients.insert(terminal_id.to_string(), client.clone());
        Ok(client)
    }

    /// Waits until a terminal's connection is up (false after the deadline, or when its
    /// certificate cannot be made).
    pub async fn wait_connected(&self, terminal_id: &str, deadline: Duration) -> bool {
        match self.terminal(terminal_id) {
            Ok(client) => client.wait_connected(deadline).await,
            Err(_) => false,
        }
    }

    /// Sends a request on the connection of the terminal its field 41 names.
    pub async fn request(&self, message: &Message, deadline: Duration) -> Result<Message, ClientError> {
        let terminal_id = message.text(fields::TERMINAL_ID).unwrap_or_default().to_string();
        let client = self.terminal(&terminal_id).map_err(|e| ClientError::NotSent(e.to_string()))?;
        client.request(message, deadline).await
    }

    pub fn shutdown(&self) {
        for client in self.clients.lock().unwrap_or_else(PoisonError::into_inner).values() {
            client.shutdown();
        }
    }
}
