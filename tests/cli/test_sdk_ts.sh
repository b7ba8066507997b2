#!/usr/bin/env bash
# The official TypeScript SDK (pinned in tests/sdk/ts, installed from the npm
# registry with `npm ci` into a private directory) talks to `aimeter sim`
# over loopback: plain and streamed calls, the key as x-api-key and as a
# bearer token (the SDK sends anthropic-version as it does to the real API),
# and the usage fields fast mode, US inference and web search bring.
# shellcheck source=reliab_lib.sh
. "$(dirname "$0")/reliab_lib.sh"
src=${AIMETER_SOURCE_DIR:?AIMETER_SOURCE_DIR must name the source tree}

command -v node >/dev/null || fail "node is not installed (scripts/deps.sh installs nodejs)"
command -v npm >/dev/null || fail "npm is not installed (it comes with nodejs)"
cp "$src/tests/sdk/ts/package.json" "$src/tests/sdk/ts/package-lock.json" \
	"$src/tests/sdk/ts/sdk_sim.mjs" "$tmp/"
(cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >"$tmp/npm.log" 2>&1) ||
	fail "npm ci: $(tail -5 "$tmp/npm.log")"

start_sim open
url=$sim_url
start_sim keyed --api-key sk-sim-test
(cd "$tmp" && AIMETER_SIM_URL=$url AIMETER_SIM_KEYED_URL=$sim_url timeout 60 node sdk_sim.mjs) ||
	fail "the SDK against aimeter sim"
echo "test_sdk_ts.sh: ok"
