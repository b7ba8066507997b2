#!/usr/bin/env bash
# Secrets. With a recognisable API key, run ask, batch, config,
# report, a failing call, and the dashboard (in tmux, against a separate
# simulator that demands the key), then search everything aimeter wrote or
# showed - the ledger and its -wal/-shm while the dashboard runs and after,
# the log file, every captured stdout and stderr, the batch results and
# the screen captures - for the key and for a middle piece of it. Files
# aimeter creates are 0600 and its directories 0700 even under umask 000.
# api_key_file: the key read from a file works; a file others may read
# draws a warning.
. "$(dirname "$0")/../cli/reliab_lib.sh"
command -v tmux >/dev/null || fail "tmux is required"

umask 000 # modes must come from aimeter, not from the umask
rand=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
key="sk-ant-api03-${rand}-reliabKEY"
mid=${rand:8:24}
home=$tmp/home
cap=$tmp/cap # what the test captured: searched too
mkdir -p "$home" "$cap"
export XDG_CONFIG_HOME=$home/config XDG_DATA_HOME=$home/data
log=$home/logs/aimeter.log
cfg=$tmp/config.json
printf '{"log_file":"%s","limits":{"rpm":0,"itpm":0,"otpm":0},"budget":{"daily_usd":"0"},' "$log" >"$cfg"
printf '"client":{"max_retries":0}}\n' >>"$cfg"
export AIMETER_CONFIG=$cfg
start_sim secret --api-key "$key"
secret_pid=$sim_pid
export ANTHROPIC_BASE_URL=$sim_url ANTHROPIC_API_KEY=$key
db=$home/data/aimeter/aimeter.db

# search WHAT FILES...: neither the key nor its middle piece in any file.
search() {
	local what=$1 f
	shift
	for f in "$@"; do
		[ -e "$f" ] || continue
		if grep -aqF -e "$key" -e "$mid" "$f"; then
			fail "$what: the API key (or a piece of it) is in $f"
		fi
	done
}

# ---------------------------------------------------------------------------
# 1. The commands, each with stdout and stderr captured.
am ask "hello there" >"$cap/ask.out" 2>"$cap/ask.err" || fail "ask: $(cat "$cap/ask.err")"
am ask --json "hello json" >"$cap/askj.out" 2>"$cap/askj.err" || fail "ask --json: $(cat "$cap/askj.err")"
{
	lines "$tmp/ok.jsonl" 3 sec
	cat "$tmp/ok.jsonl"
	printf '{"id":"bad","prompt":"x","model":"sim-fault-500"}\n'
	printf 'not json at all\n'
} >"$cap/in.jsonl"
am batch "$cap/in.jsonl" --out "$cap/batch.jsonl" >"$cap/batch.out" 2>"$cap/batch.err"
[ $? = 1 ] || fail "batch: want exit 1 (two bad lines): $(cat "$cap/batch.err")"
am config >"$cap/config.out" 2>"$cap/config.err" || fail "config: $(cat "$cap/config.err")"
am config --json >"$cap/configj.out" 2>"$cap/configj.err" || fail "config --json"
grep -q "api_key" "$cap/config.out" || fail "config does not list api_key"
am report >"$cap/report.out" 2>"$cap/report.err" || fail "report: $(cat "$cap/report.err")"
am report --json >"$cap/reportj.out" 2>"$cap/reportj.err" || fail "report --json"
# A call the server refuses for the key: the error must not echo it.
start_sim other --api-key "sk-ant-api03-the-other-key"
other_pid=$sim_pid
ANTHROPIC_BASE_URL=$sim_url am ask "refused" >"$cap/auth.out" 2>"$cap/auth.err"
[ $? = 1 ] || fail "ask with a refused key: want exit 1"
grep -qi "auth" "$cap/auth.err" || fail "no authentication error: $(cat "$cap/auth.err")"
stop_sim "$other_pid"
# The price override file (pricing import) is created private too.
src=${AIMETER_SOURCE_DIR:-$(dirname "$0")/../..}
am pricing import "$src/tests/fixtures/litellm/model_prices_and_context_window.json" \
	>"$cap/pricing.out" 2>"$cap/pricing.err" || fail "pricing import: $(cat "$cap/pricing.err")"

