#!/usr/bin/env bash
# --demo: the real pipeline on the simulator with a scripted load. Without a
# keystroke the panels fill (requests, cost, cache hits), a budget alert
# fires and the load's spike shows 429s and a cool-down on the limits panel;
# a prompt typed meanwhile is answered, and again from the cache after
# /new. The demo reads no config and writes no ledger of the user's: its
# ledger lives in a temporary directory that is gone after quitting.
. "$(dirname "$0")/lib.sh"
export TMPDIR="$home/tmp"
mkdir -p "$TMPDIR"
# A config the demo must not read: its budget would block every prompt.
write_config '{ "budget": { "daily_usd": "0.000001" }, "sim": { "rpm": 1 } }'
start 120 40 --demo --config "$config"
wait_for "SIMULATOR"
wait_for "demo: the real pipeline on the built-in simulator"
ls -d "$TMPDIR"/aimeter-demo-* >/dev/null 2>&1 || fail "no temporary ledger"
wait_for 'total +[1-9][0-9]* ' -E
wait_for 'hits [1-9]' -E
wait_for "budget alert: 25% of the daily limit"
wait_for "429s [1-9]" -E
wait_for "cool-down [1-9]s" -E
type_line "what does a 429 mean?"
wait_for "you ▸ what does a 429 mean?"
wait_for "conversation of 1 turn"
type_line "/new"
type_line "what does a 429 mean?"
wait_for "cached"
quit F10
[ -e "$XDG_DATA_HOME/aimeter" ] && fail "the demo wrote to the user's data directory"
[ -z "$(ls -A "$TMPDIR")" ] || fail "left behind: $(ls -A "$TMPDIR")"
true
