#!/usr/bin/env bash
# Builds the release binaries and, when cargo-deb is installed, the Debian package `pos`, from an
# unpacked offline bundle (deploy/offline/bundle.sh) with no network at all: cargo reads only the
# vendored crates (`--offline`, `--locked`). Needs the Rust toolchain (see deploy/README.md,
# "Offline install", for bringing rustup's standalone installer in) and a C compiler (`ring`).
#
#   deploy/offline/build.sh        -> target/release/{gateway,counterd,reconcile}, target/debian/pos_*.deb
#
# On two cores a release build of the three binaries took 26 minutes from nothing (a busy machine).
set -euo pipefail
cd "$(dirname "$0")/../.."
if [ ! -f .cargo/config.toml ] || [ ! -d vendor ]; then
    echo "build.sh: no vendor/ and .cargo/config.toml here: unpack a bundle made by deploy/offline/bundle.sh" >&2
    exit 2
fi
# The bundle has no .git: the binaries' --version takes the commit from here.
export POS_BUILD_COMMIT="${POS_BUILD_COMMIT:-$(cat BUILD_COMMIT 2>/dev/null || true)}"
cargo build --release --offline --locked -p gateway -p device-drivers -p reconciler --bins
target="${CARGO_TARGET_DIR:-target}"
"$target/release/gateway" --version
if cargo deb --version >/dev/null 2>&1; then
    cargo deb --offline --no-build -p gateway
else
    echo "cargo-deb is not installed: binaries built, no package (deploy/README.md, Offline install)"
fi
