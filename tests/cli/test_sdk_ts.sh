#!/usr/bin/env bash
# The official TypeScript SDK (pinned in tests/sdk/ts; scripts/sdk installs it
# into build/sdk-ts before the suites run, so this test stays on loopback)
# talks to `aimeter sim`: plain and streamed calls, the key as x-api-key and
# as a bearer token (the SDK sends anthropic-version as it does to the real
# API), and the usage fields fast mode, US inference and web search bring;
# then the same through `aimeter proxy`, and the proxy's spend-limit 400 as
# the SDK sees it.
# shellcheck source=reliab_lib.sh
. "$(dirname "$0")/reliab_lib.sh"
src=${AIMETER_SOURCE_DIR:?AIMETER_SOURCE_DIR must name the source tree}
sdk=${AIMETER_SDK_TS_DIR:-$src/build/sdk-ts}

command -v node >/dev/null || fail "node is not installed (scripts/deps.sh installs nodejs)"
[ -d "$sdk/node_modules/@anthropic-ai/sdk" ] ||
	fail "the TypeScript SDK is not installed in $sdk: run scripts/sdk (scripts/test does)"
# The script resolves the SDK from its own folder: give it the installed one.
cp "$src/tests/sdk/ts/sdk_sim.mjs" "$tmp/"
ln -s "$sdk/node_modules" "$tmp/node_modules"

start_sim open
url=$sim_url
start_sim keyed --api-key sk-sim-test
(cd "$tmp" && AIMETER_SIM_URL=$url AIMETER_SIM_KEYED_URL=$sim_url timeout 60 node sdk_sim.mjs) ||
	fail "the SDK against aimeter sim"

# The same SDK checks through `aimeter proxy`, one proxy in front of each
# simulator (the client's key goes upstream as the client sent it).
start_proxy() { # NAME UPSTREAM CONFIG: sets $px_url, $px_pid
	ANTHROPIC_API_KEY=sk-own ANTHROPIC_BASE_URL=$2 HOME=$tmp "$bin" proxy --port 0 \
		--config "$3" --db "$tmp/$1.db" >"$tmp/$1.out" 2>"$tmp/$1.err" &
	px_pid=$!
	bg_pids+=("$px_pid")
	px_url=
	for _ in $(seq 1 200); do
		px_url=$(head -n1 "$tmp/$1.out" 2>/dev/null)
		[ -n "$px_url" ] && break
		sleep 0.05
	done
	[ -n "$px_url" ] || fail "proxy $1 did not start: $(cat "$tmp/$1.err")"
}
echo '{"limits": {"rpm": 100000, "itpm": 100000000, "otpm": 100000000}}' >"$tmp/open.json"
start_proxy popen "$url" "$tmp/open.json"
open_px=$px_url
start_proxy pkeyed "$sim_url" "$tmp/open.json"
(cd "$tmp" && AIMETER_SIM_URL=$open_px AIMETER_SIM_KEYED_URL=$px_url timeout 60 node sdk_sim.mjs) ||
	fail "the SDK through aimeter proxy"
# A budget for one call of 1000 output tokens (about $0.005): the SDK stops
# on the spend-limit 400 and does not retry it.
echo '{"limits": {"rpm": 100000, "itpm": 100000000, "otpm": 100000000},
       "budget": {"daily_usd": "0.0075"}}' >"$tmp/one.json"
start_sim budget
start_proxy pone "$sim_url" "$tmp/one.json"
cp "$src/tests/sdk/ts/sdk_proxy.mjs" "$tmp/"
(cd "$tmp" && AIMETER_PROXY_URL=$px_url timeout 60 node sdk_proxy.mjs) ||
	fail "the SDK and the proxy's budget"
stop_sim "$sim_pid"
grep -q '(1 requests' "$tmp/budget.err" || fail "the refused call reached upstream: $(cat "$tmp/budget.err")"
echo "test_sdk_ts.sh: ok"
