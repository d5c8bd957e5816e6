#!/usr/bin/env bash
# Builds the Debian package `pos` from a release build, installs it on this machine, checks what an
# operator relies on, serves a gateway from the installed files, and removes the package again.
# Needs root (dpkg, setpriv) and cargo-deb (`cargo install cargo-deb --locked --version 2.7.0`). CI runs it.
#
#   deploy/debian/test.sh
#
# Cost: a release build of gateway, counterd and reconcile (measured on two busy cores: 26 minutes
# from an empty release cache, 5 minutes after a commit) and about a minute for the rest; with
# POS_DEB_PROFILE=dev (as CI runs it, after the tests built those binaries) only the minute.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$repo"
work="$(mktemp -d)"
gateway_pid=""
cleanup() {
    [[ -n "$gateway_pid" ]] && kill "$gateway_pid" 2>/dev/null || true
    dpkg -P pos >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT
chmod 0755 "$work"
fail() { echo "FAIL  $*" >&2; exit 1; }
pass() { echo "ok    $*"; }

commit="${POS_BUILD_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
export POS_BUILD_COMMIT="$commit"
# POS_DEB_PROFILE=dev packages debug binaries (CI, where the tests have just built them; cargo-deb
# warns that it is meant for releases); the default is the release build a city installs.
profile="${POS_DEB_PROFILE:-release}"
if [[ "$profile" == dev ]]; then
    # The binaries `cargo test --workspace` built (a build of just these packages would resolve
    # features without the tests' and rebuild much of the workspace for nothing).
    bin_dir="$(cargo metadata --format-version 1 --no-deps --locked | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')/debug"
    for binary in gateway counterd reconcile; do
        [[ -x "$bin_dir/$binary" ]] || fail "$bin_dir/$binary is not built: run cargo test --workspace first"
    done
else
    cargo build --profile "$profile" --locked -p gateway -p device-drivers -p reconciler --bins
fi
cargo deb -p gateway --no-build --profile "$profile" --output "$work/"
deb="$(ls "$work"/pos_*.deb)"
pass "built $(basename "$deb") ($(du -h "$deb" | cut -f1))"

contents="$(dpkg-deb --contents "$deb")"
for path in ./usr/bin/gateway ./usr/bin/counterd ./usr/bin/reconcile \
    ./lib/systemd/system/pos-gateway.service ./lib/systemd/system/counterd.service \
    ./usr/share/doc/pos/examples/city.toml ./usr/share/doc/pos/examples/counterd.toml \
    ./usr/share/doc/pos/prometheus/alerts.yml ./usr/share/doc/pos/README.md; do
    grep -q " ${path#./}\$" <<<"$contents" || fail "the package lacks $path"
done
pass "the package holds the binaries, both units, the examples and the monitoring files"

# A journal left from an earlier installation must survive every step below.
install -d /var/lib/pos
echo "the city's records" >/var/lib/pos/kept-by-test
dpkg -i "$deb" >/dev/null || fail "dpkg -i"
pass "installed"

for binary in gateway counterd reconcile; do
    line="$("/usr/bin/$binary" --version)"
    [[ "$line" == "$binary 0."*"(commit $commit)" ]] || fail "$binary --version says: $line"
done
pass "each installed binary names the commit $commit"

getent passwd pos >/dev/null || fail "no user pos"
getent passwd counterd >/dev/null || fail "no user counterd"
if getent group dialout >/dev/null; then
    id -nG counterd | tr ' ' '\n' | grep -qx dialout || fail "counterd is not in dialout"
fi
[[ "$(stat -c '%U:%G %a' /etc/pos)" == "root:pos 750" ]] || fail "/etc/pos is $(stat -c '%U:%G %a' /etc/pos)"
[[ "$(stat -c '%U:%G %a' /etc/counterd)" == "root:counterd 750" ]] || fail "/etc/counterd is $(stat -c '%U:%G %a' /etc/counterd)"
pass "users pos and counterd (in dialout), /etc/pos and /etc/counterd root-owned 0750"

if command -v systemd-analyze >/dev/null 2>&1; then
    output="$(systemd-analyze verify /lib/systemd/system/pos-gateway.service /lib/systemd/system/counterd.service 2>&1)"
    [[ -z "$output" ]] || fail "systemd-analyze verify: $output"
    pass "the installed units verify"
fi

# Serve from the installed files as the unit would: user pos, the example configuration with
# development certificates (the acquirers are absent, so the node is degraded, not unready).
/usr/bin/gateway dev-tls --out "$work/tls" >/dev/null
sed -e "s#../../demo-data/tls#$work/tls#g" -e 's#listen = "127.0.0.1:8583"#listen = "127.0.0.1:0"#' \
    /usr/share/doc/pos/examples/city.toml >"$work/city.toml"
chmod 0644 "$work/city.toml" "$work/tls/"*
install -d -o pos -g pos "$work/state"
# setpriv execs the gateway itself (runuser would stay between, catching the signal).
POS_DATABASE_URL="sqlite://$work/state/journal.db" setpriv --reuid=pos --regid=pos --init-groups -- \
    /usr/bin/gateway serve --config "$work/city.toml" --listen 127.0.0.1:0 >"$work/stdout" 2>"$work/stderr" &
gateway_pid=$!
for _ in $(seq 1 100); do
    grep -q '^listening on ' "$work/stdout" 2>/dev/null && break
    kill -0 "$gateway_pid" 2>/dev/null || fail "the gateway stopped: $(cat "$work/stderr")"
    sleep 0.1
done
address="$(sed -n 's/^listening on //p' "$work/stdout")"
[[ -n "$address" ]] || fail "the gateway did not announce its address"
ready="$(curl -s "http://$address/readyz")"
[[ "$ready" == '{"status":"degraded"}' ]] || fail "/readyz answered $ready"
[[ "$(stat -c '%U' "$work/state/journal.db")" == pos ]] || fail "the journal is not pos's"
kill -TERM "$gateway_pid"
wait "$gateway_pid" || fail "the gateway did not stop cleanly on SIGTERM"
gateway_pid=""
pass "the installed gateway serves as pos (readyz: degraded, the acquirers being absent) and stops on SIGTERM"

dpkg -P pos >/dev/null || fail "dpkg -P"
[[ ! -e /usr/bin/gateway ]] || fail "/usr/bin/gateway left after purge"
[[ -f /var/lib/pos/kept-by-test ]] || fail "purging the package deleted /var/lib/pos"
rm -f /var/lib/pos/kept-by-test
pass "purged: the binaries are gone, /var/lib/pos is kept"
echo "package test passed"
