#!/usr/bin/env bash
# A file whose jobs are in provider batches still out is never sent in real
# time: a `batch` without --via batches (or a dashboard on the same ledger)
# leaves those jobs alone and says how to finish them; the next run with
# batch.via = batches polls the batches it left and submits nothing again.
. "$(dirname "$0")/reliab_lib.sh"

n=6
export ANTHROPIC_API_KEY=sk-test-modes
start_sim sim_m --batch-delay-ms 2500
export ANTHROPIC_BASE_URL=$sim_url
ledger_with m 0
lines "$tmp/in.jsonl" $n m
"$bin" batch "$tmp/in.jsonl" --via batches --poll-s 0.1 >/dev/null 2>"$tmp/1.err" &
pid=$!
submitted() {
	[ "$(q "$db" "SELECT count(*) FROM provider_batches WHERE provider_id IS NOT NULL" 2>/dev/null)" = 1 ]
}
wait_until 20 submitted ||
	fail "the batch was not submitted: $(cat "$tmp/1.err")"
kill -KILL $pid
wait $pid 2>/dev/null
[ "$(q "$db" "SELECT count(*) FROM jobs WHERE state = 'in_flight'")" = $n ] || fail "$(state_counts "$db")"
# Real time: nothing sent, every line says why.
am batch "$tmp/in.jsonl" --out "$tmp/rt.out" 2>"$tmp/rt.err"
rc=$?
[ $rc = 1 ] || fail "real time over open batches: exit $rc: $(tail -n2 "$tmp/rt.err")"
stuck=$(jsonl_query "$tmp/rt.out" "SELECT count(*) FROM t WHERE json_extract(l, '\$.error') LIKE '%provider batch still out%'")
[ "$stuck" = $n ] || fail "the lines do not say why: $(head -n1 "$tmp/rt.out")"
[ "$(q "$db" "SELECT count(*) FROM usage_events")" = 0 ] || fail "a job was answered in real time"
# Through batches again, by the config's batch.via this time: the batch
# left is polled, nothing is submitted twice.
write_config "$tmp/m.json" "$db" '"batch":{"via":"batches"}'
am batch "$tmp/in.jsonl" --out "$tmp/b.out" --poll-s 0.1 2>"$tmp/b.err" ||
	fail "the batches run: $(tail -n2 "$tmp/b.err")"
stop_sim "$sim_pid"
[ "$(state_counts "$db")" = "done=$n" ] || fail "$(state_counts "$db")"
[ "$(sim_stat sim_m 'tokens in')" = 0 ] || fail "the Messages endpoint was called"
[ "$(sim_stat sim_m 'batch requests')" = $n ] || fail "submitted $(sim_stat sim_m 'batch requests') for $n"
exactly_once "$db"
clean_stderr "$tmp/rt.err" "$tmp/b.err"
