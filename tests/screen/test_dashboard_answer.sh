#!/usr/bin/env bash
# A prompt typed on the input line goes through the pipeline: the answer
# appears in the console with a meta line naming tokens and cost, the spend
# reaches the budget bar, and the models table counts the call. A second
# turn continues the conversation.
. "$(dirname "$0")/lib.sh"
start 120 40
wait_for 'of $10.00'
screen | grep -qF '$0.00 of $10.00' || fail "a fresh ledger should show no spend"
type_line "summarize the rate-limit headers in two lines"
wait_for "you ▸ summarize the rate-limit headers"
wait_for ' in / [0-9,]+ out · (\$[0-9.,]+|<\$0\.0001|price \?)' -E
wait_for "conversation of 1 turn"
screen | grep -qE '^│ [A-Z][a-z]+' || fail "no answer text"
# The spend is on the budget bar and the call in today's table.
wait_gone '$0.00 of $10.00'
wait_for 'claude-[a-z0-9-]+ +1 +[0-9,]+ +[0-9,]+' -E
type_line "and in one line?"
wait_for "conversation of 2 turns"
wait_for 'total +2 ' -E
quit F10
