//! The payment switch: terminals in, acquirers out.
//!
//! A card or e-money payment is created through the HTTP API and waits on its register's
//! terminal. The [`terminal_host`] accepts the terminal's ISO 8583 authorization over TLS and
//! [`authorize`] binds it to that payment, journals it as `authorizing` (with the STAN it will
//! carry) and only then forwards it over the acquirer's [`iso8583::client::Client`]. An answer is
//! journaled before the terminal hears it. No answer — a timeout, a dropped link, garbage — puts
//! the payment `in_doubt` and queues a reversal in the same transaction; the [`worker`] sends it
//! (0400, then 0401 with backoff) until 0410 comes back or the tries run out, and sweeps payments
//! left `authorizing` by a crash into the same path. A late approval finds the payment no longer
//! `authorizing` and completes nothing.

pub mod authorize;
pub mod links;
pub mod qr;
pub mod qr_barcode;
pub mod qr_refund;
pub mod refund;
pub mod terminal_host;
pub mod worker;

use std::collections::HashMap;

use iso8583::client::Client;
use tokio::sync::Notify;

pub use links::LinkError;

/// The acquirer links of a running gateway.
pub struct Switch {
    clients: HashMap<String, Client>,
    /// The QR providers' HTTPS clients and watcher bookkeeping.
    pub qr: qr::QrLinks,
    /// Woken when reversal work is queued, so it goes out at once rather than at the next poll.
    pub reversal_wake: Notify,
}

impl Switch {
    /// A switch with no links (configurations without card or e-money acquirers).
    pub fn empty() -> Switch {
        Switch { clients: HashMap::new(), qr: qr::QrLinks::default(), reversal_wake: Notify::new() }
    }

    pub fn new(clients: HashMap<String, Client>) -> Switch {
        Switch { clients, qr: qr::QrLinks::default(), reversal_wake: Notify::new() }
    }

    pub fn with_qr(mut self, qr: qr::QrLinks) -> Switch {
        self.qr = qr;
        self
    }

    pub fn client(&self, acquirer_id: &str) -> Option<&Client> {
        self.clients.get(acquirer_id)
    }

    pub fn shutdown(&self) {
        for client in self.clients.values() {
            client.shutdown();
        }
    }
}

/// Field 7 (transmission date and time, MMDDhhmmss in UTC as ISO 8583 has it).
pub fn transmission_time(now: chrono::DateTime<chrono::Utc>) -> String {
    now.format("%m%d%H%M%S").to_string()
}
