#!/usr/bin/env bash
# An interrupted `ask` keeps its record, and its prompt is never sent again
# by another run. Against a slow stream (20 tokens a second), each of
# SIGINT, SIGTERM, SIGHUP and a closed pipe (`ask | head -c 20`) cuts an ask
# after its answer began: the ledger gets one row for it, estimated, with
# the input the simulator reported, and its job ends. A SIGKILLed ask (no
# chance to record) leaves its job behind; a batch of another file run
# afterwards sends only its own line, and ends the dead ask's job as
# abandoned. The simulator counts the requests it received.
. "$(dirname "$0")/reliab_lib.sh"

start_sim slow --tokens-per-second 20
sim=$sim_pid
export ANTHROPIC_API_KEY=sk-test-interrupt ANTHROPIC_BASE_URL=$sim_url
ledger_with interrupt 0

rows() { q "$db" "SELECT count(*) FROM usage_events"; }
# ask_pid TAG: the aimeter process whose ask job's prompt names TAG, once
# its call is in flight (the owner's pid; `am` runs it under timeout).
ask_pid() {
	q "$db" "SELECT owner FROM jobs WHERE request LIKE '%$1%' AND state = 'in_flight'" 2>/dev/null |
		cut -d: -f1
}
started() { [ -n "$(ask_pid "$1")" ] && [ -s "$tmp/$1.out" ]; }

for sig in INT TERM HUP PIPE KILL; do
	tag="cut-by-$sig"
	before=$(rows)
	if [ $sig = PIPE ]; then
		# head leaves after 20 bytes; the next write finds the pipe closed.
		# The answer began once head has its bytes; the job may have left
		# in_flight by then (the ask ends it at its next write), so its
		# state is not looked for meanwhile: the checks below read its end.
		(am ask --stream --no-cache --max-tokens 400 "$tag" 2>"$tmp/$tag.err" |
			head -c 20 >"$tmp/$tag.out") &
		waiter=$!
		wait_until 30 test -s "$tmp/$tag.out" || fail "$tag: the answer never began"
		wait $waiter
	else
		am ask --stream --no-cache --max-tokens 400 "$tag" >"$tmp/$tag.out" 2>"$tmp/$tag.err" &
		waiter=$!
		wait_until 30 started "$tag" || fail "$tag: the answer never began"
		kill -$sig "$(ask_pid "$tag")"
		wait $waiter
		rc=$?
		# It ends by the signal itself (the status a shell gives that).
		[ $rc = $((128 + $(kill -l $sig))) ] || fail "$tag: exit $rc after SIG$sig"
	fi
	job=$(q "$db" "SELECT id FROM jobs WHERE request LIKE '%$tag%'")
	[ -n "$job" ] || fail "$tag: no job"
	if [ $sig = KILL ]; then
		[ "$(rows)" = "$before" ] || fail "$tag: a row appeared"
		continue
	fi
	[ "$(rows)" = $((before + 1)) ] || fail "$tag: $(($(rows) - before)) new ledger rows: $(cat "$tmp/$tag.err")"
	row=$(q "$db" "SELECT estimated, source, input_tokens > 0, output_tokens > 0, cost_pusd > 0
		FROM usage_events WHERE job_id = $job")
	[ "$row" = "1|ask|1|1|1" ] || fail "$tag: ledger row '$row'"
	grep -q "cancelled after the answer began" "$tmp/$tag.err" &&
		grep -q "≈.* · estimated (cut short)" "$tmp/$tag.err" ||
		fail "$tag: the summary does not say it is estimated: $(cat "$tmp/$tag.err")"
	state=$(q "$db" "SELECT state FROM jobs WHERE id = $job")
	[ "$state" = cancelled ] || fail "$tag: job $state"
done

# The report says which rows are estimated.
am report --json >"$tmp/report.json" || fail "report"
grep -q '"estimated_requests":4' "$tmp/report.json" || fail "report: $(cat "$tmp/report.json")"

# A batch of another file: its own line only.
lines "$tmp/other.jsonl" 1 other
am batch "$tmp/other.jsonl" >"$tmp/other.out" 2>"$tmp/other.err" || fail "batch: $(cat "$tmp/other.err")"
[ "$(jsonl_check "$tmp/other.out")" = 1 ] || fail "the batch's output"
grep -q "cut-by" "$tmp/other.out" && fail "the batch answered an abandoned prompt"
killed=$(q "$db" "SELECT state || ' ' || error FROM jobs WHERE request LIKE '%cut-by-KILL%'")
case $killed in "failed abandoned"*) ;; *) fail "the killed ask's job: '$killed'" ;; esac
stop_sim "$sim"
requests=$(sim_stat slow requests)
[ "$requests" = 6 ] || fail "the simulator received $requests requests, want 6 (5 asks, 1 line)"
exit 0
