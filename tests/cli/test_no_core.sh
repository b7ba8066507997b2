#!/usr/bin/env bash
# No aimeter process may leave a core dump or be read by another user's
# debugger: it holds the API key. Every process sets its core size limit to
# 0 and makes itself not dumpable before any key is read.
. "$(dirname "$0")/reliab_lib.sh"

# Core dumps off, and not dumpable, in a long-running process.
start_sim core
grep -Eq '^Max core file size +0 +0 ' "/proc/$sim_pid/limits" ||
	fail "core dumps are on: $(grep core "/proc/$sim_pid/limits")"
# A process that is not dumpable has its /proc files owned by root: seen
# from a process of another user only.
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	setpriv --reuid=65534 --regid=65534 --clear-groups "$bin" sim --port 0 >"$tmp/nobody.out" 2>/dev/null &
	nb=$!
	bg_pids+=("$nb")
	wait_until 10 test -s "$tmp/nobody.out" || fail "a simulator as nobody did not start"
	[ "$(stat -c %u "/proc/$nb/status")" = 0 ] ||
		fail "the process is dumpable: /proc/$nb/status is owned by $(stat -c %u "/proc/$nb/status")"
fi
exit 0
