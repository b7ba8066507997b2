#!/usr/bin/env bash
# A multi-line bracketed paste of 20,000 characters is one prompt, sent
# whole: one job whose request holds its first and last lines, and no line
# of it left on the input line. Alt-Enter adds a line to a typed prompt
# instead of sending it.
. "$(dirname "$0")/lib.sh"
db="$XDG_DATA_HOME/aimeter/aimeter.db"
jobs() { sqlite3 "$db" "SELECT count(*) FROM jobs WHERE request LIKE '%$1%'"; }

start 120 40
wait_for 'of $10.00'
paste="$home/paste.txt"
{
	printf 'BEGIN-OF-PASTE '
	for i in $(seq 1 199); do
		printf 'line %03d %s\n' "$i" "$(printf 'x%.0s' $(seq 1 91))"
	done
	printf 'END-OF-PASTE'
} >"$paste"
size=$(wc -m <"$paste")
[ "$size" -ge 20000 ] || fail "the paste should be at least 20,000 characters, is $size"
tm load-buffer "$paste"
tm paste-buffer -p -t main
# The whole paste waits on the input line, as one prompt of 200 lines.
wait_for "200 lines"
screen | grep -q "you ▸" && fail "a line of the paste was sent on its own"
# The input grew to show the last lines, the cursor's, one a row.
wait_for "▸ line 195 x"
for l in 196 197 198 199; do
	screen | grep -qE "^   line $l x" || fail "line $l is not a row of the input"
done
screen | grep -qE "^   END-OF-PASTE" || fail "the last line is not a row of the input"
tm send-keys -t main Enter
wait_for "END-OF-PASTE"
wait_for ' in / [0-9,]+ out' -E
[ "$(sqlite3 "$db" 'SELECT count(*) FROM jobs')" = 1 ] || fail "the paste became $(sqlite3 "$db" 'SELECT count(*) FROM jobs') prompts"
[ "$(jobs 'BEGIN-OF-PASTE line 001%line 199 %END-OF-PASTE')" = 1 ] || fail "the prompt sent is not the whole paste"
# 20,000 bytes are about 5,000 tokens: the answer's meta line says so.
screen | grep -qE ' [5-9],[0-9]{3} in / ' || fail "the input tokens do not reflect the whole paste"

# Alt-Enter inserts a newline; Enter sends both lines as one prompt.
tm send-keys -t main -l "first line"
tm send-keys -t main M-Enter
tm send-keys -t main -l "second line"
wait_for "2 lines · 22 chars"
wait_for "▸ first line"
wait_for "^   second line" -E
tm send-keys -t main Enter
wait_for "you ▸ first line"
wait_for "second line"
for _ in $(seq 50); do
	[ "$(sqlite3 "$db" 'SELECT count(*) FROM jobs')" = 2 ] && break
	sleep 0.1
done
[ "$(jobs 'first line\nsecond line')" = 1 ] || fail "Alt-Enter did not make one two-line prompt: $(sqlite3 "$db" 'SELECT request FROM jobs WHERE id = 2')"
quit F10
