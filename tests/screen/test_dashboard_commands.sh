#!/usr/bin/env bash
# /budget changes the budget bar (its limit, its fill and percentage),
# /rpm changes the RPM limit shown, and an unknown or malformed command
# says so in the console.
. "$(dirname "$0")/lib.sh"
start 120 40
type_line "/budget 7"
wait_for 'of $7.00'
type_line "/budget 5"
wait_for 'of $5.00'
screen | grep -q 'of $7.00' && fail "old budget still shown"
wait_for "daily budget \$5.00 (saved)"

# Spend something, then a budget small enough that it shows on the bar.
type_line "hello"
wait_for ' in / [0-9,]+ out' -E
wait_for 'of \$5\.00 +░+ +0%' -E
type_line "/budget 0.01"
wait_for 'of \$0\.01 +[█▉▊▋▌▍▎▏]+░* +[1-9][0-9]*%' -E
type_line "/budget 5"
wait_for 'of \$5\.00 +░+ +0%' -E

type_line "/rpm 10"
wait_for 'RPM .* / 10 ' -E
type_line "/rpm 12"
wait_for 'RPM .* / 12 ' -E
screen | grep -qE 'RPM .* / 10 ' && fail "old RPM limit still shown"

type_line "/frob 3"
wait_for "unknown command '/frob': try /help"
type_line "/rpm many"
wait_for "/rpm N [POOL]: needs a whole number"
# The dashboard is still alive and typing still works.
type_line "/budget 6"
wait_for 'of $6.00'
quit F10
