#!/usr/bin/env bash
# A plain http:// base_url to a host other than loopback would carry the
# API key in cleartext: it is refused, with a line saying how to accept it,
# before any connection; `allow_insecure_http` in the config accepts it.
# Loopback (the simulator) stays accepted. .invalid never resolves, so no
# network is reached.
. "$(dirname "$0")/reliab_lib.sh"

export ANTHROPIC_API_KEY=sk-test-insecure-http-5c1d
write_config "$tmp/c.json" "$tmp/c.db" '"client":{"max_retries":0,"connect_timeout_ms":2000}'
export AIMETER_CONFIG=$tmp/c.json
export ANTHROPIC_BASE_URL=http://nonexistent.invalid
am ask "hello" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 1 ] || fail "plain http to a remote host: exit $rc, want 1: $(cat "$tmp/err")"
grep -q "allow_insecure_http" "$tmp/err" || fail "no word on how to accept it: $(cat "$tmp/err")"
grep -q "resolve host" "$tmp/err" && fail "a connection was tried: $(cat "$tmp/err")"
grep -q "$ANTHROPIC_API_KEY" "$tmp/err" && fail "the key was shown"
lines "$tmp/in.jsonl" 1 insecure
am batch "$tmp/in.jsonl" >"$tmp/out" 2>"$tmp/err"
[ $? = 1 ] || fail "batch accepted plain http"
grep -q "allow_insecure_http" "$tmp/err" || fail "batch: $(cat "$tmp/err")"

# Allowed explicitly: the call goes out (and fails at the resolver).
write_config "$tmp/c.json" "$tmp/c.db" '"allow_insecure_http":true,"client":{"max_retries":0,"connect_timeout_ms":2000}'
am ask "hello" >"$tmp/out" 2>"$tmp/err"
grep -q "resolve host" "$tmp/err" || fail "allowed plain http was not tried: $(cat "$tmp/err")"

# Loopback needs no permission.
write_config "$tmp/c.json" "$tmp/c.db"
start_sim loop
export ANTHROPIC_BASE_URL=$sim_url
am ask --max-tokens 5 "hello" >"$tmp/out" 2>"$tmp/err" || fail "loopback http refused: $(cat "$tmp/err")"
exit 0
