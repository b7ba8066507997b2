#!/usr/bin/env bash
# `batch --via batches` keeps to the batch endpoints' own rate limit: with
# a small request bucket and a fast --poll-s, a 429's retry-after holds
# every batch call back, so the run sees a handful of 429s, not a storm,
# and still finishes. The Messages limits do not apply to these calls.
. "$(dirname "$0")/reliab_lib.sh"

n=8
export ANTHROPIC_API_KEY=sk-test-poll
start_sim sim_p --batch-rpm 60 --batch-delay-ms 2500 --rpm 1
export ANTHROPIC_BASE_URL=$sim_url
ledger_with p 0
lines "$tmp/in.jsonl" $n p
t0=$SECONDS
am batch "$tmp/in.jsonl" --out "$tmp/out.jsonl" --via batches --poll-s 0.05 --max-requests 2 \
	2>"$tmp/run.err"
rc=$?
took=$((SECONDS - t0))
stop_sim "$sim_pid"
clean_stderr "$tmp/run.err"
[ $rc = 0 ] || fail "exit $rc: $(tail -n3 "$tmp/run.err")"
[ "$(state_counts "$db")" = "done=$n" ] || fail "$(state_counts "$db")"
limited=$(sim_stat sim_p rate-limited)
# The bucket's 60 requests go in the first second of polling; after that
# the client keeps to about one a second, by the bucket's remaining count
# and the retry-after of a 429, instead of polling four batches every
# 50 ms (which would meet some 80 429s a second).
requests=$(sim_stat sim_p requests)
[ "$requests" -ge 60 ] || fail "only $requests calls: the bucket never emptied, the test proves nothing"
[ "$limited" -le $((took + 2)) ] || fail "$limited 429s in $took s: the limit was not kept"
exactly_once "$db"
note "poll: $requests calls, $limited 429s in $took s from the batch endpoints' bucket"
