//! The outside parties the gateway talks to, one module each, each behind a small interface the
//! payments module calls: [`acquirer`] is the ISO 8583 link to a card acquirer or the e-money
//! centre (authorize, reverse, refund; PROTOCOLS.md §1), [`qr`] the PayPay-style QR provider
//! (create and withdraw a code, charge a scanned code, inquire, cancel, refund; §2). Each builds
//! and reads its own messages beside it (`messages`), allocates its own trace numbers and
//! transmission times, and knows nothing of the HTTP layer or of payment states: it reports what
//! the outside said, and [`crate::payments`] decides what that means for the money.
//!
//! To add a second card protocol, implement [`acquirer::CardAcquirer`]; to add a QR provider of
//! another API, give it the operations of [`qr::QrProvider`].

pub mod acquirer;
pub mod qr;

use std::collections::HashMap;
use std::sync::Arc;

use pos_config::Config;

use crate::journal::Journal;

/// The connectors of a running gateway, by acquirer id.
pub struct Connectors {
    acquirers: HashMap<String, Arc<dyn acquirer::CardAcquirer>>,
    qr: HashMap<String, qr::QrProvider>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error(transparent)]
    Link(#[from] acquirer::LinkError),
    #[error(transparent)]
    Qr(#[from] qr::QrError),
}

impl Connectors {
    /// No outside party (a configuration without card, e-money or QR links).
    pub fn none() -> Connectors {
        Connectors { acquirers: HashMap::new(), qr: HashMap::new() }
    }

    /// Starts a link per configured ISO 8583 acquirer and a client per QR provider.
    pub fn start(config: &Config, journal: &Journal) -> Result<Connectors, ConnectorError> {
        let mut acquirers: HashMap<String, Arc<dyn acquirer::CardAcquirer>> = HashMap::new();
        for configured in &config.acquirers {
            if let Some(link) = &configured.link {
                let started = acquirer::Iso8583Acquirer::start(&configured.id, link, journal.clone())?;
                acquirers.insert(configured.id.clone(), Arc::new(started));
            }
        }
        let mut qr = HashMap::new();
        for configured in &config.acquirers {
            if let Some(link) = &configured.qr_link {
                qr.insert(configured.id.clone(), qr::QrProvider::new(link.clone())?);
            }
        }
        Ok(Connectors { acquirers, qr })
    }

    pub fn acquirer(&self, id: &str) -> Option<&Arc<dyn acquirer::CardAcquirer>> {
        self.acquirers.get(id)
    }

    /// Replaces (or adds) an acquirer's connector; tests use it to stand in another protocol.
    pub fn with_acquirer(mut self, id: &str, connector: Arc<dyn acquirer::CardAcquirer>) -> Connectors {
        self.acquirers.insert(id.to_string(), connector);
        self
    }

    pub fn qr(&self, id: &str) -> Option<&qr::QrProvider> {
        self.qr.get(id)
    }

    pub fn qr_providers(&self) -> impl Iterator<Item = &qr::QrProvider> {
        self.qr.values()
    }

    pub fn shutdown(&self) {
        for acquirer in self.acquirers.values() {
            acquirer.shutdown();
        }
    }
}
