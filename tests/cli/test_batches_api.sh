#!/usr/bin/env bash
# `aimeter batch --via batches`: 2,000 lines through the simulator's
# Message Batches endpoints, split into provider batches. Every line ok; the
# ledger's total equals the exact batch-price cost of the usage the
# simulator reported (priced by `aimeter record --batch` on a scratch
# ledger); every row is a batch row; the simulator saw each custom_id once;
# the results file keeps the input order; `aimeter batches` lists them.
. "$(dirname "$0")/reliab_lib.sh"

n=2000
export ANTHROPIC_API_KEY=sk-test-batches
start_sim api --batch-delay-ms 300
sim=$sim_pid
export ANTHROPIC_BASE_URL=$sim_url
ledger_with api 0
for i in $(seq 1 $n); do
	printf '{"id":"q%d","prompt":"question %d of the batch","model":"claude-haiku-4-5","max_tokens":%d}\n' \
		"$i" "$i" $((8 + i % 17))
done >"$tmp/in.jsonl"
am batch "$tmp/in.jsonl" --out "$tmp/out.jsonl" --via batches --poll-s 0.2 --max-requests 700 \
	2>"$tmp/run.err"
rc=$?
[ $rc = 0 ] || fail "batch --via batches exited $rc: $(tail -n3 "$tmp/run.err")"
clean_stderr "$tmp/run.err"
tail -n1 "$tmp/run.err" | grep -q "^batch $n/$n done · 0 failed · 0 blocked" ||
	fail "the tally: $(tail -n1 "$tmp/run.err")"
grep -q "^batches .* done" "$tmp/run.err" || fail "no batches progress line: $(cat "$tmp/run.err")"
[ "$(jsonl_check "$tmp/out.jsonl")" = $n ] || fail "output lines"
ok=$(jsonl_query "$tmp/out.jsonl" "SELECT count(*) FROM t WHERE json_extract(l, '\$.status') = 'ok'")
[ "$ok" = $n ] || fail "$ok of $n lines ok"
order=$(jsonl_query "$tmp/out.jsonl" "SELECT group_concat(json_extract(l, '\$.id'), ',') FROM (SELECT l FROM t LIMIT 3)")
[ "$order" = "q1,q2,q3" ] || fail "the results are not in input order: $order"
exactly_once "$db"
[ "$(q "$db" "SELECT count(*) FROM usage_events WHERE batch = 1 AND source = 'batch'")" = $n ] ||
	fail "not every row is a batch row"
[ "$(q "$db" "SELECT count(*) FROM provider_batches WHERE state = 'done'")" = 3 ] ||
	fail "2,000 lines at 700 a batch: $(q "$db" "SELECT id, state, requests FROM provider_batches")"

# `aimeter batches` lists the three, with the money saved.
am batches >"$tmp/list.out" 2>"$tmp/list.err" || fail "aimeter batches: $(cat "$tmp/list.err")"
[ "$(grep -c '^msgbatch_' "$tmp/list.out")" = 3 ] || fail "aimeter batches: $(cat "$tmp/list.out")"
grep -q "saved" "$tmp/list.out" || fail "aimeter batches shows no saving: $(cat "$tmp/list.out")"

stop_sim "$sim"
st() { sim_stat api "$1"; }
[ "$(st 'batch requests')" = $n ] || fail "the simulator got $(st 'batch requests') requests"
[ "$(st 'distinct custom_ids')" = $n ] || fail "distinct custom_ids: $(st 'distinct custom_ids')"
[ "$(st repeated)" = 0 ] || fail "$(st repeated) custom_ids submitted twice"
in=$(st 'batch input') out=$(st 'batch output') cw=$(st 'batch cache writes') cr=$(st 'batch cache reads')
# The exact batch price of what the simulator reported, by the pricing module.
printf '{"db":"%s"}\n' "$tmp/price.db" >"$tmp/price.json"
AIMETER_CONFIG=$tmp/price.json am record --model claude-haiku-4-5-20251001 --input "$in" \
	--output "$out" --cache-write-5m "$cw" --cache-read "$cr" --batch >/dev/null 2>"$tmp/rec.err" ||
	fail "record: $(cat "$tmp/rec.err")"
want=$(q "$tmp/price.db" "SELECT cost_pusd FROM usage_events")
got=$(q "$db" "SELECT sum(cost_pusd) FROM usage_events")
[ -n "$want" ] && [ "$got" = "$want" ] || fail "ledger total $got pUSD, batch price of the simulator's usage $want pUSD"
note "batches: $n lines, 3 provider batches, $got pUSD = the batch price of $in in / $out out"
