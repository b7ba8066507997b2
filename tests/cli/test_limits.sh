#!/usr/bin/env bash
# Input limits: a prompt bigger than the rate limiter's bucket,
# one bigger than the API's 32 MB request cap, 10 MB answers (refused
# cleanly over client.max_response_bytes, handled whole under it), invalid
# UTF-8 in batch lines, control characters in answers, and a batch larger
# than the queue. Each ends with a clear message; nothing crashes.
. "$(dirname "$0")/reliab_lib.sh"

export ANTHROPIC_API_KEY=sk-test-limits
start_sim plain
plain=$sim_url
export ANTHROPIC_BASE_URL=$plain

# ---------------------------------------------------------------------------
# 1. A prompt bigger than the ITPM bucket can ever hold: refused at once.

db=$tmp/bucket.db
write_config "$tmp/bucket.json" "$db"
printf '{"db":"%s","limits":{"rpm":0,"itpm":1000,"otpm":0},"budget":{"daily_usd":"0"}}\n' "$db" \
	>"$tmp/bucket.json"
export AIMETER_CONFIG=$tmp/bucket.json
big=$(head -c 20000 /dev/zero | tr '\0' 'w')
t0=$SECONDS
am ask "$big" >"$tmp/b1.out" 2>"$tmp/b1.err"
rc=$?
[ $rc = 1 ] || fail "ask with a prompt over the bucket: exit $rc, want 1: $(cat "$tmp/b1.err")"
grep -q "can never be admitted" "$tmp/b1.err" || fail "unclear: $(cat "$tmp/b1.err")"
[ $((SECONDS - t0)) -lt 15 ] || fail "the refusal took $((SECONDS - t0)) s"
{
	printf '{"id":"small","prompt":"small"}\n'
	printf '{"id":"huge","prompt":"%s"}\n' "$big"
} >"$tmp/b.jsonl"
am batch "$tmp/b.jsonl" >"$tmp/b2.out" 2>"$tmp/b2.err"
[ $? = 1 ] || fail "batch with a prompt over the bucket: want exit 1"
got=$(jsonl_query "$tmp/b2.out" "SELECT group_concat(json_extract(l, '\$.status'), ' ') FROM t")
[ "$got" = "ok failed" ] || fail "statuses: $got"
grep -q "can never be admitted" "$tmp/b2.out" || fail "batch: unclear: $(cat "$tmp/b2.out")"
exactly_once "$db"

# ---------------------------------------------------------------------------
# 2. Over the API's request size (32 MB): the provider's 413, told as is.
#    A batch line that large is refused by the reader before any call.

db=$tmp/huge.db
write_config "$tmp/huge.json" "$db"
export AIMETER_CONFIG=$tmp/huge.json
head -c $((33 * 1024 * 1024)) /dev/zero | tr '\0' 'w' >"$tmp/33m.txt"
am ask --no-cache - <"$tmp/33m.txt" >"$tmp/h1.out" 2>"$tmp/h1.err"
rc=$?
[ $rc = 1 ] || fail "ask with a 33 MB prompt: exit $rc, want 1: $(tail -c 300 "$tmp/h1.err")"
grep -q "HTTP 413" "$tmp/h1.err" || fail "no 413: $(tail -c 300 "$tmp/h1.err")"
grep -q "maximum request size" "$tmp/h1.err" || fail "unclear 413: $(tail -c 300 "$tmp/h1.err")"
{
	printf '{"id":"huge","prompt":"'
	cat "$tmp/33m.txt"
	printf '"}\n{"id":"after","prompt":"after"}\n'
} >"$tmp/h.jsonl"
rm -f "$tmp/33m.txt"
am batch "$tmp/h.jsonl" >"$tmp/h2.out" 2>"$tmp/h2.err"
[ $? = 1 ] || fail "batch with a 33 MB line: want exit 1"
rm -f "$tmp/h.jsonl"
got=$(jsonl_query "$tmp/h2.out" "SELECT group_concat(json_extract(l, '\$.status'), ' ') FROM t")
[ "$got" = "failed ok" ] || fail "statuses: $got"
grep -q "line 1: line is longer than" "$tmp/h2.out" || fail "unclear: $(cut -c1-300 "$tmp/h2.out")"
exactly_once "$db"

# ---------------------------------------------------------------------------
# 3. 10 MB answers (the simulator stretches every answer to 10 MiB).

