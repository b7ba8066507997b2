#!/usr/bin/env bash
# /cancel cancels the last prompt still queued (here held by /pause): the
# console marks it cancelled, the ledger's job is cancelled, and nothing is
# sent after /resume.
. "$(dirname "$0")/lib.sh"
db="$XDG_DATA_HOME/aimeter/aimeter.db"
start 120 40
type_line "/pause"
wait_for "PAUSED"
type_line "hello, never mind"
wait_for "you ▸ hello, never mind"
wait_for "queue 1"
type_line "/cancel"
wait_for "cancelling job"
wait_for '^│ (.* · )?cancelled +│' -E
wait_for "queue 0"
type_line "/resume"
wait_gone "PAUSED"
sleep 1
screen | grep -qE ' in / [0-9,]+ out' && fail "the cancelled prompt was sent"
[ "$(sqlite3 "$db" "SELECT state FROM jobs")" = cancelled ] || fail "the job is $(sqlite3 "$db" "SELECT state FROM jobs")"
quit F10
