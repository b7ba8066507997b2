#!/usr/bin/env bash
# `aimeter batches` and `aimeter batches cancel ID`: a batch left out by a
# killed run is listed with its state and counts; cancelling it at the
# provider ends it, and the next run reads what it finished - here every
# request canceled, failed with --on-expire fail, none submitted again.
. "$(dirname "$0")/reliab_lib.sh"

n=5
export ANTHROPIC_API_KEY=sk-test-cancel
start_sim sim_c --batch-delay-ms 60000
export ANTHROPIC_BASE_URL=$sim_url
ledger_with c 0
lines "$tmp/in.jsonl" $n c
am batches >"$tmp/none.out" 2>&1 || fail "batches on a fresh ledger: $(cat "$tmp/none.out")"
grep -q "no provider batches yet" "$tmp/none.out" || fail "$(cat "$tmp/none.out")"
"$bin" batch "$tmp/in.jsonl" --via batches --poll-s 0.1 >/dev/null 2>"$tmp/1.err" &
pid=$!
submitted() {
	[ "$(q "$db" "SELECT count(*) FROM provider_batches WHERE provider_id IS NOT NULL" 2>/dev/null)" = 1 ]
}
wait_until 20 submitted || fail "the batch was not submitted: $(cat "$tmp/1.err")"
kill -KILL $pid
wait $pid 2>/dev/null
id=$(q "$db" "SELECT provider_id FROM provider_batches")
am batches >"$tmp/list.out" 2>&1 || fail "batches: $(cat "$tmp/list.out")"
grep -q "^$id  in_progress  $n requests: 0 succeeded, 0 errored, 0 expired, 0 canceled, $n processing" \
	"$tmp/list.out" || fail "the list: $(cat "$tmp/list.out")"
am batches cancel "$id" >"$tmp/cancel.out" 2>&1 || fail "cancel: $(cat "$tmp/cancel.out")"
grep -q "^$id: canceling" "$tmp/cancel.out" || fail "cancel said: $(cat "$tmp/cancel.out")"
[ "$(q "$db" "SELECT state FROM provider_batches")" = canceling ] || fail "the ledger's row did not follow"
am batches cancel "no/such" >/dev/null 2>"$tmp/bad.err"
[ $? = 2 ] || fail "a bad id is a usage error: $(cat "$tmp/bad.err")"
am batch "$tmp/in.jsonl" --out "$tmp/2.out" --via batches --poll-s 0.1 --on-expire fail 2>"$tmp/2.err"
rc=$?
stop_sim "$sim_pid"
[ $rc = 1 ] || fail "after the cancel: exit $rc: $(tail -n2 "$tmp/2.err")"
[ "$(state_counts "$db")" = "failed=$n" ] || fail "after the cancel: $(state_counts "$db")"
grep -q '"error":"canceled: ' "$tmp/2.out" || fail "$(head -n1 "$tmp/2.out")"
[ "$(sim_stat sim_c 'batch requests')" = $n ] || fail "submitted again after the cancel"
exactly_once "$db"
clean_stderr "$tmp/2.err"
