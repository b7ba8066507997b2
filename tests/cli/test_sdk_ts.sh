#!/usr/bin/env bash
# The official TypeScript SDK (pinned in tests/sdk/ts, installed from the npm
# registry with `npm ci` into a private directory) talks to `aimeter sim`
# over loopback: plain and streamed calls, the key as x-api-key and as a
# bearer token (the SDK sends anthropic-version as it does to the real API),
# and the usage fields fast mode, US inference and web search bring.
set -uo pipefail
bin=${AIMETER_BIN:?AIMETER_BIN must name the aimeter binary}
src=${AIMETER_SOURCE_DIR:?AIMETER_SOURCE_DIR must name the source tree}
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

command -v node >/dev/null || fail "node is not installed (scripts/deps.sh installs nodejs)"
command -v npm >/dev/null || fail "npm is not installed (it comes with nodejs)"
cp "$src/tests/sdk/ts/package.json" "$src/tests/sdk/ts/package-lock.json" "$src/tests/sdk/ts/sdk_sim.mjs" "$tmp/"
(cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >"$tmp/npm.log" 2>&1) ||
	fail "npm ci: $(tail -5 "$tmp/npm.log")"

# start_sim FILE ARGS...: starts a sim, prints its URL.
start_sim() {
	local out=$1; shift
	"$bin" sim --port 0 "$@" >"$out" 2>"$out.err" &
	pids+=("$!")
	local url=
	for _ in $(seq 1 100); do
		url=$(head -n1 "$out" 2>/dev/null)
		[ -n "$url" ] && break
		sleep 0.05
	done
	[[ $url =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "no sim URL: $(cat "$out.err")"
	echo "$url"
}
url=$(start_sim "$tmp/sim1")
keyed=$(start_sim "$tmp/sim2" --api-key sk-sim-test)

(cd "$tmp" && AIMETER_SIM_URL=$url AIMETER_SIM_KEYED_URL=$keyed timeout 60 node sdk_sim.mjs) ||
	fail "the SDK against aimeter sim"
echo "test_sdk_ts.sh: ok"
