#!/usr/bin/env bash
# What a server says reaches the screen as text, never as terminal control:
# an answer carrying an escape sequence and a bell is shown with caret
# escapes, and a call the server fails shows the provider's status and error
# type. The dashboard talks to a standalone `aimeter sim` over loopback,
# with a key from a 0600 file, as it would to the real API.
. "$(dirname "$0")/lib.sh"

sim_pids=()
stop_sims() { for p in "${sim_pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap 'stop_sims; cleanup' EXIT

# run_sim NAME ARGS...: starts `aimeter sim` and sets $sim_url.
run_sim() {
	local name=$1; shift
	"$AIMETER_BIN" sim --port 0 --latency-ms 20 "$@" >"$home/$name.out" 2>"$home/$name.err" &
	sim_pids+=($!)
	sim_url=
	for _ in $(seq 1 100); do
		sim_url=$(head -n1 "$home/$name.out" 2>/dev/null || true)
		[ -n "$sim_url" ] && break
		sleep 0.05
	done
	[[ $sim_url =~ ^http://127\.0\.0\.1:[0-9]+$ ]] || fail "$name: no URL ($(cat "$home/$name.err"))"
}

printf 'sk-ant-screen-test-key\n' >"$home/key"
chmod 600 "$home/key"

run_sim escapes --output-text $'\033[31mto paint red\033[0m and a bell\a here'
write_config "{ \"base_url\": \"$sim_url\", \"api_key_file\": \"$home/key\",
                \"client\": { \"max_retries\": 0 } }"
start 120 40 --config "$config"
type_line "show me an escape"
wait_for "^[[31mto paint red^[[0m"
wait_for "bell^G"
screen | grep -q "sk-ant-screen-test-key" && fail "the key reached the screen"
quit F10

run_sim overloaded --fault-529 1
write_config "{ \"base_url\": \"$sim_url\", \"api_key_file\": \"$home/key\",
                \"client\": { \"max_retries\": 0 } }"
start 120 40 --config "$config"
type_line "please fail"
wait_for "overloaded: Overloaded (HTTP 529"
quit F10
