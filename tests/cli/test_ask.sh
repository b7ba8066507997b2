#!/usr/bin/env bash
# `aimeter ask`: answers on stdout (streamed or whole), one summary line on
# stderr, --json, a prompt from stdin, exit 1 with the provider's message
# (authentication and spend limits not retried, overload retried), exit 2 on
# usage errors, and the API key never shown. Runs against the in-process
# simulator (--sim) and against `aimeter sim` through ANTHROPIC_BASE_URL.
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
unset ANTHROPIC_API_KEY ANTHROPIC_BASE_URL AIMETER_CONFIG AIMETER_DB
key=sk-ant-api03-cli-test-secret-key-7f3a
summary_re='^claude-haiku-4-5-20251001 · [a-z -]+ · [0-9]+ in \+ [0-9]+ out tokens · \$[0-9.]+ \(simulator\) · [0-9.]+ s$'

# ask ARGS...: runs aimeter ask, stdout to $tmp/out, stderr to $tmp/err, status in $rc.
ask() {
	"$bin" ask "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

ask --sim --max-tokens 12 "What is a token bucket?"
[ "$rc" -eq 0 ] || fail "streamed ask exited $rc: $(cat "$tmp/err")"
[ -s "$tmp/out" ] || fail "no answer on stdout"
[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "stderr is not one line: $(cat "$tmp/err")"
grep -Eq "$summary_re" "$tmp/err" || fail "summary line: $(cat "$tmp/err")"
grep -q ' 12 out tokens' "$tmp/err" || fail "max-tokens not applied: $(cat "$tmp/err")"
streamed=$(cat "$tmp/out")

ask --sim --no-stream --max-tokens 12 "What is a token bucket?"
[ "$rc" -eq 0 ] || fail "--no-stream exited $rc"
[ "$(cat "$tmp/out")" = "$streamed" ] || fail "streamed and whole answers differ"

echo "What is a token bucket?" | "$bin" ask --sim --max-tokens 12 - >"$tmp/out" 2>"$tmp/err" ||
	fail "stdin prompt failed: $(cat "$tmp/err")"
grep -Eq "$summary_re" "$tmp/err" || fail "stdin summary: $(cat "$tmp/err")"

ask --sim --json --max-tokens 5 --model claude-opus-4-5 --system "Be brief." "hi"
[ "$rc" -eq 0 ] || fail "--json exited $rc"
[ "$(wc -l <"$tmp/out")" -eq 1 ] || fail "--json is not one line"
for field in '"status":"ok"' '"model":"claude-opus-4-5-20251101"' '"output_tokens":5' \
	'"cost_usd":"0.' '"request_id":"req_'; do
	grep -qF "$field" "$tmp/out" || fail "--json lacks $field: $(cat "$tmp/out")"
done

# Failures: the provider's message, exit 1; final ones are not retried.
ask --sim --model sim-fault-401 "hi"
[ "$rc" -eq 1 ] || fail "401 exited $rc"
grep -q '^aimeter ask: authentication failed: .*HTTP 401' "$tmp/err" || fail "401: $(cat "$tmp/err")"
grep -q retry "$tmp/err" && fail "an authentication failure was retried"
ask --sim --model sim-fault-user_spend_limit "hi"
[ "$rc" -eq 1 ] || fail "user spend limit exited $rc"
grep -q 'spend limit reached: You have reached your specified API usage limits' "$tmp/err" ||
	fail "user spend limit: $(cat "$tmp/err")"
grep -q retry "$tmp/err" && fail "a spend limit was retried"
ask --sim --no-stream --model sim-fault-529 "hi"
[ "$rc" -eq 1 ] || fail "529 exited $rc"
[ "$(grep -c '^aimeter ask: overloaded (Overloaded); retry [12] of 2 in ' "$tmp/err")" -eq 2 ] ||
	fail "529 not retried twice: $(cat "$tmp/err")"
grep -q '^aimeter ask: overloaded: Overloaded (HTTP 529' "$tmp/err" || fail "529: $(cat "$tmp/err")"

# No key for the real API: said plainly, nothing sent.
ask "hi"
[ "$rc" -eq 1 ] || fail "no key exited $rc"
grep -q 'no API key' "$tmp/err" || fail "no key: $(cat "$tmp/err")"

# Usage errors exit 2.
for args in "" "--max-tokens 0 hi" "--max-tokens x hi" "one two" "--bogus hi"; do
	# shellcheck disable=SC2086
	ask $args
	[ "$rc" -eq 2 ] || fail "'ask $args' exited $rc, want 2"
done

# Through the environment, against `aimeter sim` with a required key.
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
grep -q ' 7 out tokens' "$tmp/err" || fail "via env: $(cat "$tmp/err")"
grep -q simulator "$tmp/err" && fail "an external server was called the simulator"
ANTHROPIC_BASE_URL=$url ANTHROPIC_API_KEY=$key "$bin" ask --model sim-fault-401 "hi" \
	>"$tmp/out" 2>"$tmp/err"
grep -qF "$key" "$tmp/out" "$tmp/err" && fail "the API key was shown"
grep -q 'authentication failed' "$tmp/err" || fail "401 via env: $(cat "$tmp/err")"
echo "test_ask: ok"
