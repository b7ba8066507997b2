#!/usr/bin/env bash
# `aimeter proxy` against the simulator, with curl as the client:
#  1. 200 concurrent calls (half streaming) are answered byte for byte as
#     the simulator answers the same requests directly (x-sim-seq fixes
#     their ids), apart from hop-by-hop headers and the clock's; each is
#     recorded once, source proxy, at its exact cost, with its tag and the
#     key's last four characters (never more of it), and the tags add up in
#     report --by tag --json;
#  2. a budget that allows 3 calls: the 4th gets the provider's spend-limit
#     400 and never reaches the simulator; a tag's own budget blocks that
#     tag only; the limiter answers 429 rather than hold a call too long;
#  3. a client that goes away mid-stream: the upstream stream is cancelled
#     and the call's row is there, estimated;
#  3b. the response cache answers a call that asks for it (x-aimeter-cache:
#     on), plain or streamed, as the API would, and records the hit;
#  4. aimeter's own headers never go upstream; a body over 32 MB gets 413;
#     a non-loopback --listen without proxy.token is refused.
set -uo pipefail
bin=${AIMETER_BIN:?AIMETER_BIN must name the aimeter binary}
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 0; }
command -v sqlite3 >/dev/null || { echo "SKIP: no sqlite3"; exit 0; }
tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export HOME=$tmp TZ=UTC
unset AIMETER_CONFIG

# first_line FILE: waits for a URL on the first line of FILE
first_line() {
	local u=
	for _ in $(seq 1 200); do
		u=$(head -n1 "$1" 2>/dev/null)
		[ -n "$u" ] && break
		sleep 0.05
	done
	echo "$u"
}

