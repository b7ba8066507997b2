#!/usr/bin/env bash
# Network faults: the simulator dropping connections, a server
# that is gone, a name that does not resolve, and a TLS server with a
# self-signed certificate. Each ends in a clear error after a bounded
# number of tries - never a hang, never a crash - and a batch loses no job:
# what could not be sent stays queued or fails with its reason, and the
# ledger holds exactly the answers that arrived.
. "$(dirname "$0")/reliab_lib.sh"

key=sk-test-fault-net
export ANTHROPIC_API_KEY=$key

# ---------------------------------------------------------------------------
# 1. Dropped connections: lines pinned to the model "sim-fault-drop" get
#    their connection closed before any response; the others are answered.

start_sim drop
drop_pid=$sim_pid
export ANTHROPIC_BASE_URL=$sim_url
db=$tmp/drop.db
write_config "$tmp/drop.json" "$db" '"client":{"max_retries":2}'
export AIMETER_CONFIG=$tmp/drop.json
lines "$tmp/ok.jsonl" 4 ok
{
	cat "$tmp/ok.jsonl"
	printf '{"id":"d1","prompt":"dropped 1","model":"sim-fault-drop"}\n'
	printf '{"id":"d2","prompt":"dropped 2","model":"sim-fault-drop"}\n'
} >"$tmp/drop.jsonl"
am batch "$tmp/drop.jsonl" >"$tmp/drop.out" 2>"$tmp/drop.err"
rc=$?
stop_sim "$drop_pid"
[ $rc = 1 ] || fail "batch with dropped connections: exit $rc, want 1: $(cat "$tmp/drop.err")"
[ "$(jsonl_check "$tmp/drop.out")" = 6 ] || fail "output: $(cat "$tmp/drop.out")"
got=$(jsonl_query "$tmp/drop.out" "SELECT group_concat(json_extract(l, '\$.id') || ':' ||
	json_extract(l, '\$.status'), ' ') FROM t")
[ "$got" = "ok1:ok ok2:ok ok3:ok ok4:ok d1:failed d2:failed" ] || fail "statuses: $got"
err=$(jsonl_query "$tmp/drop.out" "SELECT json_extract(l, '\$.error') FROM t WHERE json_extract(l, '\$.id') = 'd1'")
grep -qiE "empty reply|connection|closed" <<<"$err" || fail "unclear error for a dropped connection: $err"
[ "$(q "$db" "SELECT group_concat(attempts) FROM jobs WHERE state = 'failed'")" = "3,3" ] ||
	fail "a dropped call must be tried 1 + max_retries times: $(q "$db" "SELECT attempts FROM jobs")"
[ "$(sim_stat drop ok)" = 4 ] || fail "simulator answered $(sim_stat drop ok), want 4"
[ "$(q "$db" "SELECT count(*) FROM usage_events")" = 4 ] || fail "ledger rows != answers"
exactly_once "$db"

# ---------------------------------------------------------------------------
# 2. The server is gone (connection refused), then comes back: the re-run
#    sends what failed, and nothing twice.

start_sim gone
gone_pid=$sim_pid
url=$sim_url
stop_sim "$gone_pid"
export ANTHROPIC_BASE_URL=$url
db=$tmp/gone.db
write_config "$tmp/gone.json" "$db" '"client":{"max_retries":1}'
export AIMETER_CONFIG=$tmp/gone.json
lines "$tmp/gone.jsonl" 3 gone
am batch "$tmp/gone.jsonl" >"$tmp/gone.out" 2>"$tmp/gone.err"
rc=$?
[ $rc = 1 ] || fail "batch against a dead server: exit $rc, want 1: $(cat "$tmp/gone.err")"
grep -qiE "connect" "$tmp/gone.out" || fail "unclear error for a refused connection: $(cat "$tmp/gone.out")"
[ "$(state_counts "$db")" = "failed=3" ] || fail "jobs: $(state_counts "$db")"
start_sim back
back_pid=$sim_pid
export ANTHROPIC_BASE_URL=$sim_url
am batch "$tmp/gone.jsonl" >"$tmp/gone2.out" 2>"$tmp/gone2.err" || fail "re-run: $(cat "$tmp/gone2.err")"
stop_sim "$back_pid"
[ "$(state_counts "$db")" = "done=3" ] || fail "jobs after the re-run: $(state_counts "$db")"
[ "$(sim_stat back ok)" = 3 ] || fail "the re-run sent $(sim_stat back ok) calls, want 3"
exactly_once "$db"

# ---------------------------------------------------------------------------
# 3. DNS failure: .invalid never resolves (RFC 6761), so no network is
#    reached. The connect timeout bounds a resolver that does not answer.

