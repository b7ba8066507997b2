#!/usr/bin/env bash
# An answer's figures (model · tokens · cost · time) are repeated where the
# answer ends, so they stay on screen after a long answer; the console's
# title carries the conversation's context size and its cost so far.
. "$(dirname "$0")/lib.sh"
write_config '{ "sim": { "latency_ms": 50, "tokens_per_second": 2000 } }'
start 120 40
type_line "write a long answer please"
summary='└ [a-z0-9.-]+ · [0-9,]+ in / [0-9,]+ out · (\$[0-9.,]+|<\$0\.0001) · [0-9.<]+s'
wait_for "$summary" -E
# It is the last line of the console, under the answer.
last=$(screen | grep -E '^│' | grep -vE '^│ +│$' | tail -1)
grep -qE "$summary" <<<"$last" || fail "the figures are not where the answer ends: $last"
wait_for 'conversation of 1 turn · [0-9.,]+k? tokens of context · \$[0-9.]+' -E
type_line "and another"
wait_for 'conversation of 2 turns · [0-9.,]+k? tokens of context · \$[0-9.]+' -E
[ "$(screen | grep -cE "$summary")" -ge 1 ] || fail "no summary after the second answer"
type_line "/new"
wait_gone 'tokens of context'
quit F10
