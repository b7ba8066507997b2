#!/usr/bin/env bash
# The simulator's random faults drive a batch and a series of streamed
# asks: 10% 529, 5% 500, 5% bodies cut off and 5% mid-stream
# errors. Every job ends done, or failed with its error; the ledger holds
# exactly the answers that arrived whole - one row per answer the
# simulator delivered complete, none for a broken one, none twice.
. "$(dirname "$0")/reliab_lib.sh"

export ANTHROPIC_API_KEY=sk-test-fault-mix
faults=(--fault-529 0.1 --fault-500 0.05 --fault-truncate 0.05 --fault-midstream 0.05)

# ---------------------------------------------------------------------------
# 1. A batch of 200 (JSON answers: a cut body is the truncation fault).

n=200
start_sim mix "${faults[@]}" --seed 11
mix_pid=$sim_pid
export ANTHROPIC_BASE_URL=$sim_url
db=$tmp/mix.db
write_config "$tmp/mix.json" "$db" '"client":{"max_retries":2}'
export AIMETER_CONFIG=$tmp/mix.json
lines "$tmp/mix.jsonl" $n mix
am batch --no-cache "$tmp/mix.jsonl" >"$tmp/mix.out" 2>"$tmp/mix.err"
rc=$?
stop_sim "$mix_pid"
[ $rc = 0 ] || [ $rc = 1 ] || fail "batch exit $rc: $(cat "$tmp/mix.err")"
[ "$(jsonl_check "$tmp/mix.out")" = $n ] || fail "the output has not $n lines"
ok=$(jsonl_query "$tmp/mix.out" "SELECT count(*) FROM t WHERE json_extract(l, '\$.status') = 'ok'")
bad=$(jsonl_query "$tmp/mix.out" "SELECT count(*) FROM t WHERE json_extract(l, '\$.status') = 'failed'
	AND length(json_extract(l, '\$.error')) > 0")
[ $((ok + bad)) = $n ] || fail "$ok ok + $bad failed with an error != $n"
[ "$(q "$db" "SELECT count(*) FROM jobs WHERE state NOT IN ('done', 'failed')")" = 0 ] ||
	fail "unfinished jobs: $(state_counts "$db")"
[ "$(q "$db" "SELECT count(*) FROM jobs WHERE state = 'done'")" = "$ok" ] || fail "done != ok lines"
# Every fault kind happened, and each answer delivered whole is one row.
for what in overloaded "server errors" "cut off"; do
	[ "$(sim_stat mix "$what")" -gt 0 ] || fail "the simulator sent no '$what': $(cat "$tmp/mix.err")"
done
[ "$(q "$db" "SELECT count(*) FROM usage_events")" = "$(sim_stat mix ok)" ] ||
	fail "ledger rows $(q "$db" "SELECT count(*) FROM usage_events") != answers delivered whole $(sim_stat mix ok)"
[ "$(q "$db" "SELECT count(*) FROM usage_events")" = "$ok" ] || fail "ledger rows != ok lines"
# The ledger's tokens are the output's tokens, line by line summed.
out_tokens=$(jsonl_query "$tmp/mix.out" "SELECT sum(json_extract(l, '\$.usage.output_tokens')) FROM t")
[ "$(q "$db" "SELECT sum(output_tokens) FROM usage_events")" = "$out_tokens" ] ||
	fail "ledger output tokens != the output's"
# A failure says what went wrong (one of the injected faults).
odd=$(q "$db" "SELECT count(*) FROM jobs WHERE state = 'failed' AND NOT (error LIKE '%overloaded%'
	OR error LIKE '%500%' OR error LIKE '%broke off%' OR error LIKE '%Internal server error%')")
[ "$odd" = 0 ] || fail "failures without a recognisable cause: $(q "$db" "SELECT error FROM jobs WHERE state = 'failed'")"
exactly_once "$db"
note "batch: $ok ok, $bad failed; simulator: $(tail -n1 "$tmp/mix.err")"

# ---------------------------------------------------------------------------
# 2. Streams: 16 asks in a row against faults twice as likely, so that
#    mid-stream errors and cut streams surely occur (the sequence is fixed
#    by the seed: requests arrive in the same order every run).

start_sim smix --fault-529 0.1 --fault-500 0.05 --fault-truncate 0.1 --fault-midstream 0.2 --seed 5
smix_pid=$sim_pid
export ANTHROPIC_BASE_URL=$sim_url
db=$tmp/smix.db
write_config "$tmp/smix.json" "$db" '"client":{"max_retries":2,"stream":true}'
export AIMETER_CONFIG=$tmp/smix.json
answered=0
for i in $(seq 1 16); do
	am ask --no-cache --stream "streamed prompt $i" >"$tmp/ask$i.out" 2>"$tmp/ask$i.err"
	rc=$?
	case $rc in
	0) answered=$((answered + 1)) ;;
	1) grep -q "aimeter ask:" "$tmp/ask$i.err" || fail "ask $i failed without a message" ;;
	*) fail "ask $i: exit $rc: $(cat "$tmp/ask$i.err")" ;;
	esac
done
stop_sim "$smix_pid"
[ "$(sim_stat smix "mid-stream errors")" -gt 0 ] || fail "no mid-stream error happened: $(cat "$tmp/smix.err")"
[ "$(sim_stat smix "cut off")" -gt 0 ] || fail "no stream was cut off: $(cat "$tmp/smix.err")"
# Whole streams are exact rows; a stream cut after message_start is billed
# and recorded once as estimated (never sent again), one cut before it not.
exact=$(q "$db" "SELECT count(*) FROM usage_events WHERE estimated = 0")
[ "$exact" = "$(sim_stat smix ok)" ] ||
	fail "exact ledger rows $exact != streams delivered whole $(sim_stat smix ok)"
estimated=$(q "$db" "SELECT count(*) FROM usage_events WHERE estimated = 1")
[ "$estimated" -gt 0 ] || fail "no cut stream was recorded as estimated"
[ "$estimated" -le $(($(sim_stat smix "mid-stream errors") + $(sim_stat smix "cut off"))) ] ||
	fail "$estimated estimated rows for fewer broken streams: $(tail -n1 "$tmp/smix.err")"
[ "$(q "$db" "SELECT count(*) FROM usage_events u JOIN jobs j ON j.id = u.job_id
	WHERE u.estimated = 1 AND j.state = 'failed'")" = "$estimated" ] ||
	fail "an estimated row's job did not end failed: $(state_counts "$db")"
[ "$exact" = $answered ] || fail "exact ledger rows != asks answered"
[ "$(q "$db" "SELECT count(*) FROM jobs WHERE state NOT IN ('done', 'failed')")" = 0 ] ||
	fail "unfinished jobs: $(state_counts "$db")"
exactly_once "$db"
clean_stderr "$tmp"/*.err
note "asks: $answered of 16 answered; simulator: $(tail -n1 "$tmp/smix.err")"
note "ok"
