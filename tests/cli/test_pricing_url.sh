#!/usr/bin/env bash
# aimeter pricing import URL: a price list fetched over the network reads
# exactly as the same file on disk, and a URL that is not served, plain http
# beyond this machine or not a URL at all is refused with a message. The
# file is served on loopback by python3's http.server.
set -euo pipefail

bin=${AIMETER_BIN:?AIMETER_BIN must name the aimeter binary}
src=${AIMETER_SOURCE_DIR:?AIMETER_SOURCE_DIR must name the source tree}
fixture_dir="$src/tests/fixtures/litellm"
fixture="$fixture_dir/model_prices_and_context_window.json"
command -v python3 >/dev/null || { echo "FAIL: python3 is needed to serve the file" >&2; exit 1; }

tmp=$(mktemp -d)
server=
cleanup() {
	[ -n "$server" ] && kill "$server" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
export HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/config" XDG_DATA_HOME="$tmp/data" TMPDIR="$tmp"
unset AIMETER_DATA_DIR AIMETER_CONFIG
mkdir -p "$HOME"
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$fixture_dir" >"$tmp/http.log" 2>&1 &
server=$!
port=
for _ in $(seq 1 100); do
	port=$(grep -oE 'port [0-9]+' "$tmp/http.log" | grep -oE '[0-9]+' | head -1 || true)
	[ -n "$port" ] && break
	sleep 0.05
done
[ -n "$port" ] || fail "the file server did not start: $(cat "$tmp/http.log")"
url="http://127.0.0.1:$port/model_prices_and_context_window.json"

# The same report from the URL as from the file (the name shown aside).
"$bin" pricing import "$fixture" --dry-run --json >"$tmp/file.json" || fail "import of the file"
"$bin" pricing import "$url" --dry-run --json >"$tmp/url.json" 2>"$tmp/url.err" ||
	fail "import of $url: $(cat "$tmp/url.err")"
python3 - "$tmp/file.json" "$tmp/url.json" <<'PY' || fail "the URL's report differs from the file's"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):
    for k in ("file", "source", "path", "url"):
        d.pop(k, None)
sys.exit(0 if a == b else 1)
PY
grep -q '"model"' "$tmp/url.json" || fail "the report lists no model: $(head -c 300 "$tmp/url.json")"
# Written for real: the override appears, and the temporary copy is gone.
"$bin" pricing import "$url" >"$tmp/write.out" 2>&1 || fail "import: $(cat "$tmp/write.out")"
[ -s "$XDG_CONFIG_HOME/aimeter/pricing.json" ] || fail "no override written"
ls "$tmp" | grep -q '^aimeter-prices-' && fail "the fetched copy was left in TMPDIR"

# Refusals: not served, plain http beyond loopback, a malformed URL.
if "$bin" pricing import "http://127.0.0.1:$port/absent.json" >/dev/null 2>"$tmp/e1"; then
	fail "a missing file was imported"
fi
grep -q 'HTTP 404' "$tmp/e1" || fail "no status named: $(cat "$tmp/e1")"
if "$bin" pricing import "http://prices.example.com/p.json" >/dev/null 2>"$tmp/e2"; then
	fail "plain http beyond loopback was accepted"
fi
grep -q 'plain http beyond this machine' "$tmp/e2" || fail "no reason given: $(cat "$tmp/e2")"
if "$bin" pricing import "https://bad host/p.json" >/dev/null 2>"$tmp/e3"; then
	fail "a URL with a space was accepted"
fi
grep -q 'is not a URL' "$tmp/e3" || fail "no reason given: $(cat "$tmp/e3")"
echo "test_pricing_url.sh: ok"
