#!/usr/bin/env bash
# alert_command runs with a minimal environment (the AIMETER_* alert
# variables and PATH/HOME/LANG-like ones, never the API key) and inherits
# no descriptor of aimeter but 0-2: not the connection to the API, not
# curl's wakeup pair, not the ledger. Checked from inside the command
# itself: `env` and `ls /proc/self/fd` (ls's own directory handle is fd 3).
. "$(dirname "$0")/reliab_lib.sh"

export ANTHROPIC_API_KEY=sk-test-alert-spawn-2b9e
export AIMETER_SECRET_EXTRA=not-for-the-alert
start_sim alert
export ANTHROPIC_BASE_URL=$sim_url
mkdir "$tmp/got"
cmd="env >$tmp/got/env.tmp; ls /proc/self/fd >$tmp/got/fds.tmp; mv $tmp/got/env.tmp $tmp/got/env.txt; mv $tmp/got/fds.tmp $tmp/got/fds.txt"
printf '{"db":"%s","budget":{"daily_usd":"0.005","alert_pct":[1],"alert_command":"%s","bell":false}}\n' \
	"$tmp/a.db" "$cmd" >"$tmp/a.json"
export AIMETER_CONFIG=$tmp/a.json
am ask --max-tokens 400 --model claude-haiku-4-5 "a long enough answer to pass one percent" >"$tmp/out" 2>"$tmp/err" ||
	fail "ask: $(cat "$tmp/err")"
grep -q "1%" "$tmp/err" || note "no alert line on stderr: $(cat "$tmp/err")"
wait_until 10 test -s "$tmp/got/fds.txt" || fail "the alert command did not run: $(cat "$tmp/err")"
wait_until 10 test -s "$tmp/got/env.txt" || fail "the alert command wrote no environment"
grep -q '^AIMETER_ALERT_PCT=1$' "$tmp/got/env.txt" || fail "alert variables missing: $(cat "$tmp/got/env.txt")"
grep -q '^AIMETER_DAY=' "$tmp/got/env.txt" || fail "AIMETER_DAY missing"
grep -q '^PATH=' "$tmp/got/env.txt" || fail "PATH missing"
grep -q "$ANTHROPIC_API_KEY" "$tmp/got/env.txt" && fail "the API key reached the alert command"
grep -q "ANTHROPIC_\|AIMETER_SECRET_EXTRA\|AIMETER_CONFIG" "$tmp/got/env.txt" &&
	fail "the alert command inherited the environment: $(cat "$tmp/got/env.txt")"
fds=$(sort -n "$tmp/got/fds.txt" | tr '\n' ' ')
[ "$fds" = "0 1 2 3 " ] || fail "the alert command inherited descriptors: $fds"
exit 0
