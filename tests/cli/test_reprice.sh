#!/usr/bin/env bash
# aimeter record with every billed dimension, and aimeter pricing reprice:
# a row recorded as "price ?" is priced once an override gives its price,
# and the totals move by exactly that row's cost; --all re-prices after a
# correction; the report names what changed per model and in total.
set -euo pipefail
bin=${AIMETER_BIN:?AIMETER_BIN must name the aimeter binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp/home XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config TZ=UTC0
unset AIMETER_CONFIG AIMETER_DATA_DIR
mkdir -p "$HOME"
db=$XDG_DATA_HOME/aimeter/aimeter.db
override=$XDG_CONFIG_HOME/aimeter/pricing.json

fail() { echo "FAIL: $*" >&2; exit 1; }
has() { [[ $1 == *"$2"* ]] || fail "expected '$2' in: $1"; }
total() { "$bin" report --since 2026-10-01 --until 2026-12-31 --json | python3 -c \
	'import json,sys; print(json.load(sys.stdin)["total"]["cost_usd"])'; }

# --- record: the rates of the day, and every dimension --------------------
out=$("$bin" record --model claude-sonnet-5-5 --input 0 --output 0 --cache-read 1000000 \
	--at 2026-10-06T23:59:59Z)
has "$out" 'cost $0.2'
out=$("$bin" record --model claude-sonnet-5-5 --input 0 --output 0 --cache-read 1000000 \
	--at 2026-10-07T00:00:00Z)
has "$out" 'cost $0.1'
# Opus 5.5, fast and in the US with 3 searches: 95000 µ$ × 2 × 1.1 + $0.03
out=$("$bin" record --model claude-opus-5-5 --input 10000 --output 2000 --cache-write-5m 1000 \
	--cache-write-1h 1000 --cache-read 10000 --speed fast --geo us --web-search 3 \
	--at 2026-11-02T10:00:00Z)
has "$out" 'cost $0.239'
[ "$(sqlite3 "$db" "SELECT speed || ' ' || inference_geo || ' ' || web_search_requests \
	FROM usage_events WHERE model = 'claude-opus-5-5'")" = "fast us 3" ] ||
	fail "the row does not keep what was served"
# the unknown model: price ?
out=$("$bin" record --model claude-mythos-5-2 --input 1000000 --output 1000000 \
	--at 2026-11-03T10:00:00Z)
has "$out" 'price unknown'
before=$(total)
[ "$before" = "0.539" ] || fail "total before: $before"

# --- usage errors ------------------------------------------------------------
rc=0; "$bin" record --model claude-opus-5-5 --input 1 --output 1 --speed fast --batch \
	2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "fast with batch exited $rc"
rc=0; "$bin" record --model m --input 1 --output 1 --at tomorrow 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "--at tomorrow exited $rc"
rc=0; "$bin" pricing reprice --since 2026-13-01 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "--since 2026-13-01 exited $rc"
rc=0; "$bin" pricing --all 2>/dev/null || rc=$?
[ "$rc" = 2 ] || fail "--all without reprice exited $rc"

# --- the listing names what the ledger has seen without a price -------------
out=$("$bin" pricing)
has "$out" 'Seen in the ledger without a price'
has "$out" 'claude-mythos-5-2: 1 call, 1,000,000 input + 1,000,000 output tokens'
has "$out" 'aimeter pricing reprice'

# --- nothing to price yet ------------------------------------------------------
out=$("$bin" pricing reprice)
has "$out" '1 row still without a price'
[ "$(total)" = "$before" ] || fail "a reprice without a price moved the total"

# --- an override gives the price: exactly that row's cost is added ------------
mkdir -p "$(dirname "$override")"
cat >"$override" <<'JSON'
{"format": "aimeter-pricing", "version": 1, "unit": "USD per million tokens",
 "models": {"claude-mythos-5-2": {"input": "8", "output": "40"}}}
JSON
out=$("$bin" pricing reprice --dry-run)
has "$out" 'dry run'
[ "$(total)" = "$before" ] || fail "--dry-run wrote"
out=$("$bin" pricing reprice --since 2026-11-01 --until 2026-11-30)
has "$out" 'claude-mythos-5-2'
has "$out" '+$48'
after=$(total)
[ "$after" = "48.539" ] || fail "total after: $after (want 0.539 + 48)"
[ "$(sqlite3 "$db" "SELECT count(*) FROM usage_events WHERE price_known = 0")" = 0 ] ||
	fail "a row is still unknown"
out=$("$bin" pricing)
[[ $out != *'without a price'* ]] || fail "the listing still names unpriced models: $out"

# --- a correction: --all re-prices priced rows in the range --------------------
cat >"$override" <<'JSON'
{"format": "aimeter-pricing", "version": 1, "unit": "USD per million tokens",
 "models": {"claude-mythos-5-2": {"input": "8", "output": "40"},
            "claude-sonnet-5-5": {"cache_read": "0.05"}}}
JSON
json=$("$bin" pricing reprice --all --since 2026-10-07 --until 2026-10-07 --json)
python3 - "$json" <<'PY' || fail "reprice --all report: $json"
import json, sys
d = json.loads(sys.argv[1])
assert d["all"] is True, d
assert d["total"]["changed"] == 1, d
assert d["total"]["before_usd"] == "0.1" and d["total"]["after_usd"] == "0.05", d
assert [m["model"] for m in d["models"]] == ["claude-sonnet-5-5"], d
PY
[ "$(total)" = "48.489" ] || fail "total after the correction: $(total)"
echo "test_reprice.sh: ok"
