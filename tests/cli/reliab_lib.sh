# Shared by the fault, crash, limits and secrets tests (sourced, not run).
#
# Each test gets a private scratch directory ($tmp) holding its XDG homes,
# configs and ledgers; simulators run as separate `aimeter sim` processes on
# ephemeral loopback ports and are stopped by pid. Every aimeter run goes
# through `am`, which bounds it with a timeout: a hang fails the test
# instead of stalling the suite.
set -uo pipefail

bin=${AIMETER_BIN:?AIMETER_BIN must name the aimeter binary}
command -v sqlite3 >/dev/null || { echo "FAIL: the sqlite3 CLI is required" >&2; exit 1; }
tmp=$(mktemp -d)
chmod 755 "$tmp" # other users (the read-only fallback runs as nobody) must reach it
export XDG_CONFIG_HOME=$tmp/xdg/config XDG_DATA_HOME=$tmp/xdg/data XDG_STATE_HOME=$tmp/xdg/state
unset AIMETER_DB AIMETER_CONFIG ANTHROPIC_API_KEY ANTHROPIC_BASE_URL
bg_pids=()

reliab_cleanup() {
	local p
	for p in "${bg_pids[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap reliab_cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}
note() { echo "# $*" >&2; }

# am ARGS...: aimeter, bounded by AM_TIMEOUT seconds (default 90).
am() { timeout -k 5 "${AM_TIMEOUT:-90}" "$bin" "$@"; }

# q DB SQL: one query through the sqlite3 CLI (waits out a writer's lock);
# $q_wrap, when set, is a command prefix (nsenter ...).
q() { ${q_wrap:-} sqlite3 -batch -noheader -cmd '.timeout 10000' "$1" "$2"; }

# start_sim NAME ARGS...: `aimeter sim --port 0 ARGS` in the background;
# sets sim_url and sim_pid. Its stderr (the summary) goes to $tmp/NAME.err.
start_sim() {
	local name=$1
	shift
	"$bin" sim --port 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	sim_pid=$!
	bg_pids+=("$sim_pid")
	sim_url=
	local i
	for i in $(seq 1 200); do
		sim_url=$(head -n1 "$tmp/$name.out" 2>/dev/null)
		[ -n "$sim_url" ] && break
		sleep 0.05
	done
	[ -n "$sim_url" ] || fail "simulator $name did not start: $(cat "$tmp/$name.err")"
}

# stop_sim PID: SIGTERM and wait (the summary line lands in its .err file).
stop_sim() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}

# sim_stat NAME WORD: a figure from the simulator's summary, e.g.
# `sim_stat a ok` or `sim_stat a overloaded` ("... 12 ok, 3 overloaded ...").
sim_stat() {
	grep -o "[0-9]* $2" "$tmp/$1.err" | head -n1 | cut -d' ' -f1
}

# write_config FILE DB [JSON-MEMBERS]: no client-side limits and no budget
# unless the extra members (e.g. '"client":{"max_retries":1}') say so.
write_config() {
	local f=$1 db=$2 extra=${3:-}
	printf '{"db":"%s","limits":{"rpm":0,"itpm":0,"otpm":0},"budget":{"daily_usd":"0"}%s}\n' \
		"$db" "${extra:+,$extra}" >"$f"
}

# ledger_with NAME N [DB]: config $tmp/NAME.json (exported as
# AIMETER_CONFIG) for the ledger DB (default $tmp/NAME.db, also in $db),
# holding N answered lines (a batch through the current simulator).
ledger_with() {
	db=${3:-$tmp/$1.db}
	write_config "$tmp/$1.json" "$db"
	export AIMETER_CONFIG=$tmp/$1.json
	[ "$2" -gt 0 ] || return 0
	lines "$tmp/$1-seed.jsonl" "$2" "$1"
	am batch "$tmp/$1-seed.jsonl" >/dev/null 2>"$tmp/$1-seed.err" ||
		fail "setting up $1: $(cat "$tmp/$1-seed.err")"
}

