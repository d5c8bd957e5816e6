//! What `--version` says, the same way for every binary of the workspace: the workspace's version
//! and the commit it was built from (see `build.rs` for where the commit comes from, and why a
//! build without git says `commit unknown`).
//!
//! Each binary's clap command takes [`VERSION`]: `#[command(version = pos_build_info::VERSION)]`.
//! This crate is kept apart and tiny because its build script reruns when a commit is made, and
//! everything that depends on it is then rebuilt.

/// The workspace's version, e.g. `0.1.0`.
pub const PACKAGE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit (40 hex digits) the binary was built from, or `unknown`.
pub const COMMIT: &str = env!("POS_BUILD_COMMIT");

/// The version line after the program's name: `0.1.0 (commit 0123…)`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("POS_BUILD_COMMIT"), ")");

/// What `PROGRAM --version` prints (clap's form): `gateway 0.1.0 (commit 0123…)` and a newline.
pub fn version_line(program: &str) -> String {
    format!("{program} {VERSION}\n")
}

/// Whether the build knew its commit.
pub fn commit_known() -> bool {
    COMMIT != "unknown"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_line_names_the_version_and_a_hex_commit_or_unknown() {
        assert_eq!(VERSION, format!("{PACKAGE_VERSION} (commit {COMMIT})"));
        assert!(
            COMMIT == "unknown" || (COMMIT.len() == 40 && COMMIT.bytes().all(|b| b.is_ascii_hexdigit())),
            "{COMMIT}"
        );
    }

    /// Built from a git checkout, the commit is HEAD's; built with `POS_BUILD_COMMIT` (CI's copy of
    /// the repository, which has no `.git`), it is that one.
    #[test]
    fn the_commit_is_the_one_the_source_tree_is_at() {
        let head = std::process::Command::new("git")
            .args(["-C", env!("CARGO_MANIFEST_DIR"), "rev-parse", "HEAD"])
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string());
        match (std::env::var("POS_BUILD_COMMIT").ok().filter(|c| !c.is_empty()), head) {
            (Some(given), _) => assert_eq!(COMMIT, given),
            (None, Some(head)) => assert_eq!(COMMIT, head),
            (None, None) => assert_eq!(COMMIT, "unknown"),
        }
    }
}
