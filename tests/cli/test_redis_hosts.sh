#!/usr/bin/env bash
# Three hosts, one organisation: three aimeter processes with separate
# ledgers run batches at once against ONE simulator that enforces the
# organisation's limits (600 requests a minute, 10 back to back), sharing
# them through one Redis. Each alone would assume the whole limit and
# collect 429s; together they see none, and finish near the time the
# simulator's bucket allows for what it served (the ratio is printed; the
# bench measures it in a Release build). Every line is answered once.
. "$(dirname "$0")/reliab_lib.sh"
. "$(dirname "$0")/redis_lib.sh"

export ANTHROPIC_API_KEY=sk-test-hosts
n=40
start_redis
start_sim hosts --rpm 600 --rpm-burst 10 --itpm 0 --otpm 0 --latency-ms 50
export ANTHROPIC_BASE_URL=$sim_url

t0=$(date +%s.%N)
pids=()
for h in 1 2 3; do
	lines "$tmp/h$h.jsonl" $n "h${h}x"
	printf '{"db":"%s","limits":{"rpm":600,"rpm_burst":10,"itpm":0,"otpm":0},"budget":{"daily_usd":"0"},"redis":{"url":"%s"}}\n' \
		"$tmp/h$h.db" "$redis_url" >"$tmp/h$h.json"
	AIMETER_CONFIG=$tmp/h$h.json am batch --no-cache "$tmp/h$h.jsonl" >"$tmp/h$h.out" 2>"$tmp/h$h.log" &
	pids+=($!)
done
for h in 1 2 3; do
	wait "${pids[$((h - 1))]}" || fail "host $h: batch failed: $(tail -n3 "$tmp/h$h.log")"
done
t1=$(date +%s.%N)
stop_sim "$sim_pid"
for h in 1 2 3; do
	[ "$(state_counts "$tmp/h$h.db")" = "done=$n" ] || fail "host $h: $(state_counts "$tmp/h$h.db")"
	exactly_once "$tmp/h$h.db"
done
ok=$(sim_stat hosts ok)
limited=$(sim_stat hosts rate-limited)
[ "$ok" = $((3 * n)) ] || fail "$ok answers for $((3 * n)) lines"
[ "$limited" = 0 ] || fail "$limited 429s from the shared limit"
# The simulator's bucket starts with 10 and refills 10 a second.
ratio=$(awk -v a="$t0" -v b="$t1" -v n=$((3 * n)) 'BEGIN { printf "%d", 100 * ((n - 10) / 10) / (b - a) }')
# A loose floor (sanitizer builds, a busy machine): the hosts share the
# pace, they do not take turns.
[ "$ratio" -ge 50 ] || fail "the three hosts took twice the ideal time ($ratio%)"
note "3 hosts: $((3 * n)) requests, 0 429s, $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, ${ratio}% of the ideal pace"
clean_stderr "$tmp"/h*.log
