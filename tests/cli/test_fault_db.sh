#!/usr/bin/env bash
# Database faults: a read-only ledger, a corrupted one, one locked
# by another process (at start, and mid-run for longer than the busy
# timeout), and a disk that fills up mid-run. Each gives a clear error,
# nothing crashes, no job is lost and no ledger row is lost or doubled: a
# re-run after the fault is gone completes every job exactly once.
. "$(dirname "$0")/reliab_lib.sh"

start_sim fast
fast=$sim_url
export ANTHROPIC_API_KEY=sk-test-fault-db ANTHROPIC_BASE_URL=$fast

# ---------------------------------------------------------------------------
# 0. Another process opens and closes the ledger while a batch runs (the
#    sqlite3 CLI here; `aimeter report` or a second aimeter alike). Each of
#    its closes asks "am I the last connection?"; a wrong yes deletes the
#    -wal file under the batch and every later answer is lost.

start_sim slow0 --latency-ms 1500
slow_pid=$sim_pid
ledger_with shared 0
export ANTHROPIC_BASE_URL=$sim_url
lines "$tmp/shared.jsonl" 6 shared
am batch --concurrency 3 "$tmp/shared.jsonl" >"$tmp/shared.out" 2>"$tmp/shared.err" &
batch_pid=$!
n_in_flight() { [ "$(q "$db" "SELECT count(*) FROM jobs WHERE state = 'in_flight'" 2>/dev/null)" = "$1" ]; }
wait_until 30 n_in_flight 3 || fail "the first calls never were in flight: $(state_counts "$db")"
for i in 1 2 3; do q "$db" "SELECT count(*) FROM jobs" >/dev/null; done
# The first three answers land while the batch still runs: another
# process must see them (they would be in a deleted file otherwise).
n_recorded() { [ "$(q "$db" "SELECT count(*) FROM usage_events" 2>/dev/null)" -ge "$1" ]; }
wait_until 30 n_recorded 3 ||
	fail "answers the batch recorded are not in the ledger file: $(state_counts "$db")"
wait $batch_pid || fail "batch with a reader beside it: $(cat "$tmp/shared.err")"
stop_sim "$slow_pid"
export ANTHROPIC_BASE_URL=$fast
[ "$(q "$db" "SELECT count(*) FROM usage_events")" = 6 ] || fail "ledger rows: $(state_counts "$db")"
[ "$(state_counts "$db")" = "done=6" ] || fail "jobs: $(state_counts "$db")"
exactly_once "$db"

# ---------------------------------------------------------------------------
# 1. Read-only: the ledger directory cannot be written.

rodir=$tmp/ro
mkdir -p "$rodir"
chmod 755 "$rodir"
ledger_with ro 5 "$rodir/ledger.db"
chmod 644 "$rodir"/ledger.db* # readable by the unprivileged fallback below
before=$(sha256sum "$rodir/ledger.db")

# ro_exec CMD...: runs CMD with $rodir read-only for it, as root or not.
ro_how=
ro_exec() {
	case $ro_how in
	ns)
		unshare -m --propagation private bash -c \
			'd=$1; shift; mount --bind "$d" "$d" && mount -o remount,ro,bind "$d" "$d" && exec "$@"' \
			_ "$rodir" "$@"
		;;
	nobody) setpriv --reuid=65534 --regid=65534 --clear-groups "$@" ;;
	chmod) "$@" ;;
	esac
}
if [ "$(id -u)" != 0 ]; then
	chmod 555 "$rodir"
	ro_how=chmod
else
	for how in ns nobody; do
		ro_how=$how
		if ro_exec cat "$rodir/ledger.db" >/dev/null 2>&1 &&
			! ro_exec touch "$rodir/probe" 2>/dev/null; then
			break
		fi
		ro_how=
	done
	[ -n "$ro_how" ] || fail "no way to make a read-only directory here (unshare -m and setpriv failed)"
fi
note "read-only ledger via: $ro_how"

