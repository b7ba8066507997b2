#!/usr/bin/env bash
# `aimeter sim`: prints its URL, answers over loopback, stops cleanly on
# SIGTERM and SIGINT, and rejects bad flags with exit status 2. Requests go
# through bash's /dev/tcp, so no curl binary is needed.
set -uo pipefail
bin=${AIMETER_BIN:?AIMETER_BIN must name the aimeter binary}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# start_sim NAME ARGS...: starts the sim, sets $url and $pid.
start_sim() {
	local name=$1; shift
	"$bin" sim --port 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	pids+=("$pid")
	url=
	for _ in $(seq 1 100); do
		url=$(head -n1 "$tmp/$name.out" 2>/dev/null)
		[ -n "$url" ] && break
		sleep 0.05
	done
	[[ $url =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "no URL printed ($url): $(cat "$tmp/$name.err")"
	[ "$(wc -l <"$tmp/$name.out")" -eq 1 ] || fail "more than one line on stdout"
}

# request URL PATH BODY [HEADER...]: prints the raw HTTP response.
request() {
	local u=$1 path=$2 body=$3; shift 3
	local hostport=${u#http://}
	local host=${hostport%:*} port=${hostport##*:}
	exec 3<>"/dev/tcp/$host/$port" || fail "cannot connect to $u"
	{
		printf 'POST %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n' "$path" "$hostport"
		printf 'content-type: application/json\r\nContent-Length: %d\r\n' "${#body}"
		for h in "$@"; do printf '%s\r\n' "$h"; done
		printf '\r\n%s' "$body"
	} >&3
	timeout 10 cat <&3
	exec 3<&-
}

body='{"model":"claude-haiku-4-5","max_tokens":16,"messages":[{"role":"user","content":"Hello"}]}'

# 1. answers, then stops cleanly on SIGTERM
start_sim a --seed 3
resp=$(request "$url" /v1/messages "$body" "x-api-key: k" "anthropic-version: 2023-06-01")
grep -q '^HTTP/1.1 200' <<<"$resp" || fail "expected 200, got: $resp"
grep -q '"model":"claude-haiku-4-5-20251001"' <<<"$resp" || fail "no dated model id: $resp"
grep -qi '^request-id: req_' <<<"$resp" || fail "no request-id header"
# the limits default to the config's sim.* section, announced on every answer
grep -qi '^anthropic-ratelimit-requests-limit: 1000\b' <<<"$resp" || fail "no default RPM header: $resp"
grep -qi '^anthropic-ratelimit-input-tokens-limit: 450000\b' <<<"$resp" || fail "no default ITPM header: $resp"
grep -qi '^anthropic-ratelimit-output-tokens-limit: 90000\b' <<<"$resp" || fail "no default OTPM header: $resp"
resp=$(request "$url" /v1/messages "$body" "anthropic-version: 2023-06-01")
grep -q '^HTTP/1.1 401' <<<"$resp" || fail "expected 401 without a key: $resp"
grep -q '"authentication_error"' <<<"$resp" || fail "no authentication_error: $resp"
kill -TERM "$pid"
wait "$pid"; rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGTERM"
grep -q 'stopped (2 requests, 1 ok' "$tmp/a.err" || fail "no summary: $(cat "$tmp/a.err")"

# 2. limits, --api-key and SIGINT
start_sim b --rpm 1 --api-key sk-cli-test --latency-ms 1
resp=$(request "$url" /v1/messages "$body" "x-api-key: wrong" "anthropic-version: 2023-06-01")
grep -q '^HTTP/1.1 401' <<<"$resp" || fail "expected 401 for a wrong key"
grep -q 'sk-cli-test' <<<"$resp" && fail "the key was echoed"
resp=$(request "$url" /v1/messages "$body" "x-api-key: sk-cli-test" "anthropic-version: 2023-06-01")
grep -qi '^anthropic-ratelimit-requests-limit: 1' <<<"$resp" || fail "no limit header: $resp"
resp=$(request "$url" /v1/messages "$body" "x-api-key: sk-cli-test" "anthropic-version: 2023-06-01")
grep -q '^HTTP/1.1 429' <<<"$resp" || fail "expected 429: $resp"
grep -qi '^retry-after: 60' <<<"$resp" || fail "expected retry-after 60: $resp"
kill -INT "$pid"
wait "$pid"; rc=$?
[ "$rc" -eq 0 ] || fail "exit status $rc after SIGINT"

# 3. usage errors: exit 2 with one line naming the problem
check_usage() {
	local want=$1; shift
	"$bin" sim "$@" >"$tmp/u.out" 2>"$tmp/u.err"
	local rc=$?
	[ "$rc" -eq 2 ] || fail "'sim $*' exited $rc, expected 2"
	[ "$(wc -l <"$tmp/u.err")" -eq 1 ] || fail "'sim $*' printed: $(cat "$tmp/u.err")"
	grep -q -- "$want" "$tmp/u.err" || fail "'sim $*' did not name $want: $(cat "$tmp/u.err")"
}
check_usage --bogus --bogus
check_usage --rpm --rpm abc
check_usage --rpm --rpm -5
check_usage --port --port 70000
check_usage --fault-529 --fault-529 1.5
check_usage --seed --seed
check_usage --api-key --api-key
check_usage --inference-geo --inference-geo eu

# 4. --help lists every flag and exits 0
"$bin" sim --help >"$tmp/help.out" || fail "--help failed"
for f in --port --rpm --itpm --otpm --rpm-burst --count-rpm --latency-ms --tokens-per-second \
	--fault-529 --fault-500 --fault-midstream --fault-truncate --seed --api-key --retry-after-ms \
	--inference-geo --help; do
	grep -q -- "$f" "$tmp/help.out" || fail "--help does not mention $f"
done

# 5. a taken port is a failure (exit 1), not a hang
start_sim c
port=${url##*:}
timeout 10 "$bin" sim --port "$port" >/dev/null 2>"$tmp/d.err"; rc=$?
[ "$rc" -eq 1 ] || fail "second sim on port $port exited $rc"
kill -TERM "$pid"; wait "$pid"

# 6. today's SDK headers (a bearer key, version 2026-10-21) and a workspace
# default geo that the request does not say
start_sim e --inference-geo us
body5='{"model":"claude-sonnet-5-5","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}'
resp=$(request "$url" /v1/messages "$body5" "Authorization: Bearer k" "anthropic-version: 2026-10-21")
grep -q '^HTTP/1.1 200' <<<"$resp" || fail "expected 200 for a bearer key: $resp"
grep -q '"inference_geo":"us"' <<<"$resp" || fail "expected the workspace default geo: $resp"
kill -TERM "$pid"; wait "$pid"
echo "test_sim.sh: ok"
