#!/usr/bin/env bash
# Output that cannot be written is a failure: every command writing to a
# full device (/dev/full) exits non-zero with one line naming the cause,
# whether the write failed at once or only at the final flush.
. "$(dirname "$0")/reliab_lib.sh"
[ -w /dev/full ] || { echo "# /dev/full is missing; nothing to test" >&2; exit 0; }

printf '{"db":"%s","sim":{"latency_ms":0,"tokens_per_second":0}}\n' "$tmp/o.db" >"$tmp/o.json"
export AIMETER_CONFIG=$tmp/o.json
lines "$tmp/in.jsonl" 2 full

# full NAME ARGS...: aimeter ARGS with stdout on /dev/full must fail and say why.
full() {
	local name=$1
	shift
	am "$@" >/dev/full 2>"$tmp/$name.err"
	local rc=$?
	[ $rc != 0 ] || fail "$name: exit 0 with stdout on /dev/full"
	grep -q "cannot write" "$tmp/$name.err" ||
		fail "$name: no clear message: $(cat "$tmp/$name.err")"
}
full ask ask --sim "hello there"
full ask-json ask --sim --json --no-cache "hello again"
full batch batch --sim "$tmp/in.jsonl"
full pricing pricing
full record record --model claude-haiku-4-5 --input 10 --output 5
full config config
full config-json config --json
full report report
full report-csv report --csv
full version --version

exit 0