lines "$tmp/ro2.jsonl" 3 ro2
chmod 644 "$tmp/ro2.jsonl"
ro_exec "$bin" batch "$tmp/ro2.jsonl" >"$tmp/ro2.out" 2>"$tmp/ro2.err"
rc=$?
[ $rc = 1 ] || fail "batch on a read-only ledger: exit $rc, want 1: $(cat "$tmp/ro2.err")"
grep -q "read-only" "$tmp/ro2.err" || fail "batch does not say read-only: $(cat "$tmp/ro2.err")"
ro_exec "$bin" ask "hello" >"$tmp/ro3.out" 2>"$tmp/ro3.err"
rc=$?
[ $rc = 1 ] || fail "ask on a read-only ledger: exit $rc, want 1"
grep -q "read-only" "$tmp/ro3.err" || fail "ask does not say read-only: $(cat "$tmp/ro3.err")"
ro_exec "$bin" report --json >"$tmp/ro4.out" 2>"$tmp/ro4.err" ||
	fail "report must read a read-only ledger: $(cat "$tmp/ro4.err")"
grep -q '"requests":5' "$tmp/ro4.out" || fail "report of the read-only ledger: $(cat "$tmp/ro4.out")"
chmod 755 "$rodir"
[ "$(sha256sum "$rodir/ledger.db")" = "$before" ] || fail "the read-only ledger changed"
clean_stderr "$tmp"/ro*.err
[ "$(state_counts "$rodir/ledger.db")" = "done=5" ] || fail "jobs after read-only: $(state_counts "$rodir/ledger.db")"
exactly_once "$rodir/ledger.db"

# ---------------------------------------------------------------------------
# 2. Corrupted: a damaged file is refused with its name and the cause, and
#    left exactly as it was (aimeter never "repairs" a ledger by writing).

ledger_with good 40
good=$db
pages=$(($(stat -c %s "$good") / 4096))
[ "$pages" -gt 8 ] || fail "the ledger has only $pages pages"
# The jobs table's first page: every command that runs a prompt reads it.
jobs_root=$(sqlite3 "$good" "SELECT rootpage FROM sqlite_master WHERE name = 'jobs'")
[ "$jobs_root" -gt 1 ] || fail "no jobs table in the ledger"

corrupt() { # NAME: a damaged copy of $good at $tmp/NAME.db
	local f=$tmp/$1.db
	cp "$good" "$f"
	case $1 in
	header) printf 'this is not the SQLite header...' | dd of="$f" conv=notrunc status=none ;;
	pages) head -c $((3 * 4096)) /dev/urandom | dd of="$f" bs=4096 seek=$((jobs_root - 1)) conv=notrunc status=none ;;
	cut) truncate -s $((pages / 2 * 4096 + 1000)) "$f" ;;
	tail) head -c 4096 /dev/urandom | dd of="$f" bs=4096 seek=$((pages - 1)) conv=notrunc status=none ;;
	esac
}
lines "$tmp/more.jsonl" 5 more
for kind in header pages cut; do
	corrupt $kind
	sum=$(sha256sum "$tmp/$kind.db")
	for cmd in "batch $tmp/more.jsonl" "ask hello" "report"; do
		# shellcheck disable=SC2086
		am $cmd --db "$tmp/$kind.db" >"$tmp/c.out" 2>"$tmp/c.err"
		rc=$?
		# report reads a few summary pages only: it may not meet the damage.
		[ "$cmd" = report ] && [ $rc = 0 ] && continue
		[ $rc = 1 ] || fail "$cmd on a $kind-damaged ledger: exit $rc, want 1: $(cat "$tmp/c.err")"
		grep -qE "is corrupted|is not an SQLite database" "$tmp/c.err" ||
			fail "$cmd on a $kind-damaged ledger does not say so: $(cat "$tmp/c.err")"
		grep -q "$tmp/$kind.db" "$tmp/c.err" || fail "$cmd does not name the file: $(cat "$tmp/c.err")"
		clean_stderr "$tmp/c.err"
	done
	[ "$(sha256sum "$tmp/$kind.db")" = "$sum" ] || fail "aimeter wrote to the $kind-damaged ledger"
