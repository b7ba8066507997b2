#!/usr/bin/env bash
# The smaller points: a number with junk after it and a number too large
# get different messages; Tab completes /commands and their words; the
# "too small" line says the size it needs.
. "$(dirname "$0")/lib.sh"
start 120 40
type_line "/rpm 12x"
wait_for "/rpm N [POOL]: '12x' has 'x' after the number"
type_line "/rpm 99999999999999999999"
wait_for "/rpm N [POOL]: 99999999999999999999 is too large: at most 1,000,000,000,000"
# Tab: "/bu" becomes "/budget ", then the amount is typed.
tm send-keys -t main -l "/bu"
tm send-keys -t main Tab
tm send-keys -t main -l "3"
wait_for "▸ /budget 3"
tm send-keys -t main Enter
wait_for 'of $3.00'
# Several commands fit "/r": the status line lists them.
tm send-keys -t main -l "/r"
tm send-keys -t main Tab
wait_for "/rpm  /resume"
tm send-keys -t main C-u
tm resize-window -t main -x 30 -y 5
wait_for "too small: need 40x6"
tm resize-window -t main -x 120 -y 40
wait_for 'of $3.00'
quit F10
