#!/usr/bin/env bash
# `aimeter ask` end to end over the client: the answer on stdout (streamed
# or whole, the same text), one summary line on stderr, --json, a prompt on
# stdin, the provider's message and exit 1 on failure (authentication and
# spend limits not retried, server errors retried as configured), exit 2 on
# usage errors, and the API key never shown. Runs on the in-process
# simulator (--sim) and on `aimeter sim` through ANTHROPIC_BASE_URL.
set -uo pipefail
bin=${AIMETER_BIN:?AIMETER_BIN must name the aimeter binary}
tmp=$(mktemp -d)
simpid=
cleanup() {
	[ -n "$simpid" ] && kill "$simpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

export HOME=$tmp XDG_CONFIG_HOME=$tmp/config XDG_DATA_HOME=$tmp/data
unset ANTHROPIC_API_KEY ANTHROPIC_BASE_URL AIMETER_DB
# A quick simulator: no time to first byte, no stream pacing.
printf '{"sim": {"latency_ms": 0, "tokens_per_second": 0}}\n' >"$tmp/quick.json"
export AIMETER_CONFIG=$tmp/quick.json
key=sk-ant-api03-cli-test-secret-key-7f3a
summary_re='^claude-haiku-4-5-20251001 · [^·]+ · [0-9]+ in / [0-9]+ out · \$[0-9.]+ · [0-9.]+s$'

# ask ARGS...: runs aimeter ask; stdout in $tmp/out, stderr in $tmp/err, status in $rc.
ask() {
	"$bin" ask "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

ask --sim --max-tokens 12 "What is a token bucket?"
[ "$rc" -eq 0 ] || fail "streamed ask exited $rc: $(cat "$tmp/err")"
[ -s "$tmp/out" ] || fail "no answer on stdout"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "stderr is not one line: $(cat "$tmp/err")"
grep -Eq "$summary_re" "$tmp/err" || fail "summary line: $(cat "$tmp/err")"
grep -q ' / 12 out · ' "$tmp/err" || fail "--max-tokens not applied: $(cat "$tmp/err")"
streamed=$(cat "$tmp/out")

ask --sim --no-stream --no-cache --max-tokens 12 "What is a token bucket?"
[ "$rc" -eq 0 ] || fail "--no-stream exited $rc: $(cat "$tmp/err")"
[ "$(cat "$tmp/out")" = "$streamed" ] || fail "streamed and whole answers differ"

echo "Is a token bucket fair?" | "$bin" ask --sim --max-tokens 9 - >"$tmp/out" 2>"$tmp/err" ||
	fail "stdin prompt failed: $(cat "$tmp/err")"
grep -Eq "$summary_re" "$tmp/err" || fail "stdin summary: $(cat "$tmp/err")"
# A NUL byte on stdin is refused with a message, not cut at: nothing is sent.
printf 'first half\0second half' | "$bin" ask --sim - >"$tmp/out" 2>"$tmp/err"
rc=$?
[ "$rc" -eq 2 ] || fail "a NUL on stdin exited $rc, want 2: $(cat "$tmp/err")"
grep -q 'NUL byte (at byte 10)' "$tmp/err" || fail "NUL on stdin: $(cat "$tmp/err")"
[ ! -s "$tmp/out" ] || fail "a prompt with a NUL was answered: $(cat "$tmp/out")"

ask --sim --json --max-tokens 5 --model claude-opus-4-5 --system "Be brief." "hi there"
[ "$rc" -eq 0 ] || fail "--json exited $rc: $(cat "$tmp/err")"
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "--json is not one line"
for field in '"model":"claude-opus-4-5-20251101"' '"output_tokens":5' '"cost_usd":"0.'; do
	grep -qF "$field" "$tmp/out" || fail "--json lacks $field: $(cat "$tmp/out")"
done

# Failures: the provider's message and exit 1; final ones are not retried.
ask --sim --model sim-fault-401 "hi"
[ "$rc" -eq 1 ] || fail "401 exited $rc"
grep -q 'x-api-key.*HTTP 401' "$tmp/err" || fail "401: $(cat "$tmp/err")"
grep -q retry "$tmp/err" && fail "an authentication failure was retried: $(cat "$tmp/err")"
ask --sim --model sim-fault-user_spend_limit "hi"
[ "$rc" -eq 1 ] || fail "user spend limit exited $rc"
grep -q 'You have reached your specified API usage limits.*HTTP 400' "$tmp/err" ||
	fail "user spend limit: $(cat "$tmp/err")"
grep -q retry "$tmp/err" && fail "a spend limit was retried: $(cat "$tmp/err")"
printf '{"client": {"max_retries": 1}, "sim": {"latency_ms": 0}}\n' >"$tmp/one-retry.json"
ask --config "$tmp/one-retry.json" --sim --no-stream --model sim-fault-500 "hi"
[ "$rc" -eq 1 ] || fail "500 exited $rc"
[ "$(grep -c 'retry' "$tmp/err")" -eq 1 ] || fail "500 not retried once: $(cat "$tmp/err")"
grep -q 'HTTP 500' "$tmp/err" || fail "500: $(cat "$tmp/err")"

# Usage errors exit 2.
for args in "" "--max-tokens 0 hi" "--max-tokens x hi" "one two" "--bogus hi"; do
	# shellcheck disable=SC2086
	ask $args
	[ "$rc" -eq 2 ] || fail "'ask $args' exited $rc, want 2"
done

# Through the environment, against `aimeter sim`.
"$bin" sim --port 0 >"$tmp/sim.out" 2>"$tmp/sim.err" &
simpid=$!
url=
for _ in $(seq 1 100); do
	url=$(head -n1 "$tmp/sim.out" 2>/dev/null)
	[ -n "$url" ] && break
	sleep 0.05
done
[[ $url =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "aimeter sim printed no URL"
ANTHROPIC_BASE_URL=$url ANTHROPIC_API_KEY=$key "$bin" ask --max-tokens 7 "hi" \
	>"$tmp/out" 2>"$tmp/err" || fail "ask via ANTHROPIC_BASE_URL: $(cat "$tmp/err")"
grep -q ' / 7 out · ' "$tmp/err" || fail "via env: $(cat "$tmp/err")"
ANTHROPIC_BASE_URL=$url ANTHROPIC_API_KEY=$key "$bin" ask --model sim-fault-401 "hi" \
	>"$tmp/out" 2>"$tmp/err"
grep -q 'HTTP 401' "$tmp/err" || fail "401 via env: $(cat "$tmp/err")"
grep -rqF "$key" "$tmp/out" "$tmp/err" "$tmp/data" && fail "the API key was shown or stored"

# No key (unset or empty): the built-in simulator, said on stderr, its rows
# marked simulated and listed apart by report; with an endpoint of one's
# own configured, a refusal instead of a silent simulator.
for empty in unset empty; do
	if [ $empty = unset ]; then ask --max-tokens 4 "no key"; else ANTHROPIC_API_KEY= ask --max-tokens 4 "no key"; fi
	[ "$rc" -eq 0 ] || fail "ask without a key ($empty) exited $rc: $(cat "$tmp/err")"
	grep -q 'no API key (ANTHROPIC_API_KEY is empty or unset): using the built-in simulator' \
		"$tmp/err" || fail "no word of the simulator ($empty): $(cat "$tmp/err")"
done
"$bin" report >"$tmp/report" 2>&1 || fail "report: $(cat "$tmp/report")"
grep -q '^simulated:claude-haiku-4-5-20251001 ' "$tmp/report" || fail "simulated rows not apart: $(cat "$tmp/report")"
grep -q '^Simulated: .* never paid for' "$tmp/report" || fail "report: $(cat "$tmp/report")"
ANTHROPIC_BASE_URL=$url ask "no key"
[ "$rc" -eq 1 ] || fail "no key with ANTHROPIC_BASE_URL exited $rc"
grep -q "no API key (ANTHROPIC_API_KEY is empty or unset) for $url" "$tmp/err" ||
	fail "no key with ANTHROPIC_BASE_URL: $(cat "$tmp/err")"
# --tag: the call is counted under the tag; a tag's own daily limit blocks
# that tag only (exit 3, the reason naming it) while other tags are answered;
# a bad tag is a usage error.
printf '{"sim": {"latency_ms": 0, "tokens_per_second": 0}, "db": "%s",
  "budget": {"tags": {"capped": "0.000001"}}}\n' "$tmp/tags.db" >"$tmp/tags.json"
AIMETER_CONFIG=$tmp/tags.json ask --sim --tag evals "count me"
[ "$rc" -eq 0 ] || fail "ask --tag exited $rc: $(cat "$tmp/err")"
AIMETER_CONFIG=$tmp/tags.json ask --sim --tag capped "too dear"
[ "$rc" -eq 3 ] || fail "ask over its tag's limit exited $rc: $(cat "$tmp/err")"
grep -q "tag capped's daily limit \$0.000001" "$tmp/err" || fail "the reason: $(cat "$tmp/err")"
AIMETER_CONFIG=$tmp/tags.json ask --sim --tag other "still fine"
[ "$rc" -eq 0 ] || fail "another tag exited $rc: $(cat "$tmp/err")"
[ "$(sqlite3 "$tmp/tags.db" "SELECT group_concat(tag, ',') FROM (SELECT tag FROM usage_events ORDER BY id)")" = evals,other ] ||
	fail "tags in the ledger: $(sqlite3 "$tmp/tags.db" 'SELECT tag FROM usage_events')"
AIMETER_CONFIG=$tmp/tags.json ask --sim --tag 'a b' "bad"
[ "$rc" -eq 2 ] || fail "a bad tag exited $rc"
grep -q -- "--tag: bad tag" "$tmp/err" || fail "bad tag message: $(cat "$tmp/err")"
echo "test_ask: ok"
