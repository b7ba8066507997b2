#!/usr/bin/env bash
# The queue view (Alt-u or /queue): every prompt not answered yet with why
# it waits (paused, blocked by the budget), keys to cancel the selected one
# or send it again, and the prompts that ended without an answer.
. "$(dirname "$0")/lib.sh"
db="$XDG_DATA_HOME/aimeter/aimeter.db"
start 120 40
type_line "/pause"
wait_for "PAUSED"
type_line "first question"
type_line "second question"
wait_for "queue 2"
tm send-keys -t main M-u
wait_for "┌ Queue"
wait_for "2 prompts not answered yet"
wait_for "▸ 1 · first question · paused: waits for /resume"
wait_for "  2 · second question · paused: waits for /resume"
tm send-keys -t main Down
wait_for "▸ 2 · second question"
tm send-keys -t main c
wait_for "cancelling job 2"
wait_for "▸ 2 · second question · cancelled" # the selection follows it
wait_for "1 ended without an answer"
# the cancelled one sent again as a new job
tm send-keys -t main r
wait_for "job 2 sent again as job 3"
wait_for "3 · second question · paused: waits for /resume"
tm send-keys -t main Escape
wait_gone "┌ Queue"
# a paste while the view is open closes it and is one prompt, not one per line
type_line "/queue"
wait_for "┌ Queue"
paste_text $'pasted one\npasted two'
wait_gone "┌ Queue"
wait_for "pasted two"
screen | grep -q "you ▸ pasted one" && fail "the paste was sent line by line"
tm send-keys -t main C-u
type_line "/resume"
wait_gone "PAUSED"
wait_for "queue 0"
type_line "/queue"
wait_for "nothing queued, waiting or in flight"
tm send-keys -t main q
wait_gone "┌ Queue"
# a budget too small for one call blocks the next prompt: the view says so
type_line "/budget 0.000001"
wait_for "of \$0.000001"
type_line "third question"
wait_for "blocked by the budget"
type_line "/queue"
wait_for "▸ 4 · [a-z0-9-]+ · third question · blocked by the budget: daily limit" -E
wait_for "queue 1"
tm send-keys -t main c
wait_for "4 · [a-z0-9-]+ · third question · cancelled" -E
wait_for "queue 0"
tm send-keys -t main Escape
[ "$(sqlite3 "$db" "SELECT group_concat(state, ',') FROM (SELECT state FROM jobs ORDER BY id)")" = "done,cancelled,done,cancelled" ] ||
	fail "jobs: $(sqlite3 "$db" "SELECT group_concat(state, ',') FROM (SELECT state FROM jobs ORDER BY id)")"
quit F10