done
# Damage SQLite may only find later (the last page): a clean error or a
# clean run, never a crash or a hang.
corrupt tail
am batch "$tmp/more.jsonl" --db "$tmp/tail.db" >"$tmp/c.out" 2>"$tmp/c.err"
rc=$?
[ $rc = 0 ] || [ $rc = 1 ] || fail "batch on a ledger with a damaged last page: exit $rc"
[ $rc = 0 ] || grep -qE "corrupted|malformed" "$tmp/c.err" || fail "unclear error: $(cat "$tmp/c.err")"
clean_stderr "$tmp/c.err"
exactly_once "$good"

# ---------------------------------------------------------------------------
# 3. Locked by another process: a sqlite3 CLI holding a write transaction.

# lock_take DB / lock_release: BEGIN EXCLUSIVE in a sqlite3 process fed
# through a fifo, so the test decides when it commits.
lock_take() {
	rm -f "$tmp/lock.fifo" "$tmp/lock.out"
	mkfifo "$tmp/lock.fifo"
	sqlite3 "$1" <"$tmp/lock.fifo" >"$tmp/lock.out" 2>&1 &
	lock_pid=$!
	bg_pids+=("$lock_pid")
	exec 7>"$tmp/lock.fifo"
	printf ".timeout 20000\nBEGIN EXCLUSIVE;\nSELECT 'locked';\n" >&7
	wait_until 30 grep -q '^locked$' "$tmp/lock.out" || fail "the lock was not taken: $(cat "$tmp/lock.out")"
	! grep -q . <(grep -v '^locked$' "$tmp/lock.out") || fail "the lock was not taken: $(cat "$tmp/lock.out")"
}
lock_release() {
	printf 'COMMIT;\n' >&7
	exec 7>&-
	wait "$lock_pid"
}

ledger_with locked 4

# 3a. Held for the whole run: a clear error after the busy timeout, nothing
#     added; once it is released, the same command completes.
lines "$tmp/lk2.jsonl" 6 lk2
lock_take "$db"
t0=$SECONDS
am batch "$tmp/lk2.jsonl" >"$tmp/lk2.out" 2>"$tmp/lk2.err"
rc=$?
lock_release
[ $rc = 1 ] || fail "batch on a locked ledger: exit $rc, want 1: $(cat "$tmp/lk2.err")"
grep -q "locked by another process" "$tmp/lk2.err" || fail "no 'locked' message: $(cat "$tmp/lk2.err")"
[ $((SECONDS - t0)) -lt 40 ] || fail "batch took $((SECONDS - t0)) s to give up on a locked ledger"
[ "$(state_counts "$db")" = "done=4" ] || fail "jobs after the locked run: $(state_counts "$db")"
am batch "$tmp/lk2.jsonl" >"$tmp/lk2.out" 2>"$tmp/lk2.err" || fail "re-run after the lock: $(cat "$tmp/lk2.err")"
[ "$(state_counts "$db")" = "done=10" ] || fail "jobs after the re-run: $(state_counts "$db")"
exactly_once "$db"

# 3b. Taken while 8 calls are in flight and held past the busy timeout
#     (5 s): the answers that arrive meanwhile wait in memory, no new call
#     starts, and all of them land once the lock is gone.
start_sim slow --latency-ms 3000
slow_pid=$sim_pid
export ANTHROPIC_BASE_URL=$sim_url
lines "$tmp/lk3.jsonl" 8 lk3
am batch "$tmp/lk3.jsonl" >"$tmp/lk3.out" 2>"$tmp/lk3.err" &
batch_pid=$!
in_flight() { [ "$(q "$db" "SELECT count(*) FROM jobs WHERE state = 'in_flight'" 2>/dev/null)" = 8 ]; }
wait_until 30 in_flight || fail "the 8 calls never were in flight: $(state_counts "$db")"
lock_take "$db"
sleep 11 # the answers arrive at ~3 s; the first write gives up at ~8 s, the retry succeeds
lock_release
wait $batch_pid
rc=$?
stop_sim "$slow_pid"
export ANTHROPIC_BASE_URL=$fast
[ $rc = 0 ] || fail "batch across a long lock: exit $rc: $(cat "$tmp/lk3.err")"
grep -q "locked by another process" "$tmp/lk3.err" ||
	fail "the lock did not outlast the busy timeout (no notice): $(cat "$tmp/lk3.err")"
