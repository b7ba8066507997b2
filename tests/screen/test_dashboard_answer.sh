#!/usr/bin/env bash
# A prompt typed on the input line is answered in the console, with the
# meta line naming tokens and cost; a second turn continues the
# conversation.
. "$(dirname "$0")/lib.sh"
start 120 40
type_line "summarize the rate-limit headers in two lines"
wait_for "you ▸ summarize the rate-limit headers"
wait_for ' in / [0-9,]+ out · (\$[0-9.,]+|<\$0\.0001|price \?)' -E
wait_for "conversation of 1 turn"
screen | grep -qE '[a-z].*[a-z]' || fail "no answer text"
type_line "and in one line?"
wait_for "conversation of 2 turns"
# The models table counted the calls: its total row has a request count.
screen | grep -qE 'total +[0-9,]+' || fail "no total row"
