#!/usr/bin/env bash
# `aimeter batch --out FILE` never destroys its input and never leaves half
# a result file: --out naming the input (the same path, a symlink to it, a
# hard link to it, or the file stdin reads) is refused before anything is
# sent, and the results replace FILE only once they are all written (a
# temporary file beside it, then a rename), keeping the old file's mode.
. "$(dirname "$0")/reliab_lib.sh"

export ANTHROPIC_API_KEY=sk-test-batch-out
start_sim out
export ANTHROPIC_BASE_URL=$sim_url
db=$tmp/out.db
write_config "$tmp/out.json" "$db"
export AIMETER_CONFIG=$tmp/out.json
lines "$tmp/in.jsonl" 3 out
cp "$tmp/in.jsonl" "$tmp/in.orig"
ln -s "$tmp/in.jsonl" "$tmp/sym.jsonl"
ln "$tmp/in.jsonl" "$tmp/hard.jsonl"

for target in "$tmp/in.jsonl" "$tmp/sym.jsonl" "$tmp/hard.jsonl" "$tmp/./in.jsonl"; do
	am batch "$tmp/in.jsonl" --out "$target" >"$tmp/o" 2>"$tmp/e"
	rc=$?
	[ $rc = 2 ] || fail "--out $target (the input): exit $rc, want 2: $(cat "$tmp/e")"
	grep -q "is the input file" "$tmp/e" || fail "--out $target: unclear refusal: $(cat "$tmp/e")"
	cmp -s "$tmp/in.jsonl" "$tmp/in.orig" || fail "--out $target changed the input"
done
am batch - --out "$tmp/in.jsonl" <"$tmp/in.jsonl" >"$tmp/o" 2>"$tmp/e"
rc=$?
[ $rc = 2 ] || fail "--out naming the file on stdin: exit $rc, want 2: $(cat "$tmp/e")"
cmp -s "$tmp/in.jsonl" "$tmp/in.orig" || fail "--out naming stdin's file changed the input"
# Nothing was queued, nothing sent.
[ "$(q "$db" "SELECT count(*) FROM jobs" 2>/dev/null || echo 0)" = 0 ] || fail "a refused run queued jobs"

# A normal run: the results land whole, through a rename, with the old mode.
printf 'old results\n' >"$tmp/res.jsonl"
chmod 640 "$tmp/res.jsonl"
ino_before=$(stat -c %i "$tmp/res.jsonl")
am batch "$tmp/in.jsonl" --out "$tmp/res.jsonl" >"$tmp/o" 2>"$tmp/e" || fail "batch: $(cat "$tmp/e")"
[ "$(wc -l <"$tmp/res.jsonl")" = 3 ] || fail "results: $(cat "$tmp/res.jsonl")"
jsonl_check "$tmp/res.jsonl" >/dev/null
[ "$(stat -c %a "$tmp/res.jsonl")" = 640 ] || fail "mode $(stat -c %a "$tmp/res.jsonl"), want 640"
[ "$(stat -c %i "$tmp/res.jsonl")" != "$ino_before" ] || fail "the results were not renamed into place"
ls "$tmp"/res.jsonl.* >/dev/null 2>&1 && fail "a temporary file was left behind: $(ls "$tmp")"
# --out through a symlink writes the file it points to and keeps the link.
ln -s "$tmp/res.jsonl" "$tmp/res-link.jsonl"
am batch "$tmp/in.jsonl" --out "$tmp/res-link.jsonl" >"$tmp/o" 2>"$tmp/e" || fail "batch via a link: $(cat "$tmp/e")"
[ -L "$tmp/res-link.jsonl" ] || fail "the symlink --out named was replaced by a file"
[ "$(wc -l <"$tmp/res.jsonl")" = 3 ] || fail "results through the link: $(cat "$tmp/res.jsonl")"
exit 0
