#!/usr/bin/env bash
# The hard budget cap, end to end (README "What aimeter promises"): a batch
# of 120 lines under a daily budget that pays for a few dozen. Calls in
# flight at once (64) and faults that make calls retry do not let the day's
# spend pass the cap by a single picodollar; the lines the budget cannot
# pay for end "blocked", are never sent, and a re-run sends none of them.
. "$(dirname "$0")/reliab_lib.sh"

export ANTHROPIC_API_KEY=sk-test-budget
start_sim cap --fault-529 0.1 --fault-truncate 0.05 --seed 3
cap_pid=$sim_pid
export ANTHROPIC_BASE_URL=$sim_url
db=$tmp/cap.db
cap_usd=0.004
printf '{"db":"%s","limits":{"rpm":0,"itpm":0,"otpm":0},"budget":{"daily_usd":"%s"},%s}\n' \
	"$db" "$cap_usd" '"client":{"max_retries":3},"selector":{"model":"claude-haiku-4-5"}' >"$tmp/cap.json"
export AIMETER_CONFIG=$tmp/cap.json
lines "$tmp/cap.jsonl" 120 cap
am batch --no-cache "$tmp/cap.jsonl" >"$tmp/cap1.out" 2>"$tmp/cap1.err"
rc=$?
[ $rc = 3 ] || fail "batch over the budget: exit $rc, want 3: $(tail -n3 "$tmp/cap1.err")"
# spend_pusd: the day's spend in picodollars, summed by the ledger itself.
spend_pusd() { q "$db" "SELECT coalesce(sum(cost_pusd), 0) FROM usage_events"; }
spent=$(spend_pusd)
cap_pusd=4000000000 # $0.004 in picodollars (10^-12 USD)
[ "$spent" -gt 0 ] || fail "nothing was spent"
[ "$spent" -le $cap_pusd ] || fail "spent $spent pUSD, over the cap of $cap_pusd"
blocked=$(q "$db" "SELECT count(*) FROM jobs WHERE state = 'blocked_budget'")
[ "$blocked" -gt 0 ] || fail "no line was blocked: $(state_counts "$db")"
[ "$(jsonl_query "$tmp/cap1.out" "SELECT count(*) FROM t WHERE json_extract(l, '\$.status') = 'blocked'")" = "$blocked" ] ||
	fail "the output does not report the blocked lines"
stop_sim "$cap_pid"
sent=$(sim_stat cap requests)
# The same command again: the budget is spent, so nothing more is sent.
start_sim cap2
cap2_pid=$sim_pid
export ANTHROPIC_BASE_URL=$sim_url
am batch --no-cache "$tmp/cap.jsonl" >"$tmp/cap2.out" 2>"$tmp/cap2.err"
rc=$?
stop_sim "$cap2_pid"
[ $rc = 3 ] || fail "re-run: exit $rc, want 3"
[ "$(spend_pusd)" = "$spent" ] || fail "the re-run spent more: $(spend_pusd) pUSD"
[ "$(sim_stat cap2 requests)" -le 1 ] || fail "the re-run sent $(sim_stat cap2 requests) calls over a spent budget"
exactly_once "$db"
clean_stderr "$tmp"/*.err
note "budget: $spent of $cap_pusd pUSD spent by $sent requests; $blocked lines blocked"
