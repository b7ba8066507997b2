#!/usr/bin/env bash
# The official TypeScript SDK (pinned in tests/sdk/ts; scripts/sdk installs it
# into build/sdk-ts before the suites run, so this test stays on loopback)
# talks to `aimeter sim`: plain and streamed calls, the key as x-api-key and
# as a bearer token (the SDK sends anthropic-version as it does to the real
# API), and the usage fields fast mode, US inference and web search bring.
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
echo "test_sdk_ts.sh: ok"
