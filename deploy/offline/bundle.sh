#!/usr/bin/env bash
# Makes the offline source bundle, on a machine that reaches the crate registry, for a build
# inside the municipal network (LGWAN), which reaches none: the repository's tracked files, every
# crate the lockfile names (`cargo vendor`), a `.cargo/config.toml` that points cargo at them, and
# the commit (for `--version`).
#
#   deploy/offline/bundle.sh OUT.tar.gz
#
# Then carry OUT.tar.gz in (with its SHA-256, printed last), unpack it, and run
# deploy/offline/build.sh in it. Size: about 60 MB compressed (mostly the vendored crates).
set -euo pipefail
out="$(realpath -m "${1:?usage: deploy/offline/bundle.sh OUT.tar.gz}")"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

bash "$repo/.ci/standalone-copy" "$stage/tree/pos" >/dev/null
cd "$stage/tree/pos"
git -C "$repo" rev-parse HEAD >BUILD_COMMIT
mkdir -p .cargo
# cargo prints the source replacement that makes the vendored crates the registry.
cargo vendor --locked --versioned-dirs vendor >.cargo/config.toml
tar -C "$stage/tree" -czf "$out" pos
echo "bundle: $out ($(du -h "$out" | cut -f1)), commit $(cat BUILD_COMMIT)"
sha256sum "$out"
