#!/usr/bin/env bash
# At 80x24 the compact layout still shows everything: header, budget line,
# limit bars, the models table, the cache line, the console, the input line
# and the key hints.
. "$(dirname "$0")/lib.sh"
start 80 24
wait_for "budget \$"
screen | grep -q "aimeter " || fail "no header"
screen | grep -qE 'RPM .*[0-9]+/[0-9]+' || fail "no limit bars"
screen | grep -qE '^ model \(today\) +req' || fail "no models table (today's)"
screen | grep -qE '^ total' || fail "no total row"
screen | grep -q "── cache" || fail "no cache line"
screen | grep -q " ▸ " || fail "no input line"
screen | grep -q "F10 quit" || fail "no key hints"
type_line "hello"
wait_for "you ▸ hello"
wait_for ' in / [0-9,]+ out' -E
assert_fits 80 24
quit F10
