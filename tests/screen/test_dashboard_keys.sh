#!/usr/bin/env bash
# Keys curses does not decode never leak into the input line: tmux sends
# Home and End as ESC [ 1 ~ and ESC [ 4 ~ (xterm's terminfo says ESC O H
# and ESC O F), and they move the cursor; Delete deletes; an unknown
# sequence is swallowed whole.
. "$(dirname "$0")/lib.sh"
start 120 40
tm send-keys -t main -l "abc"
tm send-keys -t main Home
tm send-keys -t main -l "X"
tm send-keys -t main End
tm send-keys -t main -l "Y"
tm send-keys -t main -l $'\e[99;5~'
tm send-keys -t main -l $'\e[1;2P'
tm send-keys -t main -l "Z"
tm send-keys -t main Home DC
wait_for "▸ abcYZ"
tm send-keys -t main Enter
wait_for "you ▸ abcYZ"
screen | grep -qE '~|4~|1~' && fail "part of an escape sequence reached the input"
screen | grep -qE '▸ abcYZ[^ ]' && fail "the prompt holds more than was typed"
# With the help open: End closes it and leaks nothing; a paste closes it
# and is one prompt on the input line, not sent line by line.
tm send-keys -t main F1
wait_for "┌ Help"
tm send-keys -t main End
wait_gone "┌ Help"
sleep 0.2
screen | grep -qE '▸ .*(\[4~|4~)' && fail "the End key's tail reached the input under the help"
tm send-keys -t main F1
wait_for "┌ Help"
paste_text $'help one\nhelp two'
wait_gone "┌ Help"
wait_for "   help two"
screen | grep -qE 'you ▸ .*help one' && fail "a paste under the help was sent"
tm send-keys -t main C-u
# A paste whose end marker never comes ends after a second of silence:
# what arrived is on the input line and the keys work again.
tm send-keys -t main -l $'\e[200~lost end'
wait_for "▸ lost end"
tm send-keys -t main -l "!"
tm send-keys -t main Enter
wait_for "you ▸ lost end!"
quit F10
