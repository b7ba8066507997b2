# Shared helpers for the dashboard's screen tests (sourced, not run).
#
# Each test drives the real binary in a private tmux server (its own -L
# socket), types keys, captures the pane and asserts with grep. Waiting is
# polling capture-pane with a bounded timeout: the process under test is
# real, so there is real time to wait for, but never a fixed sleep.
#
# The engine is chosen by AIMETER_SCREEN_ARGS (default "--demo"), so the
# same tests run against the real pipeline (e.g. "--sim") once it lands.
# Settings the engine persists go to a private XDG home per test.
set -euo pipefail

: "${AIMETER_BIN:?AIMETER_BIN must name the aimeter binary}"
command -v tmux >/dev/null || { echo "tmux is required for screen tests" >&2; exit 1; }

AIMETER_SCREEN_ARGS=${AIMETER_SCREEN_ARGS:---demo}
SCREEN_TIMEOUT=${SCREEN_TIMEOUT:-20}
sock="aimeter-$(basename "$0" .sh)-$$"
home=$(mktemp -d)
export XDG_CONFIG_HOME="$home/config" XDG_DATA_HOME="$home/data"

tm() { tmux -u -L "$sock" -f /dev/null "$@"; }

cleanup() {
	tm kill-server 2>/dev/null || true
	rm -rf "$home"
}
trap cleanup EXIT

screen() { tm capture-pane -p -t main; }

fail() {
	echo "FAIL: $*" >&2
	echo "--- screen ---" >&2
	screen >&2 || true
	exit 1
}

# wait_for PATTERN [grep flags]: until the pane shows PATTERN (fixed string
# by default; pass -E for a regex).
wait_for() {
	local pat=$1 flags=${2:--F} deadline=$((SECONDS + SCREEN_TIMEOUT))
	while ! screen | grep -q $flags -- "$pat"; do
		[ $SECONDS -lt $deadline ] || fail "timed out waiting for '$pat'"
		sleep 0.1
	done
}

wait_gone() {
	local pat=$1 flags=${2:--F} deadline=$((SECONDS + SCREEN_TIMEOUT))
	while screen | grep -q $flags -- "$pat"; do
		[ $SECONDS -lt $deadline ] || fail "timed out waiting for '$pat' to go"
		sleep 0.1
	done
}

# start [COLS ROWS [ARGS...]]: runs the dashboard; when it exits the pane
# prints "aimeter-exit=STATUS" on the restored terminal and stays open.
start() {
	local cols=${1:-120} rows=${2:-40}
	shift 2 || true
	local args=${*:-$AIMETER_SCREEN_ARGS}
	tm new-session -d -s main -x "$cols" -y "$rows" \
		"env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color $AIMETER_BIN dashboard $args 2>$home/stderr; echo aimeter-exit=\$?; cat $home/stderr; sleep 600"
	wait_for "aimeter"
	wait_for "F1"
}

# type_line TEXT: types TEXT on the input line and presses Enter.
type_line() {
	tm send-keys -t main -l -- "$1"
	tm send-keys -t main Enter
}

# Every line of the pane fits in COLS cells and there are at most ROWS.
assert_fits() {
	local cols=$1 rows=$2 n
	n=$(screen | wc -l)
	[ "$n" -le "$rows" ] || fail "$n lines on a $rows-row screen"
	screen | while IFS= read -r line; do
		[ "$(printf '%s' "$line" | wc -m)" -le "$cols" ] || fail "line wider than $cols: $line"
	done
}
