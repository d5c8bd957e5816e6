#!/usr/bin/env bash
# Basic validity checks of the files in deploy/, with tools a Debian machine has or gets from apt:
#   - systemd-analyze verify on the units (package systemd; skipped if absent)
#   - YAML parsing of the Prometheus files with PyYAML (apt-get install -y python3-yaml,
#     or pip install pyyaml), and every metric the alert rules use must be one the gateway emits
#   - promtool check rules / test rules (every alert driven across its threshold) / check config
#     (apt-get install -y prometheus; skipped if absent, a failure with POS_DEPLOY_CHECK_STRICT=1)
#   - bash -n on the shell scripts
# Where this was written (Debian 12), PyYAML was already present (python3-yaml 6.0 from apt);
# promtool came from `apt-get install -y --no-install-recommends prometheus`.
#
#   deploy/check.sh        exit status 0 when every check that could run passed
set -euo pipefail

deploy="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$deploy")"
failures=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

pass() { echo "ok    $*"; }
fail() { echo "FAIL  $*"; failures=$((failures + 1)); }
skip() { echo "skip  $*"; }
# A check CI must not skip (POS_DEPLOY_CHECK_STRICT=1, as .ci/run sets it) fails there instead.
required() { if [[ "${POS_DEPLOY_CHECK_STRICT:-0}" == 1 ]]; then fail "$*"; else skip "$*"; fi; }

# --- systemd units ---------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
    for unit in "$deploy"/systemd/*.service "$deploy"/systemd/*.timer; do
        name="$(basename "$unit")"
        # A timer names no binary: its service's (verify looks for the service beside the timer).
        service="$unit"
        [[ "$name" == *.timer ]] && service="${unit%.timer}.service"
        binary="$(sed -n 's#^ExecStart=\([^ ]*\).*#\1#p' "$service")"
        checked="$unit"
        if [[ ! -x "$binary" || "$name" == *.timer ]]; then
            # verify refuses a unit whose ExecStart binary is missing: check a copy pointing at a stub.
            if [[ ! -x "$binary" ]]; then
                printf '#!/bin/sh\n' >"$work/$(basename "$binary")" && chmod +x "$work/$(basename "$binary")"
                echo "note  $binary is not installed: verifying $name with a stub binary"
            fi
            for file in "$unit" "$service"; do
                if [[ -x "$binary" ]]; then cp "$file" "$work/"; else sed "s#$binary#$work/$(basename "$binary")#g" "$file" >"$work/$(basename "$file")"; fi
            done
            checked="$work/$name"
        fi
        # Unknown keys are only warnings (exit 0), so any output counts as a failure.
        if output="$(systemd-analyze verify "$checked" 2>&1)" && [[ -z "$output" ]]; then
            pass "systemd-analyze verify systemd/$name"
        else
            fail "systemd-analyze verify systemd/$name:"$'\n'"$output"
        fi
    done
else
    skip "systemd-analyze not found (apt-get install -y systemd): units not verified"
fi

# --- Prometheus YAML ------------------------------------------------------------------------
if python3 -c 'import yaml' 2>/dev/null; then
    python3 - "$deploy/prometheus" "$repo/gateway/src" <<'PY' || failures=$((failures + 1))
import pathlib, re, sys, yaml

prometheus, source = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
bad = 0
docs = {}
for path in sorted(prometheus.glob("*.yml")):
    try:
        docs[path.name] = yaml.safe_load(path.read_text(encoding="utf-8"))
        print(f"ok    YAML parses: prometheus/{path.name}")
    except yaml.YAMLError as error:
        print(f"FAIL  YAML: prometheus/{path.name}: {error}")
        bad += 1

scrape = docs.get("scrape.yml") or {}
jobs = {job.get("job_name"): job for job in scrape.get("scrape_configs", [])}
job = jobs.get("pos-gateway")
if job and job.get("metrics_path") == "/metrics" and job.get("authorization", {}).get("type") == "Bearer":
    print("ok    scrape.yml has job pos-gateway on /metrics with a bearer token")
else:
    print("FAIL  scrape.yml: job pos-gateway with metrics_path /metrics and Bearer authorization expected")
    bad += 1

# Every metric in the alert expressions must be emitted by the gateway's code.
emitted = set()
for rs in source.rglob("*.rs"):
    emitted |= set(re.findall(r'metrics::(?:counter|histogram|gauge)!\(\s*"([a-z_:][a-z0-9_:]*)"', rs.read_text(encoding="utf-8")))
alerts = docs.get("alerts.yml") or {}
rules = [rule for group in alerts.get("groups", []) for rule in group.get("rules", [])]
if not rules:
    print("FAIL  alerts.yml holds no rules")
    bad += 1
for rule in rules:
    expr = re.sub(r'\{[^}]*\}|"[^"]*"', "", str(rule.get("expr", "")))
    used = set(re.findall(r"\b([a-z_][a-z0-9_]*_(?:total|seconds(?:_bucket|_sum|_count)?))\b", expr))
    unknown = {name for name in used if re.sub(r"_(bucket|sum|count)$", "", name) not in emitted}
    if unknown:
        print(f"FAIL  alert {rule.get('alert')}: metrics the gateway does not emit: {sorted(unknown)}")
        bad += 1
if not bad:
    print(f"ok    {len(rules)} alert rules use only metrics the gateway emits")
sys.exit(1 if bad else 0)
PY
else
    fail "PyYAML is missing: apt-get install -y python3-yaml (or pip install pyyaml), then re-run"
fi

if command -v promtool >/dev/null 2>&1; then
    if output="$(promtool check rules "$deploy/prometheus/alerts.yml" 2>&1)"; then
        pass "promtool check rules prometheus/alerts.yml"
    else
        fail "promtool check rules prometheus/alerts.yml:"$'\n'"$output"
    fi
    # Each alert driven across its threshold: alerts.test.yml.
    if output="$(cd "$deploy/prometheus" && promtool test rules alerts.test.yml 2>&1)"; then
        pass "promtool test rules prometheus/alerts.test.yml"
    else
        fail "promtool test rules prometheus/alerts.test.yml:"$'\n'"$output"
    fi
    # check config wants the credentials and rule files to exist: point them at stand-ins.
    : >"$work/token"
    sed -e "s#/etc/prometheus/pos-gateway.token#$work/token#" \
        -e "s#/etc/prometheus/rules/pos-gateway-alerts.yml#$deploy/prometheus/alerts.yml#" \
        "$deploy/prometheus/scrape.yml" >"$work/prometheus.yml"
    if output="$(promtool check config "$work/prometheus.yml" 2>&1)"; then
        pass "promtool check config prometheus/scrape.yml"
    else
        fail "promtool check config prometheus/scrape.yml:"$'\n'"$output"
    fi
else
    required "promtool not found (apt-get install -y prometheus): PromQL not checked"
fi

# --- shell scripts --------------------------------------------------------------------------
while IFS= read -r -d '' script; do
    if output="$(bash -n "$script" 2>&1)"; then
        pass "bash -n ${script#"$deploy/"}"
    else
        fail "bash -n ${script#"$deploy/"}:"$'\n'"$output"
    fi
done < <(find "$deploy" -name '*.sh' -type f -print0 | sort -z)

if ((failures > 0)); then
    echo "$failures check(s) failed"
    exit 1
fi
echo "all checks passed"
