#!/usr/bin/env bash
# Command and key feedback goes to the status line (in the key hints'
# place for a while), not into the conversation; the F-key steps undo each
# other: 100 -> 90 -> 100, not 99.
. "$(dirname "$0")/lib.sh"
write_config '{ "sim": { "latency_ms": 50, "tokens_per_second": 400 }, "limits": { "rpm": 100 } }'
start 120 40
wait_for 'RPM .* / 100 ' -E
tm send-keys -t main F2
wait_for 'RPM .* / 90 ' -E
last=$(screen | tail -1)
grep -qE '^ RPM limit per minute: [a-z0-9-]+ 100 -> 90(, [a-z0-9-]+ 100 -> 90)* \(saved\)' <<<"$last" ||
	fail "the step is not on the status line: $last"
screen | grep -q '^│ RPM limit' && fail "the step was logged into the conversation"
tm send-keys -t main F3
wait_for 'RPM .* / 100 ' -E
wait_for 'RPM limit per minute: [a-z0-9-]+ 90 -> 100' -E
screen | grep -qE ' / 99 ' && fail "the steps do not undo each other"
# A refused command is said there too, as is a done one.
type_line "/rpm many"
wait_for '/rpm N [POOL]: needs a whole number'
screen | tail -1 | grep -q 'needs a whole number' || fail "the refusal is not on the status line"
screen | grep -qE '^│ .*needs a whole number' && fail "the refusal went to the conversation"
# The key hints come back after a while.
wait_for 'F1 help  F10 quit'
quit F10
