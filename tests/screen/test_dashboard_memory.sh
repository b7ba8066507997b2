#!/usr/bin/env bash
# Input history and the last conversation survive a restart (kept in the
# ledger): Up recalls the lines typed before, the console shows the last
# conversation with its figures and goes on from it; /new forgets it.
. "$(dirname "$0")/lib.sh"
db="$XDG_DATA_HOME/aimeter/aimeter.db"
start 120 40
type_line "what is a token?"
wait_for "└ haiku-4-5 · "
type_line "/rpm 40"
wait_for "(saved)"
quit F10
[ "$(sqlite3 "$db" "SELECT count(*) FROM console_turns")" = 1 ] || fail "no exchange kept"

start 120 40
wait_for "kept from the previous run"
wait_for "you ▸ what is a token?"
wait_for "└ haiku-4-5 · "
wait_for "conversation of 1 turn"
tm send-keys -t main Up
wait_for "▸ /rpm 40"
tm send-keys -t main Up
wait_for "▸ what is a token?"
tm send-keys -t main C-u
# the conversation goes on: the next call sends the earlier turn again
type_line "and a second one?"
wait_for "conversation of 2 turns"
type_line "/new"
wait_for "new conversation"
quit F10
[ "$(sqlite3 "$db" "SELECT count(*) FROM console_turns")" = 0 ] || fail "/new left the exchanges"

start 80 24
tm send-keys -t main Up
wait_for "▸ /new"
screen | grep -q "kept from the previous run" && fail "a forgotten conversation came back"
quit F10
