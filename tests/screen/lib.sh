# Shared helpers for the dashboard's screen tests (sourced, not run).
#
# Each test drives the real binary in a private tmux server (its own -L
# socket), types keys, captures the pane and asserts with grep. Waiting is
# polling capture-pane with a bounded timeout: the process under test is
# real, so there is real time to wait for, but never a fixed sleep.
#
# The engine is chosen by AIMETER_SCREEN_ARGS. The default is the real
# pipeline on the in-process simulator ("--sim" with the test's config
# file, which write_config replaces); "--demo" runs the same pipeline with
# the demo's scripted load. The ledger, the settings the dashboard persists
# and the config live in a private XDG home per test, so a test can quit
# and start again on the same state.
set -euo pipefail

: "${AIMETER_BIN:?AIMETER_BIN must name the aimeter binary}"
command -v tmux >/dev/null || { echo "tmux is required for screen tests" >&2; exit 1; }

SCREEN_TIMEOUT=${SCREEN_TIMEOUT:-20}
sock_base="aimeter-$(basename "$0" .sh)-$$"
sock=$sock_base
starts=0
home=$(mktemp -d)
export XDG_CONFIG_HOME="$home/config" XDG_DATA_HOME="$home/data"
config="$home/config.json"
AIMETER_SCREEN_ARGS=${AIMETER_SCREEN_ARGS:---sim --config $config}

# write_config JSON: the config file the next start reads. The default
# simulator answers fast (50 ms to the first byte, 400 tokens/s) with its
# default limits, far above aimeter's, so nothing waits unless a test says.
write_config() { printf '%s\n' "$1" >"$config"; }
write_config '{ "sim": { "latency_ms": 50, "tokens_per_second": 400 } }'

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
	if [ -s "$home/stderr" ]; then
		echo "--- stderr ---" >&2
		cat "$home/stderr" >&2
	fi
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
	# A fresh tmux server each start: a killed one may still hold its socket.
	starts=$((starts + 1))
	sock="$sock_base-$starts"
	# No key and no endpoint from the caller's environment: tests never
	# leave loopback.
	tm new-session -d -s main -x "$cols" -y "$rows" \
		"env -u ANTHROPIC_API_KEY -u ANTHROPIC_BASE_URL -u AIMETER_DB -u AIMETER_CONFIG LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color $AIMETER_BIN dashboard $args 2>$home/stderr; echo aimeter-exit=\$?; cat $home/stderr; sleep 600"
	wait_for "aimeter"
	wait_for "F1"
}

# quit [KEY]: quits (F10 by default), checks that the terminal came back
# with status 0 and no sanitizer report, and ends the tmux server so the
# next start() begins afresh on the same home.
quit() {
	tm send-keys -t main "${1:-F10}"
	wait_for "aimeter-exit=0"
	assert_clean
	tm kill-server
}

assert_clean() {
	if grep -qE "ERROR: [A-Za-z]+Sanitizer|runtime error|WARNING: ThreadSanitizer" "$home/stderr"; then
		fail "sanitizer report: $(cat "$home/stderr")"
	fi
}

# type_line TEXT: types TEXT on the input line and presses Enter.
type_line() {
	tm send-keys -t main -l -- "$1"
	tm send-keys -t main Enter
}

# paste_text TEXT: pastes TEXT as the terminal does (a bracketed paste).
paste_text() {
	printf '%s' "$1" | tm load-buffer -b p -
	tm paste-buffer -p -b p -t main
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