start_sim big --output-bytes 10485760
big_pid=$sim_pid
export ANTHROPIC_BASE_URL=$sim_url
printf '{"id":"a","prompt":"big a"}\n{"id":"b","prompt":"big b"}\n' >"$tmp/ten.jsonl"
# 3a. Over a 1 MiB cap: the job fails with the reason, once (not retried:
#     the same answer would be too big again), nothing in the ledger.
db=$tmp/cap.db
write_config "$tmp/cap.json" "$db" '"client":{"max_response_bytes":1048576,"max_retries":2}'
export AIMETER_CONFIG=$tmp/cap.json
am batch --no-cache "$tmp/ten.jsonl" >"$tmp/t1.out" 2>"$tmp/t1.err"
[ $? = 1 ] || fail "batch with answers over the cap: want exit 1"
[ "$(grep -c "the answer exceeds 1048576 bytes" "$tmp/t1.out")" = 2 ] || fail "unclear: $(cat "$tmp/t1.out")"
[ "$(q "$db" "SELECT group_concat(attempts) FROM jobs")" = "1,1" ] || fail "a too-big answer was retried"
am ask --no-cache --stream "big stream" >/dev/null 2>"$tmp/t2.err"
[ $? = 1 ] || fail "ask with a streamed answer over the cap: want exit 1"
grep -q "the streamed answer exceeds 1048576 bytes" "$tmp/t2.err" || fail "unclear: $(cat "$tmp/t2.err")"
# The stream had begun (message_start): the provider billed it, so it is
# recorded once, estimated; the plain answers over the cap are not.
[ "$(q "$db" "SELECT count(*) || ' ' || sum(estimated) FROM usage_events")" = "1 1" ] ||
	fail "the aborted stream's ledger rows: $(q "$db" "SELECT job_id, estimated FROM usage_events")"
exactly_once "$db"
# 3b. Under the default cap (32 MiB): whole, in the output and the ledger.
db=$tmp/ten.db
write_config "$tmp/ten.json" "$db"
export AIMETER_CONFIG=$tmp/ten.json
head -n1 "$tmp/ten.jsonl" >"$tmp/ten1.jsonl"
am batch --no-cache "$tmp/ten1.jsonl" >"$tmp/t3.out" 2>"$tmp/t3.err" || fail "a 10 MB answer: $(cat "$tmp/t3.err")"
[ "$(jsonl_query "$tmp/t3.out" "SELECT min(length(json_extract(l, '\$.text'))) >= 10485760 FROM t")" = 1 ] ||
	fail "a 10 MB answer arrived short"
[ "$(q "$db" "SELECT min(length(result)) >= 10485760 FROM jobs")" = 1 ] || fail "the stored answer is short"
am ask --no-cache --stream "big streamed" >"$tmp/t4.out" 2>"$tmp/t4.err" || fail "streamed 10 MB: $(cat "$tmp/t4.err")"
[ "$(wc -c <"$tmp/t4.out")" -ge 10485760 ] || fail "the streamed answer is short"
rm -f "$tmp"/t3.out "$tmp"/t4.out
stop_sim "$big_pid"
export ANTHROPIC_BASE_URL=$plain
exactly_once "$db"

# ---------------------------------------------------------------------------
# 4. Invalid UTF-8 and other broken lines: a clear error per line, the good
#    lines answered, and the output itself valid UTF-8 JSON.

db=$tmp/utf.db
write_config "$tmp/utf.json" "$db"
export AIMETER_CONFIG=$tmp/utf.json
{
	printf '{"id":"good1","prompt":"fine"}\n'
	printf '{"id":"bad1","prompt":"caf\xe9 latin-1"}\n'
	printf '{"id":"bad2","prompt":"cut \xe2\x82"}\n'
	printf '\xff\xfe{"prompt":"utf-16 bom"}\n'
	printf '{"id":"good2","prompt":"d\xc3\xa9j\xc3\xa0 vu \xe2\x9c\x93"}\n'
	printf '{"id":"bad3","prompt":"nul \\u0000 inside"}\n'
	printf '{"id":"bad4","prompt":"lone \\ud800 half"}\n'
} >"$tmp/utf.jsonl"
am batch "$tmp/utf.jsonl" >"$tmp/u.out" 2>"$tmp/u.err"
[ $? = 1 ] || fail "batch with broken lines: want exit 1"
[ "$(jsonl_check "$tmp/u.out")" = 7 ] || fail "output lines: $(cat "$tmp/u.out")"
got=$(jsonl_query "$tmp/u.out" "SELECT group_concat(json_extract(l, '\$.status'), ' ') FROM t")
[ "$got" = "ok failed failed failed ok failed failed" ] || fail "statuses: $got"
for n in 2 3 4 6 7; do
	grep -q "^utf.jsonl:$n: \|/utf.jsonl:$n: " "$tmp/u.err" || fail "stderr does not name line $n: $(cat "$tmp/u.err")"
done
grep -q "line 2: .*byte 0xe9" "$tmp/u.out" || fail "line 2 does not name the bad byte: $(cat "$tmp/u.out")"
iconv -f UTF-8 -t UTF-8 "$tmp/u.err" >/dev/null 2>&1 || fail "stderr is not valid UTF-8"
exactly_once "$db"

