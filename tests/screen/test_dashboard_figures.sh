#!/usr/bin/env bash
# Figures agree on one screen: the models total and the budget spell an
# amount alike; the models table says it counts today and
# that its ids are the report's shortened, after a restart on the
# simulator its calls are one row (not a second "simulated:" one), the
# cache says it counts since start, in the full and the compact
# layout; a budget another process saved reads as money ($4.25, not
# 4.250000000000); a prompt blocked by the budget is in the header's queue.
. "$(dirname "$0")/lib.sh"
db="$XDG_DATA_HOME/aimeter/aimeter.db"
start 120 40
type_line "hello"
wait_for "└ haiku-4-5 · "
wait_for "Models · today · short ids (report: dated)"
wait_for "│ claude-haiku-4-5  "
wait_for "Cache · since start"
# one amount, one spelling: the models total and the budget's spend
wait_for '^│ total +1 ' -E
tot=$(screen | grep -E '^│ total ' | grep -oE '\$[0-9.,]+' | tail -1)
wait_for "│ $tot of \$10.00"
"$AIMETER_BIN" report --config "$config" | grep -q "simulated:claude-haiku-4-5-2" ||
	fail "the report does not name the dated id"
# another process saves a budget with every digit
sqlite3 "$db" "INSERT OR REPLACE INTO settings VALUES ('budget.daily_usd', '4.250000000000', $(date +%s%N))"
wait_for "another process set budget.daily_usd = \$4.25"
screen | grep -q "4.250000000000" && fail "raw money on screen"
wait_for "of \$4.25"
# blocked by the budget: counted in the header's queue
type_line "/budget 0.000001"
type_line "blocked one"
wait_for "blocked by the budget"
wait_for "queue 1"
quit F10

start 80 24
wait_for "model (today)"
wait_for "^ haiku-4-5 +1 " -E
screen | grep -q "sim:" && fail "the simulator's calls are two rows after a restart"
wait_for "cache [0-9.%-]+ hit since start" -E
quit F10
