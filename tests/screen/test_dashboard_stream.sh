#!/usr/bin/env bash
# A streamed answer grows in place: while it streams the meta line says so
# and the cursor follows the text; the lines already shown stay where they
# are; at the end the meta line gives tokens, cost and time.
. "$(dirname "$0")/lib.sh"
write_config '{ "sim": { "latency_ms": 50, "tokens_per_second": 25 },
                "client": { "max_tokens": 120 } }'
start 120 40
type_line "tell me a long story about token buckets"
wait_for "· streaming"
wait_for '^│ [A-Z][a-z]+' -E
# Row and first letters of the answer's first line (its first word may
# still be arriving).
first() { screen | grep -nE '^│ [A-Z][a-z]+' | head -1 | sed -E 's/^([0-9]+:│ [A-Za-z]{2}).*/\1/'; }
was=$(first)
# Words of answer text in the console box (not the meta or prompt lines).
words() { screen | awk '/┌ Console/ { c = 1; next } c && /^│ [A-Za-z]/ && !/ · |you ▸/' | wc -w; }
before=$(words)
deadline=$((SECONDS + SCREEN_TIMEOUT))
while [ "$(words)" -le "$before" ]; do
	[ $SECONDS -lt $deadline ] || fail "the answer did not grow"
	sleep 0.1
done
# The first answer line has not moved.
[ "$(first)" = "$was" ] || fail "the answer moved: was '$was', now '$(first)'"
wait_for ' in / [0-9,]+ out · ' -E
screen | grep -q "· streaming" && fail "still says streaming after the end"
quit F10
