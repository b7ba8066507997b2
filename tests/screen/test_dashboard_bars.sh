#!/usr/bin/env bash
# Bars have one meaning, usage: the rate-limit panel says "in use / limit",
# its bars fill with the figure they stand beside, and they fill as calls
# use the limit, as the budget bar fills with spend. RPM/s, the
# short-window guard that is full after any call, is not shown while it
# holds nothing back.
. "$(dirname "$0")/lib.sh"
write_config '{ "sim": { "latency_ms": 50, "tokens_per_second": 400 }, "limits": { "rpm": 30 } }'
start 120 40
wait_for 'Rate limits · in use / limit'
screen | grep -q 'RPM/s' && fail "RPM/s shown while it blocks nothing"
# The 15-cell RPM bar holds as many full cells as its figure says (of 30).
check_bar() {
	local row used full
	row=$(screen | grep -oE 'RPM +[▏▎▍▌▋▊▉█░]+ +[0-9]+ / 30 ' | head -1)
	[ -n "$row" ] || fail "no RPM bar of 30"
	used=$(grep -oE '[0-9]+ / 30' <<<"$row" | cut -d' ' -f1)
	full=$(grep -o '█' <<<"$row" | wc -l)
	[ "$full" -eq $((used * 15 / 30)) ] || fail "bar of $full full cells for $used / 30: $row"
}
check_bar
for i in 1 2 3; do type_line "hello $i"; done
wait_for 'total +3 ' -E
check_bar
screen | grep -q 'RPM/s' && fail "RPM/s shown while it blocks nothing"
quit F10
