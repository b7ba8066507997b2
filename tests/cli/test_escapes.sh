#!/usr/bin/env bash
# Text from outside never reaches a terminal raw: a server's model id, error
# message and request-id, a model id given to `record` and kept in the
# ledger, and a price file's entries. ESC, BEL, CR and C1 controls are shown
# as caret text or U+FFFD by every command (ask's summary and errors,
# record, report's table and CSV, pricing import); JSON outputs escape them
# and stay valid; a CSV row cannot be forged by a line break.
. "$(dirname "$0")/reliab_lib.sh"

evil=$'x\e]0;PWNED\a\e[2J\r\nFORGED'
# raw_controls FILE: counts ESC, BEL, lone-CR and C1 (U+0080..U+009F) bytes.
raw_controls() {
	LC_ALL=C sed 's/\r$//' "$1" | LC_ALL=C tr -d '\n' | LC_ALL=C grep -c $'[\e\a\r]\|\xc2[\x80-\x9f]'
}
no_raw() { # NAME FILE
	[ "$(raw_controls "$2")" = 0 ] || fail "$1 printed raw controls: $(od -c "$2" | head -20)"
}

printf '{"db":"%s","sim":{"latency_ms":0,"tokens_per_second":0}}\n' "$tmp/e.db" >"$tmp/e.json"
export AIMETER_CONFIG=$tmp/e.json

# record echoes the model; the ledger keeps it; report shows it.
am record --model "$evil" --input 10 --output 5 >"$tmp/rec.out" 2>"$tmp/rec.err" ||
	fail "record: $(cat "$tmp/rec.err")"
no_raw record "$tmp/rec.out"
grep -qF 'x^[]0;PWNED^G^[[2J' "$tmp/rec.out" || fail "record: not shown as caret text: $(cat "$tmp/rec.out")"
am report >"$tmp/rep.out" 2>"$tmp/rep.err" || fail "report: $(cat "$tmp/rep.err")"
no_raw "report table" "$tmp/rep.out"
grep -q '^FORGED' "$tmp/rep.out" && fail "report: a line break in a model id forged a line"
am report --csv >"$tmp/rep.csv" 2>"$tmp/rep.err" || fail "report --csv: $(cat "$tmp/rep.err")"
no_raw "report --csv" "$tmp/rep.csv"
[ "$(wc -l <"$tmp/rep.csv")" = 2 ] || fail "report --csv: a model id made extra rows: $(cat "$tmp/rep.csv")"
am report --json >"$tmp/rep.json" 2>"$tmp/rep.err" || fail "report --json: $(cat "$tmp/rep.err")"
no_raw "report --json" "$tmp/rep.json"
[ "$(sqlite3 :memory: "SELECT json_extract(readfile('$tmp/rep.json'), '\$.models[0].model') = char(120,27,93,48,59,80,87,78,69,68,7,27,91,50,74,13,10,70,79,82,71,69,68)")" = 1 ] ||
	fail "report --json does not carry the model id exactly: $(cat "$tmp/rep.json")"

# A server's error message through ask.
am ask --sim --model "sim-fault-$evil" "hi" >"$tmp/ask.out" 2>"$tmp/ask.err"
[ $? = 1 ] || fail "ask with a bad hook did not fail: $(cat "$tmp/ask.err")"
no_raw "ask's error" "$tmp/ask.err"
grep -qF '^[]0;PWNED^G' "$tmp/ask.err" || fail "ask's error: $(cat "$tmp/ask.err")"

# pricing import echoes the entries of a price file.
printf '{"claude-evil-1\\u001b]0;PWNED\\u0007": {"litellm_provider": "anthropic", "mode": "chat", "input_cost_per_token": 1e-06, "output_cost_per_token": 5e-06}}\n' >"$tmp/litellm.json"
am pricing import --dry-run "$tmp/litellm.json" >"$tmp/imp.out" 2>"$tmp/imp.err"
no_raw "pricing import" "$tmp/imp.out"
no_raw "pricing import (stderr)" "$tmp/imp.err"
grep -qF 'PWNED' "$tmp/imp.out" "$tmp/imp.err" || fail "pricing import did not name the entry: $(cat "$tmp/imp.out" "$tmp/imp.err")"

# A server whose answer names an escape-laden model and request-id.
command -v python3 >/dev/null || { note "python3 missing: the fake server part is not run"; exit 0; }
cat >"$tmp/fake.py" <<'PY'
import http.server, json, sys
EVIL = "claude-haiku-4-5\x1b]0;PWNED\x07\x1b[2J\x9b31m"
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        if body.get("system") == "fail":
            code, doc = 400, {"type": "error", "error": {"type": "invalid_request_error",
                              "message": "bad \x1b]0;PWNED\x07 request\r\nFORGED"}}
        else:
            code, doc = 200, {"id": "msg_1", "type": "message", "role": "assistant",
                              "content": [{"type": "text", "text": "hello"}], "model": EVIL,
                              "stop_reason": "end_turn",
                              "usage": {"input_tokens": 5, "output_tokens": 2}}
        out = json.dumps(doc).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", "req_\x1b]0;PWNED\x07")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print("http://127.0.0.1:%d" % s.server_address[1], flush=True)
s.serve_forever()
PY
python3 "$tmp/fake.py" >"$tmp/fake.url" 2>"$tmp/fake.err" &
bg_pids+=($!)
wait_until 10 test -s "$tmp/fake.url" || fail "the fake server did not start: $(cat "$tmp/fake.err")"
export ANTHROPIC_BASE_URL=$(head -n1 "$tmp/fake.url") ANTHROPIC_API_KEY=sk-test-escapes-0f1e
printf '{"db":"%s","client":{"max_retries":0}}\n' "$tmp/f.db" >"$tmp/f.json"
export AIMETER_CONFIG=$tmp/f.json
am ask --no-stream --no-cache --max-tokens 10 --model claude-haiku-4-5 "hi" >"$tmp/fa.out" 2>"$tmp/fa.err" ||
	fail "ask on the fake server: $(cat "$tmp/fa.err")"
no_raw "ask's summary" "$tmp/fa.err"
grep -qF '^[]0;PWNED^G' "$tmp/fa.err" || fail "ask's summary: $(cat "$tmp/fa.err")"
am ask --json --no-cache --max-tokens 10 --model claude-haiku-4-5 "hi" >"$tmp/fj.out" 2>"$tmp/fj.err" ||
	fail "ask --json on the fake server: $(cat "$tmp/fj.err")"
no_raw "ask --json" "$tmp/fj.out"
[ "$(sqlite3 :memory: "SELECT json_valid(readfile('$tmp/fj.out'))")" = 1 ] || fail "ask --json: invalid JSON"
am ask --no-stream --no-cache --system fail --max-tokens 10 --model claude-haiku-4-5 "hi" >"$tmp/fe.out" 2>"$tmp/fe.err"
[ $? = 1 ] || fail "the fake 400 did not fail ask: $(cat "$tmp/fe.err")"
no_raw "ask's error and request-id" "$tmp/fe.err"
grep -qF 'bad ^[]0;PWNED^G request' "$tmp/fe.err" || fail "ask's error: $(cat "$tmp/fe.err")"
am report >"$tmp/frep.out" 2>"$tmp/frep.err" || fail "report: $(cat "$tmp/frep.err")"
no_raw "report of a server's model" "$tmp/frep.out"
exit 0
