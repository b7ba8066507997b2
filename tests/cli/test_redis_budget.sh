#!/usr/bin/env bash
# Three hosts (aimeter processes with separate ledgers), one daily budget
# shared through Redis: run together they never spend past it (each alone
# would spend up to all of it), the ones that do not fit stop as blocked
# (exit 3), and raising the budget lets the blocked jobs finish, each
# recorded once. A host's spend and the organisation's are in Redis, under
# the prefix; a password file (mode 0600) opens a Redis that asks for one.
. "$(dirname "$0")/reliab_lib.sh"
. "$(dirname "$0")/redis_lib.sh"

export ANTHROPIC_API_KEY=sk-test-budget
n=25
start_redis
redis-cli -p "$redis_port" config set requirepass 'b-pass-77' >/dev/null
printf 'b-pass-77\n' >"$tmp/redis.pw"
chmod 600 "$tmp/redis.pw"
start_sim budget --latency-ms 300 --output-tokens 40
export ANTHROPIC_BASE_URL=$sim_url

config() { # HOST
	printf '{"db":"%s","limits":{"rpm":0,"itpm":0,"otpm":0},"cache":{"enabled":false},"redis":{"url":"%s","password_file":"%s","prefix":"org7:"}}\n' \
		"$tmp/h$1.db" "$redis_url" "$tmp/redis.pw" >"$tmp/h$1.json"
}

# batch_all USD: the three hosts at once; their exit codes in $codes.
batch_all() {
	local h pids=()
	for h in 1 2 3; do
		AIMETER_CONFIG=$tmp/h$h.json am batch --budget "$1" "$tmp/h$h.jsonl" \
			>"$tmp/h$h.out" 2>"$tmp/h$h.log" &
		pids+=($!)
	done
	codes=
	for h in 1 2 3; do
		wait "${pids[$((h - 1))]}"
		codes="$codes$?"
	done
}

for h in 1 2 3; do
	config $h
	for i in $(seq 1 $n); do
		printf '{"id":"h%d-%d","prompt":"Host %d budget line %d","max_tokens":64}\n' $h $i $h $i
	done >"$tmp/h$h.jsonl"
done

spent_pusd() { # total over the three ledgers
	local h t=0
	for h in 1 2 3; do
		t=$((t + $(q "$tmp/h$h.db" "SELECT coalesce(sum(cost_pusd), 0) FROM usage_events")))
	done
	echo $t
}

batch_all 0.004
limit=4000000000
spent=$(spent_pusd)
[ "$spent" -le $limit ] || fail "together the hosts spent $spent pUSD of $limit"
[ "$spent" -gt $((limit / 2)) ] || fail "only $spent pUSD of $limit spent"
case $codes in *3*) ;; *) fail "no host stopped blocked (exit codes $codes)" ;; esac
grep -q "organisation's daily budget" "$tmp"/h*.out "$tmp"/h*.log ||
	note "(no host printed the organisation's reason)"
# Redis has the organisation's figures under the prefix, and no password in sight.
org=0
for v in $(redis-cli -p "$redis_port" -a b-pass-77 --no-auth-warning hvals "org7:b:day:$(date +%F)"); do
	org=$((org + v))
done
[ "$org" = "$spent" ] || fail "Redis holds $org pUSD for the day, the ledgers $spent"
for h in 1 2 3; do
	AIMETER_CONFIG=$tmp/h$h.json am config >"$tmp/cfg$h.txt" 2>&1
	! grep -q b-pass-77 "$tmp/cfg$h.txt" "$tmp/h$h.log" || fail "the Redis password was printed"
done
note "budget \$0.004: the three hosts spent $spent pUSD together (exit codes $codes)"

batch_all 1
[ "$codes" = 000 ] || fail "after raising the budget: exit codes $codes"
for h in 1 2 3; do
	[ "$(state_counts "$tmp/h$h.db")" = "done=$n" ] || fail "host $h: $(state_counts "$tmp/h$h.db")"
	exactly_once "$tmp/h$h.db"
done
clean_stderr "$tmp"/h*.log
