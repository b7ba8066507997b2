#!/usr/bin/env bash
# While a prompt is typed, the input line previews the call: the tokens it
# will send (estimated, the conversation's context included) and the model
# the selector would choose (or the pinned one) and the worst case the
# budget would reserve for it. A /command has no preview.
. "$(dirname "$0")/lib.sh"
start 120 40
tm send-keys -t main -l "hello there, how are you"
# (the worst case charges the request's bytes at the budget's 1 token per 3)
wait_for '▸ hello there, how are you +≈6 tok → haiku-4-5 · ≤ \$0\.0052' -E
tm send-keys -t main C-u
# a long prompt goes to opus: its request's ~900 tokens in, 1,024 out at its prices
tm send-keys -t main -l "$(printf 'x%.0s' $(seq 2400))"
wait_for '≈600 tok → opus-4-5 · ≤ \$0\.030' -E
tm send-keys -t main C-u
type_line "/model claude-haiku-4-5"
wait_for 'model: claude-haiku-4-5'
tm send-keys -t main -l "/rpm 5"
sleep 0.3
screen | grep -q '▸ /rpm 5 .*tok →' && fail "a command got a call preview"
tm send-keys -t main C-u
type_line "hello there, how are you"
wait_for ' in / [0-9,]+ out' -E
# The next prompt carries the first exchange: the estimate grows by it.
tm send-keys -t main -l "and now?"
wait_for '▸ and now\? +≈[0-9]{2,} tok → haiku-4-5 · ≤ \$[0-9.]+' -E
# ... and its worst case bounds what the budget then reserves for it
# (before, the context was counted at 4 characters a token, the budget's
# estimate at 3 bytes: "≤ $0.0055" for a call it priced at $0.0059)
worst=$(screen | grep -oE '▸ and now\? .*≤ \$[0-9.]+' | grep -oE '[0-9.]+$')
tm send-keys -t main C-u
type_line "/budget 0.000001"
type_line "and now?"
wait_for 'this call \$[0-9.]+' -E
held=$(screen | grep -oE 'this call \$[0-9.]+' | grep -oE '[0-9.]+$')
awk -v h="$held" -v w="$worst" 'BEGIN { exit !(h <= w) }' ||
	fail "the preview said at most \$$worst, the budget holds \$$held"
quit F10