# 4b. A UTF-8 byte order mark before line 1 (Windows editors write one) is
#     not part of the line: the file runs as if it were not there.
printf '\xef\xbb\xbf{"id":"bom1","prompt":"after a BOM"}\n{"id":"bom2","prompt":"line two"}\n' >"$tmp/bom.jsonl"
am batch "$tmp/bom.jsonl" >"$tmp/bom.out" 2>"$tmp/bom.err" || fail "a file with a BOM: $(cat "$tmp/bom.err")"
got=$(jsonl_query "$tmp/bom.out" "SELECT group_concat(json_extract(l, '\$.id') || '=' || json_extract(l, '\$.status'), ' ') FROM t")
[ "$got" = "bom1=ok bom2=ok" ] || fail "a file with a BOM: $got"

# ---------------------------------------------------------------------------
# 5. Control characters in answers: kept exactly in the ledger, escaped in
#    the batch output (JSON), so neither a terminal nor a JSON reader ever
#    gets them raw.

text=$(printf 'Hi \033[31mred\033[0m bell\a \x01\x02 tab\there\r\nnext \xe2\x80\xa8 end')
start_sim ctl --output-text "$text"
ctl_pid=$sim_pid
export ANTHROPIC_BASE_URL=$sim_url
db=$tmp/ctl.db
write_config "$tmp/ctl.json" "$db"
export AIMETER_CONFIG=$tmp/ctl.json
printf '{"id":"c","prompt":"say something odd"}\n' >"$tmp/ctl.jsonl"
am batch --no-cache "$tmp/ctl.jsonl" >"$tmp/c.out" 2>"$tmp/c.err" || fail "control characters: $(cat "$tmp/c.err")"
[ "$(jsonl_check "$tmp/c.out")" = 1 ] || fail "output: $(cat -v "$tmp/c.out")"
LC_ALL=C grep -q $'[\x01-\x08\x0b-\x1f]' "$tmp/c.out" && fail "a raw control character in the output: $(cat -v "$tmp/c.out")"
[ "$(tr -cd '\n' <"$tmp/c.out" | wc -c)" = 1 ] || fail "the answer's newline broke the JSONL line"
want_hex=$(printf '%s' "$text" | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
[ "$(q "$db" "SELECT hex(result) FROM jobs")" = "$want_hex" ] || fail "the ledger does not hold the answer exactly"
[ "$(jsonl_query "$tmp/c.out" "SELECT hex(json_extract(l, '\$.text')) FROM t")" = "$want_hex" ] ||
	fail "the output does not decode to the answer"
exactly_once "$db"

# 5b. `ask` prints the answer byte for byte into a pipe, but on a terminal
#     (script(1) gives it one) no control character reaches the screen raw:
#     ESC, BEL and the rest are shown as caret escapes.
am ask --no-cache "say something odd" >"$tmp/ask.out" 2>/dev/null || fail "ask into a pipe"
[ "$(od -An -tx1 <"$tmp/ask.out" | tr -d ' \n' | tr a-f A-F)" = "${want_hex}0A" ] ||
	fail "ask into a pipe changed the answer: $(cat -v "$tmp/ask.out")"
script -qec "$bin ask --no-cache 'say something odd' 2>/dev/null" /dev/null >"$tmp/ask.tty" </dev/null ||
	fail "ask on a terminal: $(cat -v "$tmp/ask.tty")"
LC_ALL=C grep -q $'[\x01-\x08\x0b\x0c\x0e-\x1f]' "$tmp/ask.tty" &&
	fail "a raw control character reached the terminal: $(cat -v "$tmp/ask.tty")"
grep -q 'Hi \^\[\[31mred' "$tmp/ask.tty" || fail "ESC is not shown as ^[: $(cat -v "$tmp/ask.tty")"
stop_sim "$ctl_pid"
export ANTHROPIC_BASE_URL=$plain

# ---------------------------------------------------------------------------
# 6. More lines than the queue holds (capacity 100): lines wait for room,
#    every one ends done, in input order.

db=$tmp/many.db
write_config "$tmp/many.json" "$db" '"worker":{"queue_capacity":100}'
export AIMETER_CONFIG=$tmp/many.json
lines "$tmp/many.jsonl" 800 many
am batch --no-cache "$tmp/many.jsonl" >"$tmp/m.out" 2>"$tmp/m.err" || fail "800 lines: $(cat "$tmp/m.err")"
[ "$(jsonl_check "$tmp/m.out")" = 800 ] || fail "output lines"
[ "$(jsonl_query "$tmp/m.out" "SELECT count(*) FROM t WHERE json_extract(l, '\$.id') = 'many' || rowid")" = 800 ] ||
	fail "the output is not in input order"
[ "$(state_counts "$db")" = "done=800" ] || fail "jobs: $(state_counts "$db")"
exactly_once "$db"
clean_stderr "$tmp"/*.err
note "ok"
