#!/usr/bin/env bash
# No 429 storm, end to end (README "What aimeter promises"): a batch of 100
# against a simulator limited to 1200 requests per minute with a one-second
# request bucket of 20 (as the API enforces a minute's limit over short
# windows). Knowing the limits (configured a little under), it gets no 429;
# not knowing them (configured as unlimited), it learns the minute limits
# from the response headers and each 429 pauses the limit, so 429s stay
# fewer than the lines. Every line is answered once either way.
. "$(dirname "$0")/reliab_lib.sh"

export ANTHROPIC_API_KEY=sk-test-storm
n=100
lines "$tmp/storm.jsonl" $n storm
sim_limits=(--rpm 1200 --rpm-burst 20 --itpm 200000 --otpm 40000)

# run NAME LIMITS-JSON: one batch against a fresh limited simulator.
run() {
	start_sim "$1" "${sim_limits[@]}"
	local pid=$sim_pid
	export ANTHROPIC_BASE_URL=$sim_url
	db=$tmp/$1.db
	printf '{"db":"%s","limits":{%s},"budget":{"daily_usd":"0"}}\n' "$db" "$2" >"$tmp/$1.json"
	export AIMETER_CONFIG=$tmp/$1.json
	local t0=$SECONDS
	am batch --no-cache "$tmp/storm.jsonl" >"$tmp/$1.out" 2>"$tmp/$1.log" ||
		fail "$1: batch failed: $(tail -n3 "$tmp/$1.log")"
	secs=$((SECONDS - t0))
	stop_sim "$pid"
	[ "$(state_counts "$db")" = "done=$n" ] || fail "$1: $(state_counts "$db")"
	[ "$(sim_stat "$1" ok)" = $n ] || fail "$1: $(sim_stat "$1" ok) answers for $n lines"
	exactly_once "$db"
}

# Known: configured 10% under the provider's, the margin a real network
# (or a sanitizer-slowed process) needs, since a request can reach the
# server later than it left and bunch up with the next one.
run known '"rpm":1080,"rpm_burst":18,"itpm":180000,"otpm":36000'
[ "$(sim_stat known rate-limited)" = 0 ] || fail "known limits: $(sim_stat known rate-limited) 429s"
# 100 requests at 18/s take 5.5 s; allow a slow machine three times that.
[ $secs -le 17 ] || fail "known limits: $secs s for $n requests (the limit allows 5.5 s)"
note "known limits: $n requests, 0 429s, $secs s"

run learned '"rpm":0,"itpm":0,"otpm":0'
limited=$(sim_stat learned rate-limited)
requests=$(sim_stat learned requests)
# The hidden one-second bucket costs some 429s at the start (44 here);
# a client that retried without pausing would collect more than one per line.
[ "$limited" -lt $n ] || fail "learning the limits: $limited 429s in $requests requests"
note "learned limits: $requests requests, $limited 429s, $secs s"
clean_stderr "$tmp"/*.log
