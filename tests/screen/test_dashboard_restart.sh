#!/usr/bin/env bash
# Settings changed on the input line outlive the process: after F10 and a
# new start the limits panel and the budget bar show them, and
# `aimeter config` reports them as changed at run time.
. "$(dirname "$0")/lib.sh"
start 120 40
type_line "/rpm 37"
wait_for 'RPM .* / 37 ' -E
type_line "/budget 4.25"
wait_for 'of $4.25'
type_line "/alert 60"
wait_for "budget alert at 60% (saved)"
quit F10

start 120 40
wait_for 'of $4.25'
wait_for 'RPM .* / 37 ' -E
wait_for "alert at 60%"
quit F10

out=$(env -u AIMETER_DB -u AIMETER_CONFIG "$AIMETER_BIN" config --config "$config")
for key in limits.rpm budget.daily_usd budget.alert_pct; do
	echo "$out" | grep -E "^$key +changed at run time" >/dev/null ||
		{ echo "FAIL: aimeter config does not report $key as changed at run time:" >&2
		  echo "$out" >&2; exit 1; }
done
echo "$out" | grep -E '^limits.rpm +changed at run time +37$' >/dev/null ||
	{ echo "FAIL: limits.rpm is not 37" >&2; echo "$out" >&2; exit 1; }
