//! Building the acquirer links from configuration.

use std::collections::HashMap;

use iso8583::client::{Client, ClientSettings};
use pos_config::Config;

/// How long one connection attempt to an acquirer may take.
pub const CONNECT_TIMEOUT_MS: u64 = 3_000;

#[derive(Debug, thiserror::Error)]
#[error("acquirer {acquirer}: {source}")]
pub struct LinkError {
    pub acquirer: String,
    pub source: pos_tls::TlsError,
}

/// One persistent client per acquirer that has an ISO 8583 link.
pub fn start_clients(config: &Config) -> Result<HashMap<String, Client>, LinkError> {
    let mut clients = HashMap::new();
    for acquirer in &config.acquirers {
        let Some(link) = &acquirer.link else { continue };
        let identity = link.client_identity.as_ref().map(|(cert, key)| (cert.as_path(), key.as_path()));
        let tls = pos_tls::client_config(&link.ca_file, identity)
            .map_err(|source| LinkError { acquirer: acquirer.id.clone(), source })?;
        let client = Client::start(ClientSettings {
            endpoints: link.endpoints.clone(),
            server_name: link.server_name.clone(),
            tls,
            in_flight_max: link.in_flight_max,
            connect_timeout_ms: CONNECT_TIMEOUT_MS,
            echo_interval_ms: link.echo_interval_ms,
            reconnect_backoff_ms_max: link.reconnect_backoff_ms_max,
        });
        clients.insert(acquirer.id.clone(), client);
    }
    Ok(clients)
}
