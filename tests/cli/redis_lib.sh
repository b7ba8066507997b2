# A private redis-server for a CLI test (sourced after reliab_lib.sh), as
# tests/support/redisfix.c starts one for the C suites: a free loopback
# port, a scratch directory, no persistence, stopped by its pid.
command -v redis-server >/dev/null || fail "redis-server is required (scripts/deps.sh)"


# start_redis [PORT]: sets redis_port, redis_pid, redis_url; waits for PING.
start_redis() {
	local attempt
	for attempt in 1 2 3 4 5; do
		redis_port=${1:-$((20000 + RANDOM % 40000))}
		mkdir -p "$tmp/redis"
		redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
			--dir "$tmp/redis" --logfile "$tmp/redis/redis.log" &
		redis_pid=$!
		bg_pids+=("$redis_pid")
		redis_url=redis://127.0.0.1:$redis_port
		if wait_until 5 redis_ping; then
			return 0
		fi
		kill "$redis_pid" 2>/dev/null
		wait "$redis_pid" 2>/dev/null
		[ -z "${1:-}" ] || sleep 0.5
	done
	fail "redis-server did not start: $(tail -n3 "$tmp/redis/redis.log" 2>/dev/null)"
}

redis_ping() {
	[ "$(redis-cli -p "$redis_port" ping 2>/dev/null)" = PONG ]
}

# stop_redis [KILL]: SIGTERM (or SIGKILL) and wait.
stop_redis() {
	kill -"${1:-TERM}" "$redis_pid" 2>/dev/null
	wait "$redis_pid" 2>/dev/null
}
