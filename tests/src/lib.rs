//! End-to-end tests of the whole system, run as its users would run it.
//!
//! The tests in `tests/` drive complete flows across crates: today the demo business day
//! (configuration → gateway → journal → treasury's read-back), later the counter daemon and
//! terminal simulator on a pseudo-terminal pair, the acquirer simulators and the reconciler. This
//! library holds what those tests share.

use std::path::PathBuf;

/// The example city's configuration, as shipped.
pub fn example_config_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config/examples/city.toml")
}
