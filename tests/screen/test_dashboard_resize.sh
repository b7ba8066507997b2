#!/usr/bin/env bash
# Resizing down to 40x12, further to "too small", and back never crashes,
# and every size draws inside the screen.
. "$(dirname "$0")/lib.sh"
start 120 40
wait_for "Rate limits"
tm resize-window -t main -x 40 -y 12
wait_gone "Rate limits"
wait_for "budget"
assert_fits 40 12
tm resize-window -t main -x 20 -y 5
wait_for "too small"
assert_fits 20 5
tm resize-window -t main -x 80 -y 24
wait_for "model  "
wait_for "cache"
assert_fits 80 24
tm resize-window -t main -x 120 -y 40
wait_for "Rate limits"
wait_for "Models"
assert_fits 120 40
type_line "/budget 9"
wait_for 'of $9.00'
screen | grep -q "aimeter-exit" && fail "the dashboard exited"
true
