#!/usr/bin/env bash
# Resizing down to 40x12, further to "too small", and back never crashes,
# every size draws inside the screen, and an answer streaming through all
# of it arrives whole.
. "$(dirname "$0")/lib.sh"
write_config '{ "sim": { "latency_ms": 50, "tokens_per_second": 60 },
                "client": { "max_tokens": 200 } }'
start 120 40
wait_for "Rate limits"
type_line "tell me about buckets while I resize"
wait_for "· streaming"
tm resize-window -t main -x 40 -y 12
wait_gone "Rate limits"
wait_for "budget"
assert_fits 40 12
tm resize-window -t main -x 20 -y 5
wait_for "too small"
assert_fits 20 5
tm resize-window -t main -x 80 -y 24
wait_for "model (today)  "
wait_for "cache"
assert_fits 80 24
tm resize-window -t main -x 120 -y 40
wait_for "Rate limits"
wait_for "Models"
assert_fits 120 40
wait_for 'total +1 ' -E
type_line "/budget 9"
wait_for 'of $9.00'
screen | grep -q "aimeter-exit" && fail "the dashboard exited"
quit F10
