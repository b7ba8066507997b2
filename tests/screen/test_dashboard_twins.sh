#!/usr/bin/env bash
# A prompt repeated while its first copy is on its way is paid for once:
# the copy waits for the first one's answer and is a cache hit (before,
# both were sent and paid).
. "$(dirname "$0")/lib.sh"
db="$XDG_DATA_HOME/aimeter/aimeter.db"
write_config '{ "sim": { "latency_ms": 800, "tokens_per_second": 400 } }'
start 120 40
type_line "/pause"
wait_for "PAUSED"
type_line "the same question"
type_line "the same question"
wait_for "queue 2"
type_line "/resume"
wait_for " · cached"
wait_for "queue 0"
[ "$(sqlite3 "$db" "SELECT count(*) FROM usage_events WHERE cached = 0")" = 1 ] ||
	fail "paid $(sqlite3 "$db" "SELECT count(*) FROM usage_events WHERE cached = 0") times"
[ "$(sqlite3 "$db" "SELECT count(*) FROM usage_events WHERE cached = 1 AND cost_pusd = 0")" = 1 ] ||
	fail "the copy was not a cache hit"
quit F10
