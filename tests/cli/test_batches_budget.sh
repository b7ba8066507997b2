#!/usr/bin/env bash
# `batch --via batches` under a daily budget below the file's worst case at
# batch prices: the jobs that fit are reserved and submitted, the rest wait
# as blocked_budget (exit 3), and neither the reservations submitted nor
# the spend recorded ever pass the limit. Raising the budget and running
# again sends only the blocked ones (no custom_id twice) and finishes.
. "$(dirname "$0")/reliab_lib.sh"

n=20
export ANTHROPIC_API_KEY=sk-test-budget
start_sim sim_b --batch-delay-ms 100
export ANTHROPIC_BASE_URL=$sim_url
db=$tmp/b.db
write_config "$tmp/b.json" "$db"
export AIMETER_CONFIG=$tmp/b.json
for i in $(seq 1 $n); do
	printf '{"id":"b%d","prompt":"budget line %d","model":"claude-haiku-4-5","max_tokens":24}\n' "$i" "$i"
done >"$tmp/in.jsonl"
limit=1000000000 # $0.001 in pUSD: about 8 of the 20 lines' worst cases
am batch "$tmp/in.jsonl" --out "$tmp/1.out" --via batches --poll-s 0.1 --budget 0.001 2>"$tmp/1.err"
rc=$?
clean_stderr "$tmp/1.err"
[ $rc = 3 ] || fail "over budget: exit $rc, want 3: $(tail -n2 "$tmp/1.err")"
done1=$(q "$db" "SELECT count(*) FROM jobs WHERE state = 'done'")
blocked=$(q "$db" "SELECT count(*) FROM jobs WHERE state = 'blocked_budget'")
[ "$done1" -gt 0 ] && [ "$blocked" -gt 0 ] && [ $((done1 + blocked)) = $n ] ||
	fail "over budget: $(state_counts "$db")"
spent=$(q "$db" "SELECT coalesce(sum(cost_pusd), 0) FROM usage_events")
[ "$spent" -le $limit ] || fail "spent $spent pUSD over the limit $limit"
# No batch reserved more than the limit, and no call cost more than its
# reservation (a batch submitted later reserves what the ones before left).
reserved=$(q "$db" "SELECT max(r) FROM (SELECT sum(reserved_pusd) AS r FROM provider_batch_jobs GROUP BY batch)")
[ "$reserved" -le $limit ] || fail "a batch reserved $reserved pUSD, over the limit $limit"
v=$(q "$db" "SELECT count(*) FROM provider_batch_jobs l JOIN usage_events u ON u.job_id = l.job_id
	WHERE u.cost_pusd > l.reserved_pusd")
[ "$v" = 0 ] || fail "$v call(s) cost more than their reservation"
[ "$(q "$db" "SELECT count(*) FROM provider_batches")" -ge 2 ] ||
	fail "the budget freed by the first batch's results was not used"
blk=$(jsonl_query "$tmp/1.out" "SELECT count(*) FROM t WHERE json_extract(l, '\$.status') = 'blocked'")
[ "$blk" = "$blocked" ] || fail "the results say $blk blocked, the ledger $blocked"
exactly_once "$db"

am batch "$tmp/in.jsonl" --out "$tmp/2.out" --via batches --poll-s 0.1 --budget 1 2>"$tmp/2.err"
rc=$?
clean_stderr "$tmp/2.err"
[ $rc = 0 ] || fail "budget raised: exit $rc: $(tail -n2 "$tmp/2.err")"
[ "$(state_counts "$db")" = "done=$n" ] || fail "budget raised: $(state_counts "$db")"
stop_sim "$sim_pid"
[ "$(sim_stat sim_b repeated)" = 0 ] || fail "$(sim_stat sim_b repeated) custom_ids sent twice"
[ "$(sim_stat sim_b 'batch requests')" = $n ] || fail "sent $(sim_stat sim_b 'batch requests')"
exactly_once "$db"
note "budget: $done1 of $n lines in \$0.001 ($spent pUSD spent), the rest after raising it"
