//! Records the commit the workspace is built from, for `--version`.
//!
//! In order: the `POS_BUILD_COMMIT` environment variable (set by builds from a source tree without
//! `.git`, such as `deploy/offline/build.sh` or a Debian package build); else `git rev-parse HEAD`
//! in the source tree; else nothing, and the binaries say `commit unknown`. A build never fails
//! for want of git.
//!
//! The script reruns when HEAD moves (a commit, a checkout) and only then, so that the commit is
//! exact without rebuilding on every edit. It does not record uncommitted changes: whether the tree
//! was clean would go stale at the next edit of any file, which the script does not watch.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The variable a build without `.git` names its commit by.
const COMMIT_ENV: &str = "POS_BUILD_COMMIT";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={COMMIT_ENV}");
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = match std::env::var(COMMIT_ENV) {
        Ok(commit) if !commit.trim().is_empty() => Some(commit.trim().to_string()),
        _ => git_commit(&manifest_dir),
    };
    // The commit is checked to be hex so that nothing else can end up in a `--version` line.
    let commit = commit.filter(|c| !c.is_empty() && c.len() <= 64 && c.bytes().all(|b| b.is_ascii_hexdigit()));
    println!("cargo:rustc-env=POS_BUILD_COMMIT={}", commit.as_deref().unwrap_or("unknown"));
}

/// HEAD's commit, watching the files that change when HEAD moves.
fn git_commit(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| -> Option<String> {
        let output = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
        output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    // Only this workspace's own repository counts: a source tree without `.git` that happens to
    // lie inside another repository (an unpacked tarball under someone's home) is not that commit.
    let workspace = dir.parent()?.canonicalize().ok()?;
    let top = PathBuf::from(git(&["rev-parse", "--show-toplevel"])?).canonicalize().ok()?;
    if top != workspace {
        return None;
    }
    let commit = git(&["rev-parse", "HEAD"])?;
    // HEAD itself (a checkout of another branch), the branch's ref (a commit on it) and the packed
    // refs (where a ref lives after `git gc`). A worktree has its own HEAD and shares the refs.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(reference) = git(&["symbolic-ref", "-q", "HEAD"]) {
        watched.push(git(&["rev-parse", "--git-path", &reference]));
    }
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    for path in watched.into_iter().flatten() {
        let path = if Path::new(&path).is_absolute() { PathBuf::from(path) } else { dir.join(path) };
        // A path that does not exist would make cargo rerun the script on every build.
        if path.exists() {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Some(commit)
}
