//! Integration tests of the QR provider simulator, one binary: each test starts its own
//! simulator on port 0 and talks to it over HTTP as a client would.

mod control;
mod endpoints;
mod faults;
mod interop;
mod malformed;
mod rig;
mod settlement;
mod tls;
mod version;
