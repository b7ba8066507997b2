#!/usr/bin/env bash
# Ctrl-C with a call in flight: the terminal comes back at once, the call
# gets a grace period to finish (and is then in the ledger), and a call
# that outlasts the grace stays queued and is answered on the next start.
. "$(dirname "$0")/lib.sh"

# 1. The answer arrives within the grace: recorded, nothing left queued.
write_config '{ "sim": { "latency_ms": 1500, "tokens_per_second": 0 } }'
start 100 30
type_line "a question that takes a moment"
wait_for "sent, waiting for the answer"
quit C-c
grep -q "finishing 1 call in flight" "$home/stderr" || fail "no word on the call in flight"
write_config '{ "sim": { "latency_ms": 50, "tokens_per_second": 0 } }'
start 100 30
wait_for 'total +1 ' -E
screen | grep -q "resumed" && fail "the finished call was resumed"
quit F10

# 2. The answer would come after the grace: the job stays queued, and the
#    next start sends it again and records it.
write_config '{ "sim": { "latency_ms": 8000, "tokens_per_second": 0 } }'
start 100 30
type_line "a question that takes too long"
wait_for "sent, waiting for the answer"
quit C-c
grep -q "finishing 1 call in flight" "$home/stderr" || fail "no word on the call in flight"
write_config '{ "sim": { "latency_ms": 50, "tokens_per_second": 0 } }'
start 100 30
wait_for "resumed 1 job from an earlier run"
wait_for 'total +2 ' -E
quit F10
