#!/usr/bin/env bash
# bench_ui: what the dashboard costs while you watch it.
#
#   tests/bench/bench_ui.sh [ARGS...]
#
# Runs `aimeter dashboard ARGS` (default: --sim with a private ledger and
# config; not --demo, whose scripted load never lets it idle) in a private
# tmux server at 120x40 and prints, one figure a line:
#   ui_first_frame_ms         launch until the first full frame is on screen
#   ui_idle_cpu_percent       CPU of the whole process over BENCH_IDLE_SECONDS idle
#   ui_streaming_cpu_percent  CPU while BENCH_ANSWERS answers stream in
#   ui_rss_mb                 resident memory after the answers
# Goals: idle < 0.5%, RSS < 20 MB, first frame < 150 ms with a
# 1M-row ledger (prepare the ledger and pass its flags as ARGS; the script
# does not care which engine runs). On the real pipeline:
#   tests/bench/make_ledger.sh /tmp/big.db 1000000
#   echo '{"sim":{"latency_ms":400,"tokens_per_second":80}}' >/tmp/bench.json
#   tests/bench/bench_ui.sh --sim --db /tmp/big.db --config /tmp/bench.json
# The console restores the ledger's last conversation and every prompt
# carries it, so memory follows that conversation's size: measure on a
# ledger fresh from make_ledger.sh (one reused across runs carries the
# earlier runs' 20-answer exchanges; with the full 50 kept, ~25 MB).
# Environment: AIMETER_BIN (default build/release/aimeter),
# BENCH_IDLE_SECONDS (30), BENCH_ANSWERS (20).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${AIMETER_BIN:-$top/build/release/aimeter}
idle=${BENCH_IDLE_SECONDS:-30}
answers=${BENCH_ANSWERS:-20}
args=("$@")
if [ ${#args[@]} -eq 0 ]; then
	scratch=$(mktemp -d)
	echo '{"sim":{"latency_ms":400,"tokens_per_second":80}}' >"$scratch/bench.json"
	args=(--sim --db "$scratch/bench.db" --config "$scratch/bench.json")
fi
[ -x "$bin" ] || { echo "bench_ui: no binary at $bin (set AIMETER_BIN)" >&2; exit 1; }

sock="aimeter-bench-$$"
tm() { tmux -u -L "$sock" -f /dev/null "$@"; }
trap 'tm kill-server 2>/dev/null || true; [ -z "${scratch:-}" ] || rm -rf "$scratch"' EXIT
screen() { tm capture-pane -p -t bench; }
now_ns() { date +%s%N; }
ticks() { # utime + stime of the process, in clock ticks
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
hz=$(getconf CLK_TCK)

wait_for() { # PATTERN TIMEOUT_S [grep flags]
	local deadline=$(( $(date +%s) + $2 ))
	until screen | grep -q ${3:--F} -- "$1"; do
		[ "$(date +%s)" -le "$deadline" ] || { echo "bench_ui: timed out waiting for '$1'" >&2; screen >&2; exit 1; }
		sleep 0.005
	done
}

t0=$(now_ns)
tm new-session -d -s bench -x 120 -y 40 \
	"exec env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color $bin dashboard ${args[*]}"
wait_for "F1 help" 30
wait_for "Console" 30
t1=$(now_ns)
pid=$(tm list-panes -t bench -F '#{pane_pid}')
echo "ui_first_frame_ms $(( (t1 - t0) / 1000000 )) ms"

sleep 2 # let start-up work settle before measuring idle
a=$(ticks "$pid"); ta=$(now_ns)
sleep "$idle"
b=$(ticks "$pid"); tb=$(now_ns)
awk -v d=$((b - a)) -v hz="$hz" -v ns=$((tb - ta)) \
	'BEGIN { printf "ui_idle_cpu_percent %.2f %%\n", 100 * d / hz / (ns / 1e9) }'

a=$(ticks "$pid"); ta=$(now_ns)
for i in $(seq 1 "$answers"); do
	tm send-keys -t bench -l -- "stream test $i: tell me something long"
	tm send-keys -t bench Enter
done
# Done when nothing is queued, in flight or streaming.
sleep 0.5
deadline=$(( $(date +%s) + 300 ))
until screen | grep -q "queue 0  in flight 0" && ! screen | grep -qE "streaming|submitting|queued|waiting for"; do
	[ "$(date +%s)" -le "$deadline" ] || { echo "bench_ui: answers did not finish" >&2; exit 1; }
	sleep 0.05
done
b=$(ticks "$pid"); tb=$(now_ns)
awk -v d=$((b - a)) -v hz="$hz" -v ns=$((tb - ta)) \
	'BEGIN { printf "ui_streaming_cpu_percent %.2f %%\n", 100 * d / hz / (ns / 1e9) }'
awk '/^VmRSS:/ { printf "ui_rss_mb %.1f MB\n", $2 / 1024 }' "/proc/$pid/status"
tm send-keys -t bench F10
