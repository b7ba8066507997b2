#!/usr/bin/env bash
# Redis killed under a running batch (redis.on_failure pause): the batch
# does not crash, says Redis is unreachable, sends nothing while it is down
# (its ledger stops growing), and once Redis is back on its port every
# line is answered and recorded exactly once (the simulator answered each
# line once: nothing was sent twice).
. "$(dirname "$0")/reliab_lib.sh"
. "$(dirname "$0")/redis_lib.sh"

export ANTHROPIC_API_KEY=sk-test-outage
n=40
start_redis
start_sim outage --rpm 600 --rpm-burst 5 --itpm 0 --otpm 0 --latency-ms 50
export ANTHROPIC_BASE_URL=$sim_url
lines "$tmp/o.jsonl" $n outage
db=$tmp/o.db
printf '{"db":"%s","limits":{"rpm":600,"rpm_burst":5,"itpm":0,"otpm":0},"budget":{"daily_usd":"0"},"redis":{"url":"%s"}}\n' \
	"$db" "$redis_url" >"$tmp/o.json"
AIMETER_CONFIG=$tmp/o.json am batch --no-cache "$tmp/o.jsonl" >"$tmp/o.out" 2>"$tmp/o.log" &
batch=$!
bg_pids+=("$batch")
rows() { q "$db" "SELECT count(*) FROM usage_events" 2>/dev/null || echo 0; }
some() { [ "$(rows)" -ge 8 ]; }
wait_until 60 some || fail "the batch did not start: $(tail -n3 "$tmp/o.log")"
stop_redis KILL
sleep 0.5 # calls on the wire land
before=$(rows)
sleep 2
after=$(rows)
[ "$after" = "$before" ] || fail "$((after - before)) calls answered while Redis was down"
[ "$before" -lt $n ] || fail "the batch finished before Redis went down"
grep -q "unreachable" "$tmp/o.log" || fail "the batch did not say Redis is unreachable: $(tail -n3 "$tmp/o.log")"
kill -0 $batch 2>/dev/null || fail "the batch ended while Redis was down: $(tail -n3 "$tmp/o.log")"
start_redis "$redis_port"
wait $batch || fail "the batch failed after Redis came back: $(tail -n3 "$tmp/o.log")"
stop_sim "$sim_pid"
[ "$(state_counts "$db")" = "done=$n" ] || fail "$(state_counts "$db")"
exactly_once "$db"
[ "$(sim_stat outage ok)" = $n ] || fail "the simulator answered $(sim_stat outage ok) calls for $n lines"
grep -q "is back" "$tmp/o.log" || fail "the batch did not say Redis is back"
note "Redis down for 2.5 s at $before of $n lines: nothing sent meanwhile, all $n answered once"
clean_stderr "$tmp/o.log"
