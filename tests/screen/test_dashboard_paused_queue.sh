#!/usr/bin/env bash
# One screen, one meaning per figure: while paused, a prompt is in the
# header's queue (every prompt not sent yet) and the pool line says how many
# wait for its limits, under its own word; before, both said "queue", one 1
# and the other 0.
. "$(dirname "$0")/lib.sh"
write_config '{ "sim": { "latency_ms": 50, "tokens_per_second": 400 }, "limits": { "rpm": 100 } }'
start 120 40
wait_for 'waiting 0'
tm send-keys -t main F11
wait_for 'PAUSED'
type_line "hello while paused"
wait_for 'queue 1'
wait_for 'waiting 0'
screen | grep -q 'queue 0' && fail "the screen says queue 1 and queue 0 at once"
type_line "/resume"
wait_for 'queue 0'
wait_gone 'PAUSED'
quit F10
