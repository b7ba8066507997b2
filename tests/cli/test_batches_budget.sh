#!/usr/bin/env bash
# `batch --via batches` under a daily budget below the file's worst case at
# batch prices: the jobs that fit are reserved and submitted, the rest wait
# as blocked_budget (exit 3), and neither the reservations submitted nor
# the spend recorded ever pass the limit. Raising the budget and running
# again sends only the blocked ones (no custom_id twice) and finishes.
# The same with a tag's own daily limit (budget.tags): only that tag's
# lines wait, the other tag's all finish, and the tag never spends past
# its limit; raising the limit lets a re-run finish the rest.
. "$(dirname "$0")/reliab_lib.sh"

# rerun_finishes FILE SIM WHAT [OPTION...]: a re-run of FILE finishes every
# line of $db; over the two runs SIM got each line once, none twice.
rerun_finishes() {
	local rc
	am batch "$1" --out "$tmp/rerun.out" --via batches --poll-s 0.1 "${@:4}" 2>"$tmp/rerun.err"
	rc=$?
	clean_stderr "$tmp/rerun.err"
	[ $rc = 0 ] || fail "$3: exit $rc: $(tail -n2 "$tmp/rerun.err")"
	[ "$(state_counts "$db")" = "done=$n" ] || fail "$3: $(state_counts "$db")"
	stop_sim "$sim_pid"
	[ "$(sim_stat "$2" repeated)" = 0 ] || fail "$(sim_stat "$2" repeated) custom_ids sent twice"
	[ "$(sim_stat "$2" 'batch requests')" = $n ] || fail "sent $(sim_stat "$2" 'batch requests')"
	exactly_once "$db"
}

n=20
export ANTHROPIC_API_KEY=sk-test-budget
start_sim sim_b --batch-delay-ms 100
export ANTHROPIC_BASE_URL=$sim_url
ledger_with b 0
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

rerun_finishes "$tmp/in.jsonl" sim_b "budget raised" --budget 1
note "budget: $done1 of $n lines in \$0.001 ($spent pUSD spent), the rest after raising it"

# ---- budget.tags: one tag capped, the other free ----------------------------
start_sim sim_t --batch-delay-ms 100
export ANTHROPIC_BASE_URL=$sim_url
db=$tmp/t.db
tag_config() { # LIMIT_USD of tag capped
	printf '{"db":"%s","limits":{"rpm":0,"itpm":0,"otpm":0},"budget":{"daily_usd":"0","tags":{"capped":"%s"}}}\n' \
		"$db" "$1" >"$tmp/t.json"
}
tag_config 0.0004
export AIMETER_CONFIG=$tmp/t.json
for i in $(seq 1 $n); do # the capped lines first in every pair
	t=capped
	[ $((i % 2)) = 0 ] && t=free
	printf '{"id":"t%d","prompt":"tag line %d","model":"claude-haiku-4-5","max_tokens":24,"tag":"%s"}\n' \
		"$i" "$i" "$t"
done >"$tmp/tags.jsonl"
climit=400000000 # $0.0004 in pUSD: about 3 of the 10 capped lines' worst cases
am batch "$tmp/tags.jsonl" --out "$tmp/t1.out" --via batches --poll-s 0.1 2>"$tmp/t1.err"
rc=$?
clean_stderr "$tmp/t1.err"
[ $rc = 3 ] || fail "tag over its limit: exit $rc, want 3: $(tail -n2 "$tmp/t1.err")"
[ "$(q "$db" "SELECT count(*) FROM jobs WHERE tag = 'free' AND state = 'done'")" = $((n / 2)) ] ||
	fail "the free tag's lines did not all finish: $(q "$db" "SELECT tag, state, count(*) FROM jobs GROUP BY 1, 2")"
cdone=$(q "$db" "SELECT count(*) FROM jobs WHERE tag = 'capped' AND state = 'done'")
cblocked=$(q "$db" "SELECT count(*) FROM jobs WHERE tag = 'capped' AND state = 'blocked_budget'")
[ "$cdone" -gt 0 ] && [ "$cblocked" -gt 0 ] && [ $((cdone + cblocked)) = $((n / 2)) ] ||
	fail "capped: $cdone done, $cblocked blocked"
[ "$(q "$db" "SELECT count(*) FROM jobs WHERE state = 'blocked_budget' AND (tag != 'capped'
	OR error NOT LIKE '%tag capped%')")" = 0 ] ||
	fail "a blocked job not of the capped tag, or its reason names no tag: $(q "$db" "SELECT tag, error FROM jobs WHERE state = 'blocked_budget' LIMIT 1")"
cspent=$(q "$db" "SELECT coalesce(sum(cost_pusd), 0) FROM usage_events WHERE tag = 'capped'")
[ "$cspent" -le $climit ] || fail "the capped tag spent $cspent pUSD, over its limit $climit"
[ "$(q "$db" "SELECT count(*) FROM usage_events WHERE tag = 'free'")" = $((n / 2)) ] ||
	fail "the free tag's ledger rows: $(q "$db" "SELECT count(*) FROM usage_events WHERE tag = 'free'")"
# No batch reserved more than the tag's limit for it (one submitted later
# reserves what the capped lines settled before it left).
creserved=$(q "$db" "SELECT max(r) FROM (SELECT sum(l.reserved_pusd) AS r FROM provider_batch_jobs l
	JOIN jobs j ON j.id = l.job_id WHERE j.tag = 'capped' GROUP BY l.batch)")
[ "$creserved" -le $climit ] || fail "a batch reserved $creserved pUSD for the capped tag, over its limit $climit"
exactly_once "$db"

tag_config 1
rerun_finishes "$tmp/tags.jsonl" sim_t "tag limit raised"
note "budget.tags: $cdone of $((n / 2)) capped lines in \$0.0004 ($cspent pUSD), every free line, the rest after raising it"
