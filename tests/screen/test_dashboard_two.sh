#!/usr/bin/env bash
# Two dashboards on one ledger share their settings: a /budget or /rpm typed
# in one shows in the other within a few seconds; before, the second never
# saw the first one's changes.
. "$(dirname "$0")/lib.sh"
start 120 40
tm new-window -d -t main -n second \
	"env -u ANTHROPIC_API_KEY -u ANTHROPIC_BASE_URL -u AIMETER_DB -u AIMETER_CONFIG LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color $AIMETER_BIN dashboard $AIMETER_SCREEN_ARGS 2>$home/stderr2; echo aimeter-exit=\$?; cat $home/stderr2; sleep 600"
second() { tm capture-pane -p -t main:second; }
wait_second() {
	local deadline=$((SECONDS + SCREEN_TIMEOUT))
	while ! second | grep -q $2 -- "$1"; do
		[ $SECONDS -lt $deadline ] || { second >&2; fail "the second dashboard never showed '$1'"; }
		sleep 0.1
	done
}
wait_second 'F1 help' -F

type_line "/budget 4.25"
wait_for 'of $4.25'
wait_second 'of $4.25' -F

tm send-keys -t main:second -l -- "/rpm 37"
tm send-keys -t main:second Enter
wait_second 'RPM .* / 37 ' -E
wait_for 'RPM .* / 37 ' -E

tm send-keys -t main:second F10
wait_second 'aimeter-exit=0' -F
grep -qE "ERROR: [A-Za-z]+Sanitizer|runtime error|WARNING: ThreadSanitizer" "$home/stderr2" &&
	fail "sanitizer report in the second dashboard: $(cat "$home/stderr2")"
quit F10