# ---------------------------------------------------------------------------
# 2. The dashboard under tmux with the real key (no --sim: it talks to the
#    simulator above, which refuses any other key).
sock="aimeter-secrets-$$"
tm() { tmux -u -L "$sock" -f /dev/null "$@"; }
trap 'tm kill-server 2>/dev/null; reliab_cleanup' EXIT
pane() { tm capture-pane -p -S - -t main; }
tm new-session -d -s main -x 120 -y 40 \
	"env LANG=C.UTF-8 LC_ALL=C.UTF-8 TERM=xterm-256color $bin dashboard 2>$cap/dash.err; echo aimeter-exit=\$?; sleep 600"
shows() { pane | grep -qF -- "$1"; }
wait_until 20 shows "F1" || fail "the dashboard did not start: $(pane; cat "$cap/dash.err")"
tm send-keys -t main -l -- "tell me a secret"
tm send-keys -t main Enter
wait_until 20 shows "conversation of 1 turn" || fail "no answer on the dashboard: $(pane)"
pane >"$cap/screen1.txt"
tm send-keys -t main -l -- "/help"
tm send-keys -t main Enter
sleep 0.5
pane >"$cap/screen2.txt"
# While it runs the ledger has its -wal and -shm: search them and their modes.
[ -e "$db-wal" ] || fail "no -wal file while the dashboard runs"
search "ledger (live)" "$db" "$db-wal" "$db-shm"
for f in "$db" "$db-wal" "$db-shm"; do
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f"), want 600"
done
tm send-keys -t main Escape
tm send-keys -t main -l -- "/quit"
tm send-keys -t main Enter
wait_until 20 shows "aimeter-exit=0" || fail "the dashboard did not quit: $(pane)"
pane >"$cap/screen3.txt"
tm kill-server

# ---------------------------------------------------------------------------
# 3. api_key_file instead of the environment.
unset ANTHROPIC_API_KEY
kf=$tmp/keyfile
printf '%s\n' "$key" >"$kf"
chmod 644 "$kf"
printf '{"api_key_file":"%s","limits":{"rpm":0,"itpm":0,"otpm":0},"budget":{"daily_usd":"0"}}\n' "$kf" \
	>"$tmp/kf.json"
AIMETER_CONFIG=$tmp/kf.json am ask "from the key file" >"$cap/kf1.out" 2>"$cap/kf1.err" ||
	fail "ask with api_key_file: $(cat "$cap/kf1.err")"
grep -q "mode 0644" "$cap/kf1.err" || fail "no warning for a 0644 key file: $(cat "$cap/kf1.err")"
grep -q "chmod 600" "$cap/kf1.err" || fail "the warning does not say what to do: $(cat "$cap/kf1.err")"
chmod 600 "$kf"
AIMETER_CONFIG=$tmp/kf.json am ask "from the key file" >"$cap/kf2.out" 2>"$cap/kf2.err" ||
	fail "ask with a 0600 api_key_file: $(cat "$cap/kf2.err")"
grep -qi "warn\|mode" "$cap/kf2.err" && fail "a warning for a 0600 key file: $(cat "$cap/kf2.err")"
[ "$(q "$db" "SELECT count(*) FROM usage_events WHERE source = 'ask'")" -ge 4 ] ||
	fail "the asks were not answered with the key"
stop_sim "$secret_pid"

# ---------------------------------------------------------------------------
# 4. The search, and the modes of everything aimeter created.
search "ledger" "$db" "$db-wal" "$db-shm"
search "log file" "$log"
search "captures" "$cap"/*
search "simulator output" "$tmp"/secret.* "$tmp"/other.*
[ -s "$log" ] || fail "the log file is empty"
for f in "$db" "$log" "$tmp/pricing.json"; do # the override goes beside the config
	[ -e "$f" ] || fail "$f was not created"
	[ "$(stat -c %a "$f")" = 600 ] || fail "$f has mode $(stat -c %a "$f"), want 600"
done
for d in "$home/data" "$home/data/aimeter" "$home/logs"; do
	[ "$(stat -c %a "$d")" = 700 ] || fail "directory $d has mode $(stat -c %a "$d"), want 700"
done
clean_stderr "$cap"/*.err
note "ok"