grep -q "writable again" "$tmp/lk3.err" || fail "no recovery notice: $(cat "$tmp/lk3.err")"
[ "$(jsonl_check "$tmp/lk3.out")" = 8 ] || fail "batch output: $(cat "$tmp/lk3.out")"
[ "$(jsonl_query "$tmp/lk3.out" "SELECT count(*) FROM t WHERE json_extract(l, '\$.status') = 'ok'")" = 8 ] ||
	fail "not every answer landed: $(cat "$tmp/lk3.out")"
[ "$(sim_stat slow ok)" = 8 ] || fail "the simulator answered $(sim_stat slow ok) calls, want 8 (one each)"
[ "$(state_counts "$db")" = "done=18" ] || fail "jobs after the long lock: $(state_counts "$db")"
exactly_once "$db"
clean_stderr "$tmp"/lk*.err

# ---------------------------------------------------------------------------
# 4. Disk full mid-run: a 16 MB tmpfs, in a private mount namespace so that
#    nothing outlives the test, filled while 10 calls are in flight.

if [ "$(id -u)" != 0 ] || ! command -v nsenter >/dev/null ||
	! unshare -m --propagation private true 2>/dev/null; then
	note "SKIP disk full: needs root and mount namespaces (unshare -m)"
	exit 0
fi
unshare -m --propagation private sleep 600 &
ns_pid=$!
bg_pids+=("$ns_pid")
other_ns() { [ "$(readlink /proc/$ns_pid/ns/mnt)" != "$(readlink /proc/self/ns/mnt)" ]; }
wait_until 10 other_ns || fail "the private mount namespace did not appear"
inns() { nsenter -t "$ns_pid" -m "$@"; }
full=$tmp/full
mkdir -p "$full"
inns mount -t tmpfs -o size=16m,mode=0755 tmpfs "$full" || fail "cannot mount a tmpfs"
db=$full/ledger.db
write_config "$tmp/full.json" "$db"
export AIMETER_CONFIG=$tmp/full.json
start_sim slow2 --latency-ms 1500
slow_pid=$sim_pid
export ANTHROPIC_BASE_URL=$sim_url
lines "$tmp/full.jsonl" 10 full
inns timeout -k 5 90 "$bin" batch "$tmp/full.jsonl" >"$tmp/full1.out" 2>"$tmp/full1.err" &
batch_pid=$!
qn() { q_wrap="nsenter -t $ns_pid -m" q "$db" "$1"; }
in_flight() { [ "$(qn "SELECT count(*) FROM jobs WHERE state = 'in_flight'" 2>/dev/null)" = 10 ]; }
wait_until 30 in_flight || fail "the 10 calls never were in flight"
inns dd if=/dev/zero of="$full/filler" bs=64k status=none 2>/dev/null # until ENOSPC
wait $batch_pid
rc=$?
[ $rc = 1 ] || fail "batch on a full disk: exit $rc, want 1: $(cat "$tmp/full1.err")"
grep -q "disk full" "$tmp/full1.err" || fail "no 'disk full' message: $(cat "$tmp/full1.err")"
grep -q "stopped early" "$tmp/full1.err" || fail "no 'stopped early' message: $(cat "$tmp/full1.err")"
inns rm -f "$full/filler"
[ "$(qn "SELECT count(*) FROM jobs")" = 10 ] || fail "jobs were lost on the full disk"
# Free space again: the same command completes every job, none twice.
inns timeout -k 5 90 "$bin" batch "$tmp/full.jsonl" >"$tmp/full2.out" 2>"$tmp/full2.err" ||
	fail "re-run after freeing space: $(cat "$tmp/full2.err")"
stop_sim "$slow_pid"
[ "$(jsonl_check "$tmp/full2.out")" = 10 ] || fail "re-run output: $(cat "$tmp/full2.out")"
[ "$(qn "SELECT group_concat(state) FROM (SELECT DISTINCT state FROM jobs)")" = done ] ||
	fail "not every job is done after the re-run"
q_wrap="nsenter -t $ns_pid -m" exactly_once "$db"
clean_stderr "$tmp"/full*.err
note "ok"