start_sim() { # NAME ARGS...: sets $sim_url, $sim_pid
	local name=$1; shift
	"$bin" sim --port 0 "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" &
	sim_pid=$!
	pids+=("$sim_pid")
	sim_url=$(first_line "$tmp/$name.out")
	[[ $sim_url =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "sim $name: no URL: $(cat "$tmp/$name.err")"
}

stop_sim() { # stops $1 (pid) and prints its request count and ok count
	kill -TERM "$1"
	wait "$1" 2>/dev/null
}

stop_proxy() { # stops the proxy $px_pid (named $1): a clean exit, no sanitizer report
	kill -TERM "$px_pid"
	wait "$px_pid"
	local rc=$?
	[ "$rc" -eq 0 ] || fail "proxy $1 exited $rc: $(tail -5 "$tmp/$1.err")"
	grep -q 'Sanitizer' "$tmp/$1.err" && fail "proxy $1: $(grep -m3 -A3 Sanitizer "$tmp/$1.err")"
	return 0
}

start_proxy() { # NAME CONFIG UPSTREAM ARGS...: sets $px_url, $px_pid
	local name=$1 cfg=$2 up=$3; shift 3
	ANTHROPIC_API_KEY=sk-own-key-0000 ANTHROPIC_BASE_URL=$up \
		"$bin" proxy --port 0 --config "$cfg" --db "$tmp/$name.db" "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	px_pid=$!
	pids+=("$px_pid")
	px_url=$(first_line "$tmp/$name.out")
	[[ $px_url =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "proxy $name: no URL: $(cat "$tmp/$name.err")"
}

cat >"$tmp/fast.json" <<'JSON'
{
  "limits": {"rpm": 1000000, "itpm": 1000000000, "otpm": 1000000000, "max_in_flight": 512,
             "init_fill_pct": 100},
  "worker": {"concurrency": 512},
  "budget": {"daily_usd": "0"}
}
JSON

# ---- 1. 200 concurrent calls ------------------------------------------------
start_sim s1 --rpm 0 --itpm 0 --otpm 0 --latency-ms 0 --tokens-per-second 0 --seed 7
sim1=$sim_url sim1_pid=$sim_pid
start_proxy p1 "$tmp/fast.json" "$sim1" --tag cli-default
px1=$px_url

mkdir -p "$tmp/via" "$tmp/direct"
call() { # URL DIR I: one call, response headers to DIR/I.h, body to DIR/I.b
	local url=$1 dir=$2 i=$3 stream=false
	[ $((i % 2)) -eq 0 ] && stream=true
	local body="{\"model\":\"claude-haiku-4-5\",\"max_tokens\":$((8 + i % 9)),\"stream\":$stream,\"messages\":[{\"role\":\"user\",\"content\":\"Hello number $i\"}]}"
	local tag=()
	[ $((i % 3)) -ne 0 ] && tag=(-H "x-aimeter-tag: app$((i % 3))")
	curl -sS --max-time 60 -D "$dir/$i.h" -o "$dir/$i.b" "$url/v1/messages" \
		-H "x-api-key: sk-client-key-$((i % 4))WXY" -H 'anthropic-version: 2023-06-01' \
		-H 'content-type: application/json' -H "x-sim-seq: $((1000 + i))" "${tag[@]}" \
		-d "$body" 2>>"$dir/errors"
}
for i in $(seq 0 199); do call "$px1" "$tmp/via" "$i" & done
wait_calls() { for j in $(jobs -p); do case " ${pids[*]} " in *" $j "*) ;; *) wait "$j" ;; esac; done; }
wait_calls
for i in $(seq 0 199); do call "$sim1" "$tmp/direct" "$i"; done
[ -s "$tmp/via/errors" ] && fail "curl through the proxy: $(head -3 "$tmp/via/errors")"

# Headers as compared: hop-by-hop ones and the clock's (Date, resets) set aside.
norm() { tr -d '\r' <"$1" | grep -viE '^(date|connection|keep-alive|transfer-encoding|anthropic-ratelimit-[a-z-]*-reset):' | sort; }
for i in $(seq 0 199); do
	cmp -s "$tmp/via/$i.b" "$tmp/direct/$i.b" || fail "call $i: body differs from the direct answer"
	[ "$(head -n1 "$tmp/via/$i.h")" = "$(head -n1 "$tmp/direct/$i.h")" ] || fail "call $i: status differs"
	diff <(norm "$tmp/via/$i.h") <(norm "$tmp/direct/$i.h") >/dev/null ||
		fail "call $i: headers differ: $(diff <(norm "$tmp/via/$i.h") <(norm "$tmp/direct/$i.h"))"
	grep -qi '^request-id: req_' "$tmp/via/$i.h" || fail "call $i: no request-id"
done
grep -q '"type":"message_stop"' "$tmp/via/0.b" || fail "a stream did not come through whole"

stop_proxy p1
db=$tmp/p1.db
q() { sqlite3 "$db" "$1"; }
[ "$(q "SELECT count(*) FROM usage_events WHERE source = 'proxy'")" = 200 ] ||
	fail "expected 200 proxy rows, got $(q 'SELECT count(*) FROM usage_events')"
[ "$(q "SELECT count(*) FROM usage_events WHERE estimated != 0")" = 0 ] || fail "estimated rows"
[ "$(q "SELECT count(DISTINCT request_id) FROM usage_events")" = 200 ] || fail "a call recorded twice"
# Each row: the usage the simulator reported for its request-id, priced
# exactly (claude-haiku-4-5: $1 / $5 per million tokens = 10^6 / 5*10^6 pUSD).
want_total=0
for i in $(seq 0 199); do
	rid=$(tr -d '\r' <"$tmp/via/$i.h" | awk -F': ' 'tolower($1)=="request-id"{print $2}')
	in=$(grep -o '"input_tokens":[0-9]*' "$tmp/via/$i.b" | head -n1 | cut -d: -f2)
	out=$(grep -o '"output_tokens":[0-9]*' "$tmp/via/$i.b" | tail -n1 | cut -d: -f2)
	row=$(q "SELECT input_tokens, output_tokens, cost_pusd, coalesce(tag, ''), key_hint FROM usage_events WHERE request_id = '$rid'")
	tag=cli-default
	[ $((i % 3)) -ne 0 ] && tag=app$((i % 3))
	want="$in|$out|$((in * 1000000 + out * 5000000))|$tag|$((i % 4))WXY"
	[ "$row" = "$want" ] || fail "call $i ($rid): row '$row', expected '$want'"
	want_total=$((want_total + in * 1000000 + out * 5000000))
done
[ "$(q 'SELECT sum(cost_pusd) FROM usage_events')" = "$want_total" ] || fail "total cost"
# the tags add up, and hold the calls' costs
tags=$(q "SELECT tag, count(*) FROM usage_events GROUP BY tag ORDER BY tag" | tr '\n' ' ')
[ "$tags" = "app1|67 app2|66 cli-default|67 " ] || fail "tags: $tags"
# report --by tag --json says the same: requests and exact cost per tag
declare -A want_n=() want_c=()
for i in $(seq 0 199); do
	tag=cli-default
	[ $((i % 3)) -ne 0 ] && tag=app$((i % 3))
	in=$(grep -o '"input_tokens":[0-9]*' "$tmp/via/$i.b" | head -n1 | cut -d: -f2)
	out=$(grep -o '"output_tokens":[0-9]*' "$tmp/via/$i.b" | tail -n1 | cut -d: -f2)
	want_n[$tag]=$((${want_n[$tag]:-0} + 1))
	want_c[$tag]=$((${want_c[$tag]:-0} + in * 1000000 + out * 5000000))
done
HOME=$tmp "$bin" report --db "$db" --by tag --json >"$tmp/bytag.json" || fail "report --by tag"
usd_to_pusd() { # "0.000123" -> picodollars
	local whole=${1%%.*} frac=
	[[ $1 == *.* ]] && frac=${1#*.}
	frac=$(printf '%-12s' "$frac" | tr ' ' 0)
	echo $((10#$whole * 1000000000000 + 10#$frac))
}
for tag in app1 app2 cli-default; do
	entry=$(grep -o "{\"tag\":\"$tag\",\"requests\":[0-9]*,[^}]*\"cost_usd\":\"[0-9.]*\"" "$tmp/bytag.json")
	n=$(grep -o '"requests":[0-9]*' <<<"$entry" | cut -d: -f2)
	c=$(grep -o '"cost_usd":"[0-9.]*"' <<<"$entry" | cut -d'"' -f4)
	[ "$n" = "${want_n[$tag]}" ] || fail "report --by tag: $tag has $n requests, expected ${want_n[$tag]}"
	[ "$(usd_to_pusd "$c")" = "${want_c[$tag]}" ] ||
		fail "report --by tag: $tag costs \$$c, expected ${want_c[$tag]} pUSD"
done
# no key beyond its last four characters reached the ledger or the output
sqlite3 "$db" .dump | grep -q 'sk-client' && fail "a client key is in the ledger"
grep -q 'sk-' "$tmp/p1.out" "$tmp/p1.err" && fail "a key in the proxy's output"
# the simulator saw each call once through the proxy and once directly
stop_sim "$sim1_pid"
grep -q '(400 requests, 400 ok' "$tmp/s1.err" || fail "simulator counts: $(cat "$tmp/s1.err")"

# ---- 2. a budget that allows 3 calls ------------------------------------------
# Each call reserves about $0.005031 (1000 output tokens) and costs about
# $0.005007: 3 reservations' worth lets 3 through and blocks the 4th.
sed 's/"daily_usd": "0"/"daily_usd": "0.015093"/' "$tmp/fast.json" >"$tmp/budget.json"
start_sim s2 --rpm 0 --itpm 0 --otpm 0 --latency-ms 0 --tokens-per-second 0
sim2_pid=$sim_pid
start_proxy p2 "$tmp/budget.json" "$sim_url"
body='{"model":"claude-haiku-4-5","max_tokens":1000,"messages":[{"role":"user","content":"Hi"}]}'
for n in 1 2 3 4; do
	code=$(curl -sS -o "$tmp/b$n" -w '%{http_code}' "$px_url/v1/messages" -H 'x-api-key: k-1234' \
		-H 'anthropic-version: 2023-06-01' -H 'x-sim-output-tokens: 1000' -d "$body")
	if [ "$n" -le 3 ]; then
		[ "$code" = 200 ] || fail "budget: call $n got $code: $(cat "$tmp/b$n")"
	else
		[ "$code" = 400 ] || fail "budget: call 4 got $code, expected the spend-limit 400"
	fi
done
grep -q '"type":"error","error":{"type":"invalid_request_error","message":"You have reached your specified API usage limits' "$tmp/b4" ||
	fail "not the spend-limit shape: $(cat "$tmp/b4")"
grep -q "aimeter's daily limit" "$tmp/b4" || fail "the message does not name aimeter's limit: $(cat "$tmp/b4")"
grep -q 'regain access on 20[0-9-]* 00:00' "$tmp/b4" || fail "the message does not say when it resets: $(cat "$tmp/b4")"
stop_proxy p2
stop_sim "$sim2_pid"
grep -q '(3 requests, 3 ok' "$tmp/s2.err" || fail "the refused call reached upstream: $(cat "$tmp/s2.err")"
[ "$(sqlite3 "$tmp/p2.db" 'SELECT count(*) FROM usage_events')" = 3 ] || fail "budget: rows"

# A tag's own daily budget (budget.tags) blocks that tag only.
sed 's/"daily_usd": "0"/"daily_usd": "0", "tags": {"capped": "0.0075"}/' "$tmp/fast.json" >"$tmp/tagcap.json"
start_sim s7 --rpm 0 --itpm 0 --otpm 0 --latency-ms 0 --tokens-per-second 0
sim7_pid=$sim_pid
start_proxy p10 "$tmp/tagcap.json" "$sim_url"
body='{"model":"claude-haiku-4-5","max_tokens":1000,"messages":[{"role":"user","content":"Hi"}]}'
tagged() { # TAG: a call of $body under TAG; prints its status
	curl -sS -o "$tmp/tag-$1.b" -w '%{http_code}' "$px_url/v1/messages" -H 'x-api-key: k-1234' \
		-H 'anthropic-version: 2023-06-01' -H 'x-sim-output-tokens: 1000' -H "x-aimeter-tag: $1" \
		-d "$body"
}
[ "$(tagged capped)" = 200 ] || fail "tag budget: the first capped call"
[ "$(tagged capped)" = 400 ] || fail "tag budget: the second capped call was not refused"
grep -q "You have reached your specified API usage limits: aimeter's tag capped's daily limit" \
	"$tmp/tag-capped.b" || fail "tag budget: message $(cat "$tmp/tag-capped.b")"
[ "$(tagged other)" = 200 ] || fail "tag budget: another tag was blocked"
[ "$(tagged other)" = 200 ] || fail "tag budget: another tag was blocked (2)"
stop_proxy p10
stop_sim "$sim7_pid"
grep -q '(3 requests, 3 ok' "$tmp/s7.err" || fail "tag budget: upstream counts: $(cat "$tmp/s7.err")"

# ---- 2b. the limiter: a call that would wait past proxy.max_wait_s gets a 429 -----
cat >"$tmp/slow.json" <<'JSON'
{
  "limits": {"rpm": 1, "itpm": 1000000000, "otpm": 1000000000, "init_fill_pct": 100,
             "learn_from_headers": false},
  "proxy": {"max_wait_s": 1},
  "budget": {"daily_usd": "0"}
}
JSON
start_sim s5 --rpm 0 --itpm 0 --otpm 0 --latency-ms 0 --tokens-per-second 0
sim5_pid=$sim_pid
start_proxy p5 "$tmp/slow.json" "$sim_url"
body='{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}'
code=$(curl -sS -o /dev/null -w '%{http_code}' "$px_url/v1/messages" -H 'x-api-key: k-1234' \
	-H 'anthropic-version: 2023-06-01' -d "$body")
[ "$code" = 200 ] || fail "limiter: the first call got $code"
code=$(curl -sS -D "$tmp/rl.h" -o "$tmp/rl.b" -w '%{http_code}' "$px_url/v1/messages" \
	-H 'x-api-key: k-1234' -H 'anthropic-version: 2023-06-01' -d "$body")
[ "$code" = 429 ] || fail "limiter: the second call got $code, expected 429"
grep -q '"type":"error","error":{"type":"rate_limit_error"' "$tmp/rl.b" || fail "429 shape: $(cat "$tmp/rl.b")"
ra=$(tr -d '\r' <"$tmp/rl.h" | awk -F': ' 'tolower($1)=="retry-after"{print $2}')
[[ $ra =~ ^[0-9]+$ ]] && [ "$ra" -ge 2 ] && [ "$ra" -le 61 ] || fail "retry-after '$ra'"
stop_proxy p5

# A call the limiter holds (within max_wait_s) when the proxy stops is
# answered at once (503), and the proxy does not wait for its deadline.
sed 's/"max_wait_s": 1/"max_wait_s": 120/' "$tmp/slow.json" >"$tmp/hold.json"
start_proxy p9 "$tmp/hold.json" "$sim_url"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$px_url/v1/messages" -H 'x-api-key: k-1234' \
	-H 'anthropic-version: 2023-06-01' -d "$body")
[ "$code" = 200 ] || fail "hold: the first call got $code"
curl -sS -o "$tmp/held.b" -w '%{http_code}' "$px_url/v1/messages" -H 'x-api-key: k-1234' \
	-H 'anthropic-version: 2023-06-01' -d "$body" >"$tmp/held.code" 2>/dev/null &
held=$!
# Held once the proxy has read the request: its side of the connection is
# established with nothing left unread (/proc/net/tcp, port in hex).
hexport=$(printf '%04X' "${px_url##*:}")
read_by_proxy() {
	awk -v p=":$hexport" '$2 ~ p"$" && $4 == "01" { split($5, q, ":"); if (q[2] == "00000000") f = 1 }
		END { exit !f }' /proc/net/tcp
}
for _ in $(seq 1 200); do read_by_proxy && break; sleep 0.05; done
read_by_proxy || fail "hold: the proxy never read the second call"
sleep 0.3
t0=$SECONDS
stop_proxy p9
wait "$held"
[ $((SECONDS - t0)) -le 5 ] || fail "hold: the proxy took $((SECONDS - t0)) s to stop"
[ "$(cat "$tmp/held.code")" = 503 ] || fail "hold: the held call got $(cat "$tmp/held.code")"
stop_sim "$sim5_pid"
grep -q '(2 requests, 2 ok' "$tmp/s5.err" || fail "the held call reached upstream: $(cat "$tmp/s5.err")"

# ---- 3. a client that goes away mid-stream ---------------------------------------
start_sim s3 --rpm 0 --itpm 0 --otpm 0 --latency-ms 0 --tokens-per-second 40
sim3_pid=$sim_pid
start_proxy p3 "$tmp/fast.json" "$sim_url"
body='{"model":"claude-haiku-4-5","max_tokens":400,"stream":true,"messages":[{"role":"user","content":"Hi"}]}'
curl -sS -N --max-time 1 -o "$tmp/cut.b" "$px_url/v1/messages" -H 'x-api-key: k-1234' \
	-H 'anthropic-version: 2023-06-01' -H 'x-sim-output-tokens: 400' -d "$body" 2>/dev/null
grep -q 'message_start' "$tmp/cut.b" || fail "the stream did not begin"
grep -q 'message_stop' "$tmp/cut.b" && fail "the stream was not cut"
row=
for _ in $(seq 1 100); do
	row=$(sqlite3 "$tmp/p3.db" "SELECT estimated, output_tokens > 0, error IS NULL FROM usage_events" 2>/dev/null)
	[ "$row" = "1|1|1" ] && break
	sleep 0.1
done
[ "$row" = "1|1|1" ] || fail "cut stream: row '$row', expected estimated with the output so far"
sleep 1 # the whole answer would take 10 s: upstream must have been cancelled by now
stop_proxy p3
stop_sim "$sim3_pid"
grep -q '(1 requests, 0 ok' "$tmp/s3.err" || fail "the upstream stream went on: $(cat "$tmp/s3.err")"

# ---- 3b. the response cache: only when a call asks (x-aimeter-cache: on) ---------
start_sim s6 --rpm 0 --itpm 0 --otpm 0 --latency-ms 0 --tokens-per-second 0
sim6_pid=$sim_pid
start_proxy p8 "$tmp/fast.json" "$sim_url"
body='{"model":"claude-haiku-4-5","max_tokens":30,"messages":[{"role":"user","content":"cache me"}]}'
cached() { # OUT STREAM HEADER...: a call with $body, stream true or false
	local out=$1 stream=$2; shift 2
	curl -sS -D "$tmp/$out.h" -o "$tmp/$out.b" -w '%{http_code}' "$px_url/v1/messages" \
		-H 'x-api-key: k-1234' -H 'anthropic-version: 2023-06-01' "$@" \
		-d "${body%\}},\"stream\":$stream}"
}
[ "$(cached c1 false -H 'x-aimeter-cache: on')" = 200 ] || fail "cache: first call"
[ "$(cached c2 false -H 'x-aimeter-cache: on')" = 200 ] || fail "cache: second call"
[ "$(cached c3 true -H 'x-aimeter-cache: on')" = 200 ] || fail "cache: streamed call"
[ "$(cached c4 false)" = 200 ] || fail "cache: a call that does not ask"
grep -qi '^x-aimeter-cache: hit' "$tmp/c1.h" && fail "cache: the first call was a hit"
grep -qi '^x-aimeter-cache: hit' "$tmp/c2.h" || fail "cache: the second call was not a hit"
grep -qi '^x-aimeter-cache: hit' "$tmp/c3.h" || fail "cache: the streamed call was not a hit"
grep -qi '^x-aimeter-cache: hit' "$tmp/c4.h" && fail "cache: a call that did not ask got a hit"
text=$(grep -o '"text":"[^"]*"' "$tmp/c1.b")
[ -n "$text" ] && grep -qF "$text" "$tmp/c2.b" || fail "cache: the hit's text differs: $(cat "$tmp/c2.b")"
grep -qF "${text#\"text\":}" "$tmp/c3.b" || fail "cache: the streamed hit's text differs"
grep -q 'event: message_stop' "$tmp/c3.b" || fail "cache: the streamed hit is not a whole stream"
grep -q "$(grep -o '"output_tokens":[0-9]*' "$tmp/c1.b")" "$tmp/c2.b" || fail "cache: usage differs"
stop_proxy p8
stop_sim "$sim6_pid"
grep -q '(2 requests, 2 ok' "$tmp/s6.err" || fail "cache: upstream counts: $(cat "$tmp/s6.err")"
row=$(sqlite3 "$tmp/p8.db" "SELECT count(*), sum(cached), sum(cached * cost_pusd), sum(cached * saved_pusd) > 0 FROM usage_events")
[ "$row" = "4|2|0|1" ] || fail "cache: rows '$row', expected 4 rows, 2 hits at no cost that saved"

# ---- 4. aimeter's headers, body cap, listen ---------------------------------------
start_sim s4 --rpm 0 --itpm 0 --otpm 0 --latency-ms 0 --tokens-per-second 0 --api-key k-only
sim4_pid=$sim_pid
start_proxy p4 "$tmp/fast.json" "$sim_url"
# The client's own key goes upstream (this simulator takes only k-only).
code=$(curl -sS -o /dev/null -w '%{http_code}' "$px_url/v1/messages" -H 'x-api-key: k-only' \
	-H 'anthropic-version: 2023-06-01' -H 'x-aimeter-tag: t' \
	-d '{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}')
[ "$code" = 200 ] || fail "a call with the client's key: $code"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$px_url/v1/messages" -H 'x-api-key: wrong' \
	-H 'anthropic-version: 2023-06-01' \
	-d '{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}')
[ "$code" = 401 ] || fail "the client's own key was not forwarded: $code"
# an upstream 429 comes back as it was (and the call is not recorded: not billed)
code=$(curl -sS -D "$tmp/u429.h" -o "$tmp/u429.b" -w '%{http_code}' "$px_url/v1/messages" \
	-H 'x-api-key: k-only' -H 'anthropic-version: 2023-06-01' -H 'x-sim-fault: 429' \
	-d '{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}')
[ "$code" = 429 ] || fail "upstream 429: $code"
grep -qi '^retry-after: 1' "$tmp/u429.h" || fail "upstream 429: no retry-after"
grep -q '"rate_limit_error"' "$tmp/u429.b" || fail "upstream 429 body: $(cat "$tmp/u429.b")"
# a Messages body aimeter cannot read is refused here, never sent (a key
# given twice could be read upstream and paid for)
for bad in '{"model":"claude-haiku-4-5","model":"claude-opus-4-5","max_tokens":5,"messages":[]}' \
	'not json' '{"max_tokens":5}'; do
	code=$(curl -sS -o "$tmp/bad.b" -w '%{http_code}' "$px_url/v1/messages" -H 'x-api-key: k-only' \
		-H 'anthropic-version: 2023-06-01' -d "$bad")
	[ "$code" = 400 ] || fail "unreadable body '$bad': $code"
	grep -q '"type":"invalid_request_error","message":"aimeter proxy: ' "$tmp/bad.b" ||
		fail "unreadable body: $(cat "$tmp/bad.b")"
done
# other paths pass through, unrecorded
code=$(curl -sS -o "$tmp/other" -w '%{http_code}' "$px_url/v1/models" -H 'x-api-key: k-only')
[ "$code" = 404 ] || fail "another path: $code"
head -c $((33 * 1024 * 1024)) /dev/zero | tr '\0' 'a' >"$tmp/big"
code=$(curl -sS -o "$tmp/big.out" -w '%{http_code}' "$px_url/v1/messages" -H 'x-api-key: k-only' \
	--data-binary @"$tmp/big")
[ "$code" = 413 ] || fail "a 33 MB body: $code"
grep -q '"type":"request_too_large"' "$tmp/big.out" || fail "413 shape: $(cat "$tmp/big.out")"
stop_proxy p4
[ "$(sqlite3 "$tmp/p4.db" 'SELECT count(*) FROM usage_events')" = 1 ] || fail "p4: rows"
# proxy.token: clients must send it as x-aimeter-token, which goes no further
sed 's/"budget"/"proxy": {"token": "s3cret-tok"},\n  "budget"/' "$tmp/fast.json" >"$tmp/token.json"
start_proxy p6 "$tmp/token.json" "$sim_url"
code=$(curl -sS -o "$tmp/tok.out" -w '%{http_code}' "$px_url/v1/messages" -H 'x-api-key: k-only' \
	-d '{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}')
[ "$code" = 401 ] || fail "no x-aimeter-token: $code"
grep -q '"type":"authentication_error"' "$tmp/tok.out" || fail "401 shape: $(cat "$tmp/tok.out")"
code=$(curl -sS -o /dev/null -w '%{http_code}' "$px_url/v1/messages" -H 'x-api-key: k-only' \
	-H 'x-aimeter-token: s3cret-tok' -H 'anthropic-version: 2026-10-21' \
	-d '{"model":"claude-haiku-4-5","max_tokens":5,"messages":[{"role":"user","content":"Hi"}]}')
[ "$code" = 200 ] || fail "with x-aimeter-token: $code"
"$bin" config --config "$tmp/token.json" | grep -q 's3cret' && fail "aimeter config shows the token"
stop_proxy p6
stop_sim "$sim4_pid"
# upstream saw the call, the wrong key, the 429, /v1/models and the call
# with the token: not the refused bodies, the 413 or the call without a token
grep -q '(5 requests' "$tmp/s4.err" || fail "upstream counts: $(cat "$tmp/s4.err")"
ANTHROPIC_API_KEY=k ANTHROPIC_BASE_URL=$sim_url "$bin" proxy --port 0 --listen 0.0.0.0 \
	--config "$tmp/fast.json" --db "$tmp/p7.db" >"$tmp/p7.out" 2>"$tmp/p7.err"
[ $? -eq 1 ] || fail "a non-loopback listen without a token was accepted"
grep -q 'proxy.token' "$tmp/p7.err" || fail "no hint about proxy.token: $(cat "$tmp/p7.err")"
echo ok
