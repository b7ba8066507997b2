#!/usr/bin/env bash
# A global limit has one truth: `/rpm 120` after F-key steps (which save a
# limit per pool) replaces them, and survives a restart; before, the saved
# per-pool values won over it at the next start. A pool nobody has is
# refused naming the known ones, never "(saved)" for nothing; `/rpm 0` means
# no limit, as in the config; an unknown model is refused.
. "$(dirname "$0")/lib.sh"
write_config '{ "sim": { "latency_ms": 50, "tokens_per_second": 400 }, "limits": { "rpm": 100 } }'
start 120 40
wait_for 'RPM .* / 100 ' -E
tm send-keys -t main F2
wait_for 'RPM .* / 90 ' -E
tm send-keys -t main F2
wait_for 'RPM .* / 81 ' -E
type_line "/rpm 120"
wait_for 'RPM .* / 120 ' -E
type_line "/rpm 100 nosuchpool"
wait_for "no pool 'nosuchpool' (the pools: "
screen | grep -q 'nosuchpool.*(saved)' && fail "an unknown pool was reported saved"
type_line "/model claude-foo-9"
wait_for "unknown model 'claude-foo-9'"
screen | grep -q 'claude-foo-9 (saved)' && fail "an unknown model was reported saved"
quit F10

start 120 40
wait_for 'RPM .* / 120 ' -E
screen | grep -qE 'RPM .* / (81|90) ' && fail "a per-pool F-key value won over the global /rpm"
type_line "/rpm 0"
wait_for 'RPM limit none (unlimited) for every pool (saved)'
wait_gone 'RPM .* / 120 ' -E
screen | grep -q 'must be at least 1' && fail "/rpm 0 was refused"
quit F10
