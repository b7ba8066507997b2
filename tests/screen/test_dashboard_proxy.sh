#!/usr/bin/env bash
# The dashboard serves the proxy in-process (--proxy PORT): a call another
# program sends through it appears in the console as one line - its tag,
# model, tokens, cost and latency - and its spend counts in the header.
. "$(dirname "$0")/lib.sh"
command -v curl >/dev/null || { echo "SKIP: no curl"; exit 0; }
# A port for the proxy, below the ephemeral range (outgoing connections
# take ports there); one that is taken makes the dashboard say so and exit,
# and the next try takes another.
started=
for _ in $(seq 1 10); do
	port=$((20000 + RANDOM % 12000))
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && continue
	starts=$((starts + 1))
	sock="$sock_base-$starts"
	tm new-session -d -s main -x 140 -y 40 \
		"env -u ANTHROPIC_API_KEY -u ANTHROPIC_BASE_URL -u AIMETER_DB -u AIMETER_CONFIG LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color $AIMETER_BIN dashboard --sim --config $config --proxy $port 2>$home/stderr; echo aimeter-exit=\$?; cat $home/stderr; sleep 600"
	deadline=$((SECONDS + SCREEN_TIMEOUT))
	while ! screen | grep -qE 'F1|aimeter-exit'; do
		[ $SECONDS -lt $deadline ] || fail "the dashboard did not start"
		sleep 0.1
	done
	if screen | grep -q 'aimeter-exit'; then
		grep -q 'cannot listen' "$home/stderr" || fail "the dashboard exited"
		tm kill-server
		continue
	fi
	started=1
	break
done
[ -n "$started" ] || fail "no free port for the proxy"
deadline=$((SECONDS + SCREEN_TIMEOUT))
code=
while [ "$code" != 200 ]; do
	[ $SECONDS -lt $deadline ] || fail "the proxy did not answer on $port (last: $code)"
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/v1/messages" \
		-H 'anthropic-version: 2023-06-01' -H 'x-aimeter-tag: screen-app' \
		-d '{"model":"claude-haiku-4-5","max_tokens":20,"messages":[{"role":"user","content":"Hi"}]}')
	[ "$code" = 200 ] || sleep 0.2
done
wait_for 'proxy screen-app · claude-haiku-4-5-20251001 · [0-9]+ in / [0-9]+ out · \$' -E
quit F10
