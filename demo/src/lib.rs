//! What the system is tried, measured and tested with, kept out of the gateway a city deploys: the
//! demo day ([`day`]) that plays a business day of the example city through the real HTTP API
//! against simulated acquirers, QR provider, bank and one real counter ([`counter`]), serves its
//! pages ([`pages`]) and reconciles it ([`reconcile`]); the benchmark ([`bench`]); the one rig of gateway and
//! simulators that all of them and the tests start from ([`rig`]); and the payment terminals of
//! the development PKI ([`terminals`]); and the seeded whole-system simulation ([`sim`]) the
//! `pos-sim` binary runs. The `demo` binary runs the first two.

pub mod bench;
pub mod counter;
pub mod day;
pub mod pages;
pub mod reconcile;
pub mod rig;
pub mod sim;
pub mod terminals;
