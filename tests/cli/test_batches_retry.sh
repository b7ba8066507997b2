#!/usr/bin/env bash
# `batch --via batches` and the result types that are not a success:
#  - errored results are sent again in a new batch, up to client.max_retries
#    retries, then the line fails with the provider's error (every custom_id
#    submitted 1 + max_retries times, nothing recorded);
#  - with some errored, the retries finish the rest: each job recorded once,
#    under the run's --tag;
#  - expired results: --on-expire fail fails the line; requeue (the default)
#    leaves the job queued, and the next run sends it and finishes.
. "$(dirname "$0")/reliab_lib.sh"

export ANTHROPIC_API_KEY=sk-test-retry
n=12
lines "$tmp/in.jsonl" $n r
run_batches() { # NAME ARGS...: batch --via batches into $tmp/NAME.out, status in $rc
	local name=$1
	shift
	am batch "$tmp/in.jsonl" --out "$tmp/$name.out" --via batches --poll-s 0.1 "$@" \
		2>"$tmp/$name.err"
	rc=$?
	clean_stderr "$tmp/$name.err"
}

# 1. Every request errors: 1 + 2 submissions each, then failed.
start_sim sim_err --batch-error-pct 100
export ANTHROPIC_BASE_URL=$sim_url
db=$tmp/err.db
write_config "$tmp/err.json" "$db" '"client":{"max_retries":2}'
export AIMETER_CONFIG=$tmp/err.json
run_batches err
stop_sim "$sim_pid"
[ $rc = 1 ] || fail "all errored: exit $rc, want 1: $(tail -n2 "$tmp/err.err")"
[ "$(state_counts "$db")" = "failed=$n" ] || fail "all errored: $(state_counts "$db")"
[ "$(q "$db" "SELECT count(*) FROM usage_events")" = 0 ] || fail "an errored result was recorded"
[ "$(q "$db" "SELECT min(attempts) || '-' || max(attempts) FROM jobs")" = 3-3 ] ||
	fail "attempts: $(q "$db" "SELECT group_concat(attempts) FROM jobs")"
[ "$(sim_stat sim_err 'batch requests')" = $((3 * n)) ] || fail "submissions: $(sim_stat sim_err 'batch requests')"
[ "$(sim_stat sim_err 'distinct custom_ids')" = $n ] || fail "custom_ids: $(sim_stat sim_err 'distinct custom_ids')"
bad=$(jsonl_query "$tmp/err.out" "SELECT count(*) FROM t WHERE json_extract(l, '\$.status') = 'failed'
	AND json_extract(l, '\$.error') LIKE 'api_error: Internal server error%'")
[ "$bad" = $n ] || fail "the failed lines do not carry the provider's error: $(head -n1 "$tmp/err.out")"
exactly_once "$db"

# 2. Some error: the retries finish them, each recorded once.
start_sim sim_some --batch-error-pct 40 --seed 3
export ANTHROPIC_BASE_URL=$sim_url
db=$tmp/some.db
write_config "$tmp/some.json" "$db" '"client":{"max_retries":6}'
export AIMETER_CONFIG=$tmp/some.json
run_batches some --tag retry-run
stop_sim "$sim_pid"
[ $rc = 0 ] || fail "some errored: exit $rc: $(tail -n2 "$tmp/some.err")"
[ "$(state_counts "$db")" = "done=$n" ] || fail "some errored: $(state_counts "$db")"
[ "$(q "$db" "SELECT count(*) FROM usage_events WHERE tag = 'retry-run'")" = $n ] ||
	fail "the rows do not carry the run's tag"
[ "$(sim_stat sim_some repeated)" -gt 0 ] || fail "no request errored: the test proves nothing"
[ "$(sim_stat sim_some succeeded)" = $n ] || fail "succeeded at the simulator: $(sim_stat sim_some succeeded)"
exactly_once "$db"

# 3. Expired, --on-expire fail: failed lines saying so.
start_sim sim_exp --batch-expire-pct 100
export ANTHROPIC_BASE_URL=$sim_url
ledger_with exp 0
run_batches expfail --on-expire fail
[ $rc = 1 ] || fail "expired, fail: exit $rc"
[ "$(state_counts "$db")" = "failed=$n" ] || fail "expired, fail: $(state_counts "$db")"
grep -q '"error":"expired: ' "$tmp/expfail.out" || fail "expired, fail: $(head -n1 "$tmp/expfail.out")"
stop_sim "$sim_pid"
[ "$(sim_stat sim_exp 'batch requests')" = $n ] || fail "expired, fail: sent again in the same run"

# 4. Expired, requeue: the jobs stay queued for the next run, which finishes.
start_sim sim_req --batch-expire-pct 100
export ANTHROPIC_BASE_URL=$sim_url
ledger_with req 0
run_batches req1
stop_sim "$sim_pid"
[ $rc = 1 ] || fail "expired, requeue: exit $rc"
[ "$(state_counts "$db")" = "queued=$n" ] || fail "expired, requeue: $(state_counts "$db")"
grep -q 'left queued for the next run' "$tmp/req1.out" || fail "requeue: $(head -n1 "$tmp/req1.out")"
[ "$(sim_stat sim_req 'batch requests')" = $n ] || fail "requeue: sent again in the same run"
start_sim sim_req2
export ANTHROPIC_BASE_URL=$sim_url
run_batches req2
stop_sim "$sim_pid"
[ $rc = 0 ] || fail "the next run: exit $rc: $(tail -n2 "$tmp/req2.err")"
[ "$(state_counts "$db")" = "done=$n" ] || fail "the next run: $(state_counts "$db")"
[ "$(sim_stat sim_req2 'batch requests')" = $n ] || fail "the next run sent $(sim_stat sim_req2 'batch requests')"
exactly_once "$db"
