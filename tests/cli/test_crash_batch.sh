#!/usr/bin/env bash
# Crashes: `aimeter batch` killed with SIGKILL at random points,
# re-run, killed again, and finally run to the end. After every kill the
# ledger invariants hold (a done job has exactly one row, no other job has
# one), and after the final run every line is a job, done, recorded
# exactly once: none lost, none twice.
#
#   AIMETER_CRASH_TRIALS  trials (default 12; the closing note ran 50)
#   AIMETER_CRASH_SEED    seed of the kill times (default 7)
#
# A trial: a fresh ledger; run 1 and run 2 each killed after a random
# 0-1.5 s (while lines are added, calls are in flight, answers are being
# recorded, or during shutdown); run 3 completes. The simulator is its own
# process, so it survives the kills; it counts the answers it delivered,
# which shows how many calls a kill made us pay for twice (answers that
# arrived but died with the process before their commit).
. "$(dirname "$0")/reliab_lib.sh"

trials=${AIMETER_CRASH_TRIALS:-12}
seed=${AIMETER_CRASH_SEED:-7}
RANDOM=$seed
n=80
export ANTHROPIC_API_KEY=sk-test-crash
lines "$tmp/crash.jsonl" $n crash
kills=0 resent=0 t_start=$SECONDS

for trial in $(seq 1 "$trials"); do
	start_sim "sim$trial" --latency-ms 100
	spid=$sim_pid
	export ANTHROPIC_BASE_URL=$sim_url
	db=$tmp/crash$trial.db
	write_config "$tmp/crash.json" "$db" '"worker":{"concurrency":8}'
	export AIMETER_CONFIG=$tmp/crash.json
	for run in 1 2; do
		"$bin" batch "$tmp/crash.jsonl" >"$tmp/run.out" 2>"$tmp/run.err" &
		pid=$!
		ms=$((RANDOM % 1500))
		sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
		kill -KILL $pid 2>/dev/null && kills=$((kills + 1))
		wait $pid 2>/dev/null
		# Killed before the ledger existed, or before its schema committed
		# (an empty file: the next run builds it).
		[ -e "$db" ] || continue
		[ "$(q "$db" "SELECT count(*) FROM sqlite_master WHERE name = 'jobs'")" = 1 ] || continue
		exactly_once "$db"
		jobs=$(q "$db" "SELECT count(*) FROM jobs")
		[ "$jobs" -le $n ] || fail "trial $trial run $run: $jobs jobs for $n lines"
	done
	am batch "$tmp/crash.jsonl" >"$tmp/final.out" 2>"$tmp/final.err" ||
		fail "trial $trial: the final run failed: $(cat "$tmp/final.err")"
	stop_sim "$spid"
	[ "$(q "$db" "SELECT count(*) FROM jobs")" = $n ] || fail "trial $trial: jobs lost: $(state_counts "$db")"
	[ "$(state_counts "$db")" = "done=$n" ] || fail "trial $trial: $(state_counts "$db")"
	exactly_once "$db"
	[ "$(jsonl_check "$tmp/final.out")" = $n ] || fail "trial $trial: output lines"
	ok=$(jsonl_query "$tmp/final.out" "SELECT count(*) FROM t WHERE json_extract(l, '\$.status') = 'ok'")
	[ "$ok" = $n ] || fail "trial $trial: $ok of $n lines ok"
	# Every line's answer is the one in the ledger's job (input order kept).
	first=$(jsonl_query "$tmp/final.out" "SELECT json_extract(l, '\$.text') FROM t LIMIT 1")
	[ "$first" = "$(q "$db" "SELECT result FROM jobs WHERE batch_key LIKE '%:1'")" ] ||
		fail "trial $trial: line 1's text is not its job's answer"
	delivered=$(sim_stat "sim$trial" ok)
	[ "$delivered" -ge $n ] || fail "trial $trial: the simulator delivered only $delivered answers"
	resent=$((resent + delivered - n))
	clean_stderr "$tmp/final.err" "$tmp/run.err"
done
note "crash: $trials trials, $kills kills, $((trials * n)) jobs each recorded once," \
	"$resent calls sent again after a kill, $((SECONDS - t_start)) s (seed $seed)"