export ANTHROPIC_BASE_URL=https://nonexistent.invalid
db=$tmp/dns.db
write_config "$tmp/dns.json" "$db" '"client":{"max_retries":1,"connect_timeout_ms":3000}'
export AIMETER_CONFIG=$tmp/dns.json
lines "$tmp/dns.jsonl" 2 dns
t0=$SECONDS
am batch "$tmp/dns.jsonl" >"$tmp/dns.out" 2>"$tmp/dns.err"
rc=$?
[ $rc = 1 ] || fail "batch with a DNS failure: exit $rc, want 1: $(cat "$tmp/dns.err")"
grep -q "resolve host" "$tmp/dns.out" || fail "unclear DNS error: $(cat "$tmp/dns.out")"
grep -q "nonexistent.invalid" "$tmp/dns.out" || fail "the error does not name the host"
am ask "hello" >"$tmp/dns2.out" 2>"$tmp/dns2.err"
rc=$?
[ $rc = 1 ] || fail "ask with a DNS failure: exit $rc, want 1"
grep -q "resolve host" "$tmp/dns2.err" || fail "ask: unclear DNS error: $(cat "$tmp/dns2.err")"
[ $((SECONDS - t0)) -lt 40 ] || fail "the DNS failure took $((SECONDS - t0)) s"
[ "$(state_counts "$db")" = "failed=3" ] || fail "jobs: $(state_counts "$db")"
exactly_once "$db"

# ---------------------------------------------------------------------------
# 4. TLS with a certificate nobody signed: a local `openssl s_server`. The
#    error names the certificate, is not retried (every call would fail the
#    same way), and a batch stops at once, its other jobs still queued.

command -v openssl >/dev/null || fail "the openssl CLI is required (apt-get install openssl)"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-days 1 -subj /CN=127.0.0.1 >/dev/null 2>&1 || fail "openssl req failed"
openssl s_server -accept 127.0.0.1:0 -cert "$tmp/cert.pem" -key "$tmp/key.pem" -www \
	>"$tmp/tls.out" 2>&1 </dev/null &
tls_pid=$!
bg_pids+=("$tls_pid")
wait_until 10 grep -q '^ACCEPT' "$tmp/tls.out" || fail "s_server did not start: $(cat "$tmp/tls.out")"
port=$(sed -n 's/^ACCEPT .*:\([0-9]*\)$/\1/p' "$tmp/tls.out" | head -n1)
[ -n "$port" ] || fail "no port from s_server: $(cat "$tmp/tls.out")"
export ANTHROPIC_BASE_URL=https://127.0.0.1:$port ANTHROPIC_API_KEY=k # a short key: see 5.
db=$tmp/tls.db
write_config "$tmp/tls.json" "$db" '"client":{"max_retries":3}'
export AIMETER_CONFIG=$tmp/tls.json
am ask "hello" >"$tmp/tls1.out" 2>"$tmp/tls1.err"
rc=$?
[ $rc = 1 ] || fail "ask against a self-signed server: exit $rc, want 1: $(cat "$tmp/tls1.err")"
grep -q "certificate" "$tmp/tls1.err" || fail "ask: no 'certificate' in: $(cat "$tmp/tls1.err")"
grep -q "retry" "$tmp/tls1.err" && fail "a certificate failure was retried: $(cat "$tmp/tls1.err")"
lines "$tmp/tls.jsonl" 40 tls
t0=$SECONDS
am batch --concurrency 2 "$tmp/tls.jsonl" >"$tmp/tls2.out" 2>"$tmp/tls2.err"
rc=$?
[ $rc = 1 ] || fail "batch against a self-signed server: exit $rc, want 1: $(cat "$tmp/tls2.err")"
[ $((SECONDS - t0)) -lt 30 ] || fail "the batch took $((SECONDS - t0)) s to stop"
grep -q "certificate" "$tmp/tls2.err" || fail "batch: no 'certificate' in: $(cat "$tmp/tls2.err")"
grep -q "stopped early" "$tmp/tls2.err" || fail "batch: no 'stopped early': $(cat "$tmp/tls2.err")"
[ "$(q "$db" "SELECT max(attempts) FROM jobs")" = 1 ] || fail "a certificate failure was retried"
failed=$(q "$db" "SELECT count(*) FROM jobs WHERE batch_key IS NOT NULL AND state = 'failed'")
queued=$(q "$db" "SELECT count(*) FROM jobs WHERE batch_key IS NOT NULL AND state = 'queued'")
[ "$failed" -ge 1 ] && [ "$failed" -le 2 ] || fail "$failed jobs failed; only those sent (2) may fail"
[ $((failed + queued)) = 40 ] || fail "jobs were lost: $(state_counts "$db")"

# ---------------------------------------------------------------------------
# 5. Error messages stay readable: the client masks the API key in them,
#    but a key too short to be real ("k" above) must not mask letters.

grep -q '\*\*\*' "$tmp/tls1.err" "$tmp/tls2.err" && fail "a message was garbled by key masking"
clean_stderr "$tmp"/*.err
note "ok"
