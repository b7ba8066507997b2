#!/usr/bin/env bash
# aimeter pricing: listing, flags, exit codes and LiteLLM import, on the real
# binary with private HOME/XDG directories.
set -euo pipefail

bin=${AIMETER_BIN:?AIMETER_BIN must name the aimeter binary}
src=${AIMETER_SOURCE_DIR:?AIMETER_SOURCE_DIR must name the source tree}
fixture="$src/tests/fixtures/litellm/model_prices_and_context_window.json"
edge="$src/tests/fixtures/litellm/edge_cases.json"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data"
unset AIMETER_DATA_DIR
mkdir -p "$HOME"
override="$XDG_CONFIG_HOME/aimeter/pricing.json"

fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# run EXPECTED_RC ARGS...: runs aimeter, keeps stdout/stderr in $out/$err.
run() {
	local want=$1
	shift
	set +e
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	set -e
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
	[ "$rc" = "$want" ] || fail "aimeter $* exited $rc, want $want (stderr: $err)"
}

has() { grep -qF -- "$2" <<<"$1" || fail "missing '$2' in: $1"; }
lacks() { ! grep -qF -- "$2" <<<"$1" || fail "unexpected '$2' in: $1"; }

# --- listing ---------------------------------------------------------------
run 0 pricing
has "$out" "claude-opus-4-5-20251101"
has "$out" "claude-3-haiku-20240307"
has "$out" "override: (none)"
has "$out" "claude-opus-4-5          -> claude-opus-4-5-20251101"
[ -z "$err" ] || fail "listing wrote to stderr: $err"
# Opus 4.5 at $5/$25 with its cache prices, Haiku 4.5 at $1/$5.
grep -Eq '^claude-opus-4-5-20251101 +5\.00 +25\.00 +6\.25 +10\.00 +0\.50 +-50% ' <<<"$out" ||
	fail "opus 4.5 row: $(grep opus-4-5-2025 <<<"$out")"
grep -Eq '^claude-haiku-4-5-20251001 +1\.00 +5\.00 ' <<<"$out" || fail "haiku 4.5 row"
grep -Eq '^claude-sonnet-4-5-20250929 .* >200k: 6\.00/22\.50 +sonnet-4 ' <<<"$out" ||
	fail "sonnet 4.5 long context"
grep -Eq '^claude-opus-4-20250514 .* 2026-05-14 +shipped$' <<<"$out" || fail "deprecation"
# Columns line up: SOURCE starts at the same offset on every table row.
header=$(grep '^MODEL ' <<<"$out")
col=$(awk -v h="$header" 'BEGIN { print index(h, "SOURCE") }')
while IFS= read -r line; do
	[ "${line:col-1:7}" = "shipped" ] || fail "misaligned row: $line"
done < <(grep -E '^claude-' <<<"$out")

run 0 pricing --json
has "$out" '"model": "claude-haiku-4-5"'
has "$out" '"alias_of": "claude-haiku-4-5-20251001"'
has "$out" '"input": "5"'
has "$out" '"cache_read": "0.03"'
has "$out" '"above_input_tokens": 200000'
has "$out" '"override": null'

run 0 pricing --help
has "$out" "usage: aimeter pricing"
has "$out" "--dry-run"
run 0 pricing --db "$tmp/x.db"

# --- usage errors: one line naming the culprit, exit 2 ---------------------
run 2 pricing --bogus
has "$err" "'--bogus'"
[ "$(wc -l <<<"$err")" = 1 ] || fail "more than one line: $err"
run 2 pricing -x
has "$err" "'-x'"
run 2 pricing --config
has "$err" "--config"
run 2 pricing --db ""
has "$err" "--db"
run 2 pricing frobnicate
has "$err" "'frobnicate'"
run 2 pricing import
has "$err" "FILE"
run 2 pricing import a b
has "$err" "'b'"
run 2 pricing --dry-run
has "$err" "--dry-run"

# --- failures: exit 1 with the reason --------------------------------------
run 1 pricing import "$tmp/absent.json"
has "$err" "$tmp/absent.json"
AIMETER_DATA_DIR="$tmp/nowhere" run 1 pricing
has "$err" "$tmp/nowhere/pricing.json"

# --- import ------------------------------------------------------------------
run 0 pricing import "$fixture" --dry-run
has "$out" "26 anthropic entries"
has "$out" "6 added, 0 changed, 20 unchanged, 0 skipped"
has "$out" "claude-mythos-5"
has "$out" "warning: LiteLLM's 1h cache-write price \$6/MTok"
has "$out" "dry run"
[ ! -e "$override" ] || fail "--dry-run wrote $override"

run 0 pricing import "$fixture"
has "$out" "wrote $override"
[ -f "$override" ] || fail "no override written"
[ "$(stat -c %a "$override")" = 600 ] || fail "override mode $(stat -c %a "$override")"
[ "$(stat -c %a "$(dirname "$override")")" = 700 ] || fail "override dir mode"

run 0 pricing
has "$out" "override: $override"
grep -Eq '^claude-mythos-5 +10\.00 +50\.00 +12\.50 +20\.00 +1\.00 .* override$' <<<"$out" ||
	fail "imported mythos 5 row: $(grep mythos-5 <<<"$out")"
grep -Eq '^claude-3-opus-20240229 +15\.00 +75\.00 +18\.75 +30\.00 ' <<<"$out" ||
	fail "claude-3-opus 1h must be 30, not LiteLLM's 6"

run 0 pricing import "$fixture"
has "$out" "0 added, 0 changed, 26 unchanged"
has "$out" "nothing to write"

run 0 pricing import "$edge" --json
has "$out" '"status": "changed"'
has "$out" '"detail": "input: 1 -> 1.1"'
has "$out" '"written": "'"$override"'"'
run 0 pricing --json
has "$out" '"input": "1.1"'

# A broken override is reported with file, line and column.
printf '{\n  "version": 1,\n  "models": {,}\n}\n' >"$override"
run 1 pricing
has "$err" "$override:3:"

# --config: the override lives beside the config file.
mkdir -p "$tmp/alt"
run 0 pricing import "$edge" --config "$tmp/alt/config.json"
[ -f "$tmp/alt/pricing.json" ] || fail "--config did not place the override beside it"
run 0 pricing --config "$tmp/alt/config.json"
has "$out" "override: $tmp/alt/pricing.json"
# ... and beside $AIMETER_CONFIG, the config every command then reads.
AIMETER_CONFIG="$tmp/alt/config.json" run 0 pricing
has "$out" "override: $tmp/alt/pricing.json"
# pricing_file in the config names the override explicitly.
mkdir -p "$tmp/own"
cp "$tmp/alt/pricing.json" "$tmp/own/prices.json"
printf '{"pricing_file": "%s"}\n' "$tmp/own/prices.json" >"$tmp/own/config.json"
run 0 pricing --config "$tmp/own/config.json"
has "$out" "override: $tmp/own/prices.json"

if [ "$fails" -ne 0 ]; then
	echo "test_pricing.sh: $fails failure(s)" >&2
	exit 1
fi
echo "test_pricing.sh: all passed"
