#!/usr/bin/env bash
# Crashes of `batch --via batches`: SIGKILL at random points while the
# provider batches are being submitted, and while they are polled, then a
# re-run to the end. After every kill the ledger invariants hold; at the
# end every line is done and recorded once, and the simulator saw each
# custom_id once: no job was submitted twice (a submit whose answer died
# with the process is found again in the provider's list).
#
#   AIMETER_CRASH_TRIALS  trials of each kind (default 10)
#   AIMETER_CRASH_SEED    seed of the kill times (default 11)
. "$(dirname "$0")/reliab_lib.sh"

trials=${AIMETER_CRASH_TRIALS:-10}
RANDOM=${AIMETER_CRASH_SEED:-11}
n=40
export ANTHROPIC_API_KEY=sk-test-bcrash
lines "$tmp/in.jsonl" $n c
kills=0 found=0 t_start=$SECONDS

# trial KIND FROM_MS SPAN_MS: a fresh ledger and simulator; two runs killed
# FROM_MS + random(SPAN_MS) after their start; a third runs to the end.
trial() {
	local kind=$1 from=$2 span=$3 t=$4 run ms pid
	start_sim "sim_$kind$t" --latency-ms 60 --batch-delay-ms 700
	local spid=$sim_pid
	export ANTHROPIC_BASE_URL=$sim_url
	db=$tmp/$kind$t.db
	# A lost submit is given up only once its create can no longer appear,
	# the client's timeout after its intent: a short one keeps the trials short.
	write_config "$tmp/c.json" "$db" '"client":{"timeout_ms":4000}'
	export AIMETER_CONFIG=$tmp/c.json
	for run in 1 2; do
		"$bin" batch "$tmp/in.jsonl" --out "$tmp/run.out" --via batches --poll-s 0.1 \
			--max-requests 4 >/dev/null 2>"$tmp/run.err" &
		pid=$!
		ms=$((from + RANDOM % span))
		sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
		kill -KILL $pid 2>/dev/null && kills=$((kills + 1))
		wait $pid 2>/dev/null
		[ -e "$db" ] || continue
		[ "$(q "$db" "SELECT count(*) FROM sqlite_master WHERE name = 'provider_batches'")" = 1 ] || continue
		exactly_once "$db"
		clean_stderr "$tmp/run.err"
	done
	am batch "$tmp/in.jsonl" --out "$tmp/final.out" --via batches --poll-s 0.1 --max-requests 4 \
		2>"$tmp/final.err" || fail "$kind trial $t: the final run failed: $(tail -n3 "$tmp/final.err")"
	grep -q "found the batch" "$tmp/final.err" "$tmp/run.err" && found=$((found + 1))
	stop_sim "$spid"
	[ "$(state_counts "$db")" = "done=$n" ] || fail "$kind trial $t: $(state_counts "$db")"
	exactly_once "$db"
	[ "$(jsonl_check "$tmp/final.out")" = $n ] || fail "$kind trial $t: output lines"
	local rep sent
	rep=$(sim_stat "sim_$kind$t" repeated)
	sent=$(sim_stat "sim_$kind$t" 'batch requests')
	[ "$rep" = 0 ] && [ "$sent" = $n ] ||
		fail "$kind trial $t: $sent requests submitted for $n lines, $rep submitted twice"
	clean_stderr "$tmp/final.err"
}

# Submitting: ten batches of four, each create taking 60 ms.
for t in $(seq 1 "$trials"); do
	trial submit 30 700 "$t"
done
# Polling: the batches are out and take 700 ms.
for t in $(seq 1 "$trials"); do
	trial poll 750 900 "$t"
done
note "batches crash: $((2 * trials)) trials, $kills kills, $found re-runs found a lost submit," \
	"every job submitted once, $((SECONDS - t_start)) s"