# lines FILE N [TAG]: N distinct one-line prompts.
lines() {
	local i
	for i in $(seq 1 "$2"); do
		printf '{"id":"%s%d","prompt":"%s line %d","max_tokens":24}\n' "${3:-l}" "$i" "${3:-l}" "$i"
	done >"$1"
}

# exactly_once DB: the ledger invariants that hold at every moment, even
# right after a SIGKILL: a done job has exactly one usage row, no other job
# has one, no row belongs to no job, the per-day summary matches the rows,
# and SQLite finds the file sound.
exactly_once() {
	local db=$1 v
	v=$(q "$db" "SELECT count(*) FROM jobs j WHERE state = 'done' AND
		(SELECT count(*) FROM usage_events u WHERE u.job_id = j.id) != 1")
	[ "$v" = 0 ] || fail "$v done job(s) without exactly one ledger row in $db"
	# A call cut short after the provider began it is billed: its row is
	# estimated, and its job ended failed or cancelled.
	v=$(q "$db" "SELECT count(*) FROM jobs j WHERE state != 'done' AND
		EXISTS (SELECT 1 FROM usage_events u WHERE u.job_id = j.id AND
			NOT (u.estimated = 1 AND j.state IN ('failed', 'cancelled')))")
	[ "$v" = 0 ] || fail "$v unfinished or failed job(s) with a ledger row in $db"
	v=$(q "$db" "SELECT count(*) FROM usage_events u JOIN jobs j ON j.id = u.job_id
		WHERE u.estimated = 1 AND j.state = 'done'")
	[ "$v" = 0 ] || fail "$v done job(s) with an estimated ledger row in $db"
	v=$(q "$db" "SELECT count(*) FROM usage_events WHERE job_id IS NULL OR
		job_id NOT IN (SELECT id FROM jobs)")
	[ "$v" = 0 ] || fail "$v ledger row(s) belong to no job in $db"
	v=$(q "$db" "SELECT (SELECT coalesce(sum(requests), 0) FROM usage_daily) =
		(SELECT count(*) FROM usage_events)")
	[ "$v" = 1 ] || fail "usage_daily disagrees with usage_events in $db"
	v=$(q "$db" "PRAGMA integrity_check")
	[ "$v" = ok ] || fail "integrity_check of $db: $v"
}

# state_counts DB: "done=N failed=N queued=N ..." for messages.
state_counts() {
	q "$1" "SELECT group_concat(state || '=' || n, ' ') FROM
		(SELECT state, count(*) AS n FROM jobs GROUP BY state ORDER BY state)"
}

# jsonl_check FILE: every line is valid JSON and valid UTF-8; prints the
# number of lines.
jsonl_check() {
	local f=$1 n bad
	iconv -f UTF-8 -t UTF-8 "$f" >/dev/null 2>&1 || fail "$f is not valid UTF-8"
	n=$(wc -l <"$f")
	bad=$(jsonl_query "$f" "SELECT count(*) FROM t WHERE NOT json_valid(l)")
	[ "$bad" = 0 ] || fail "$bad line(s) of $f are not valid JSON"
	echo "$n"
}

# jsonl_query FILE SQL: SQL over table t(l), one row per line of FILE.
jsonl_query() {
	sqlite3 -batch -noheader :memory: -cmd '.mode ascii' -cmd '.separator "\037" "\n"' \
		"CREATE TABLE t(l TEXT)" ".import '$1' t" ".mode list" "$2"
}

# clean_stderr FILE...: no sanitizer report and no crash message.
clean_stderr() {
	local f
	for f in "$@"; do
		if grep -qE 'AddressSanitizer|ThreadSanitizer|LeakSanitizer|runtime error:|Segmentation' "$f"; then
			cat "$f" >&2
			fail "a sanitizer or crash report in $f"
		fi
	done
}

# wait_until SECONDS CMD...: polls CMD every 50 ms until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
}
