#!/usr/bin/env bash
# A batch counts its own jobs, by id, never a range of ids: the jobs of
# another batch can lie between its own - beside a batch running at the
# same time, or, as here deterministically, when a re-run takes over its
# earlier jobs and adds new ones after another batch's. Its tally, exit
# status and output are its own file's, never the other batch's.
. "$(dirname "$0")/reliab_lib.sh"

start_sim two
sim=$sim_pid
export ANTHROPIC_API_KEY=sk-test-two ANTHROPIC_BASE_URL=$sim_url
db=$tmp/two.db
write_config "$tmp/two.json" "$db"
export AIMETER_CONFIG=$tmp/two.json
lines "$tmp/a.jsonl" 3 a
am batch "$tmp/a.jsonl" >"$tmp/a1.out" 2>"$tmp/a1.err" || fail "batch a: $(cat "$tmp/a1.err")"
# Another file, whose last line the server refuses (HTTP 400): one failed job.
lines "$tmp/b.jsonl" 3 b
printf '{"id":"bad","prompt":"x","model":"sim-fault-400"}\n' >>"$tmp/b.jsonl"
am batch "$tmp/b.jsonl" >"$tmp/b.out" 2>"$tmp/b.err"
rc=$?
[ $rc = 1 ] || fail "batch b exited $rc, want 1: $(tail -n2 "$tmp/b.err")"
# File a grows by three lines: the re-run keeps its three done jobs (the
# lowest ids) and adds three after b's.
lines "$tmp/a.jsonl" 6 a
am batch "$tmp/a.jsonl" >"$tmp/a2.out" 2>"$tmp/a2.err"
rc=$?
stop_sim "$sim"
ids=$(q "$db" "SELECT group_concat(id || CASE WHEN request LIKE '%a line%' THEN 'a' ELSE 'b' END, ' ')
	FROM jobs")
[ "$ids" = "1a 2a 3a 4b 5b 6b 7b 8a 9a 10a" ] || fail "job ids: $ids"
[ $rc = 0 ] || fail "the re-run exited $rc (b's failed line counted?): $(tail -n2 "$tmp/a2.err")"
tail -n1 "$tmp/a2.err" | grep -q "^batch 6/6 done · 0 failed · 0 blocked" ||
	fail "the re-run's tally: $(tail -n1 "$tmp/a2.err")"
[ "$(jsonl_check "$tmp/a2.out")" = 6 ] || fail "the re-run's output"
exactly_once "$db"
clean_stderr "$tmp/a2.err"
