#!/usr/bin/env bash
# Job ownership: two aimeter processes on one ledger never send the same
# job. While a batch's calls are in flight on a slow simulator, `aimeter
# ask` and a batch of another file run to completion on the same ledger,
# and a re-run of the running file stops at once with status 4 naming the
# running process. Then the batch finishes. The simulator, a process of its
# own, counts the answers it delivered: exactly one per job, and the ledger
# holds one row per job.
. "$(dirname "$0")/reliab_lib.sh"

start_sim slow --latency-ms 3000
sim=$sim_pid
export ANTHROPIC_API_KEY=sk-test-owner ANTHROPIC_BASE_URL=$sim_url
ledger_with owner 0
n=8
lines "$tmp/main.jsonl" $n main
lines "$tmp/other.jsonl" 2 other

am batch --concurrency 4 "$tmp/main.jsonl" >"$tmp/main.out" 2>"$tmp/main.err" &
waiter=$!
in_flight() { [ "$(q "$db" "SELECT count(*) FROM jobs WHERE state = 'in_flight'" 2>/dev/null)" = 4 ]; }
wait_until 20 in_flight || fail "the batch's calls never were in flight: $(state_counts "$db")"
owner=$(q "$db" "SELECT group_concat(DISTINCT owner) FROM jobs")
batch=${owner%%:*} # the aimeter process itself (under `timeout` and a subshell)
tr '\0' ' ' <"/proc/$batch/cmdline" 2>/dev/null | grep -q "batch --concurrency 4 $tmp/main.jsonl" ||
	fail "the batch's jobs are owned by '$owner', not by the batch"
[ "${owner#*:}" = "$(cut -d')' -f2 "/proc/$batch/stat" | cut -d' ' -f21)" ] ||
	fail "owner '$owner' does not carry the batch's start time"

# Beside it: an ask, a batch of another file, and the same file again.
am ask --max-tokens 16 "a question of my own" >"$tmp/ask.out" 2>"$tmp/ask.err" &
ask=$!
am batch "$tmp/other.jsonl" >"$tmp/other.out" 2>"$tmp/other.err" &
other=$!
am batch "$tmp/main.jsonl" >"$tmp/rerun.out" 2>"$tmp/rerun.err"
rc=$?
[ $rc = 4 ] || fail "a re-run beside the running batch exited $rc: $(cat "$tmp/rerun.err")"
grep -q "$n jobs of this file belong to aimeter pid $batch, still running" "$tmp/rerun.err" ||
	fail "the re-run does not name the running batch: $(cat "$tmp/rerun.err")"
[ ! -s "$tmp/rerun.out" ] || fail "the re-run wrote results: $(cat "$tmp/rerun.out")"
wait $ask || fail "ask beside the batch: $(cat "$tmp/ask.err")"
[ -s "$tmp/ask.out" ] || fail "ask printed no answer"
wait $other || fail "a batch of another file beside the batch: $(cat "$tmp/other.err")"
[ "$(jsonl_check "$tmp/other.out")" = 2 ] || fail "the other batch's output"
# The others are done while the batch still has calls to make.
kill -0 $batch 2>/dev/null || fail "the batch ended before the processes beside it"
[ "$(q "$db" "SELECT count(*) FROM jobs WHERE owner LIKE '$batch:%'")" = $n ] ||
	fail "the batch lost jobs to another process: $(q "$db" "SELECT id, owner, state FROM jobs")"

wait $waiter || fail "the batch: $(cat "$tmp/main.err")"
stop_sim "$sim"
[ "$(jsonl_check "$tmp/main.out")" = $n ] || fail "the batch's output"
ok=$(jsonl_query "$tmp/main.out" "SELECT count(*) FROM t WHERE json_extract(l, '\$.status') = 'ok'")
[ "$ok" = $n ] || fail "$ok of $n lines ok"
jobs=$((n + 2 + 1))
[ "$(state_counts "$db")" = "done=$jobs" ] || fail "jobs: $(state_counts "$db")"
exactly_once "$db"
[ "$(q "$db" "SELECT count(*) FROM usage_events")" = $jobs ] || fail "ledger rows"
delivered=$(sim_stat slow ok)
[ "$delivered" = $jobs ] || fail "the simulator answered $delivered calls for $jobs jobs"
clean_stderr "$tmp/main.err" "$tmp/ask.err" "$tmp/other.err" "$tmp/rerun.err"
note "owner: $jobs jobs from 3 processes on one ledger, each sent once; a re-run stopped with 4"
