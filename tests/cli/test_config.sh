#!/usr/bin/env bash
# test_config.sh: `aimeter config` end to end, in a private HOME - values and
# their sources from defaults, file, env, flags and the settings table; the
# API key only ever masked (stdout, stderr, JSON); usage errors exit 2 on one
# line; a broken file exits 1 with line and column.
set -u
BIN=${AIMETER_BIN:?AIMETER_BIN is not set}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export HOME=$T/home
mkdir -p "$HOME"
unset XDG_CONFIG_HOME XDG_DATA_HOME AIMETER_CONFIG AIMETER_DB ANTHROPIC_API_KEY \
	ANTHROPIC_BASE_URL NO_COLOR TZ
KEY=sk-ant-test-SECRETSECRET-1234
fails=0

fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# run ARGS...: runs aimeter with stdout in $T/out, stderr in $T/err, status in $rc.
run() {
	"$BIN" "$@" >"$T/out" 2>"$T/err"
	rc=$?
}

expect_rc() {
	[ "$rc" -eq "$1" ] || fail "$2: exit $rc, want $1 (stderr: $(head -c 300 "$T/err"))"
}

# row KEY SOURCE VALUE: the table has that row, columns separated by 2+ spaces.
expect_row() {
	grep -Eq "^$1  +$2  +$3\$" "$T/out" || fail "no row '$1 | $2 | $3' in: $(grep -E "^$1 " "$T/out")"
}

no_secret() {
	if grep -q SECRETSECRET "$T/out" "$T/err"; then
		fail "$1: the key's middle was printed"
	fi
}

# --- the key from the environment, values from a file ------------------------
cfg=$T/c.json
cat >"$cfg" <<'EOF'
{
  "limits": {"rpm": 77, "pools": {"opus-4": {"otpm": 90000}}},
  "budget": {"daily_usd": 12.5, "monthly_usd": "300.10"},
  "ui": {"color": "never"}
}
EOF
ANTHROPIC_API_KEY=$KEY ANTHROPIC_BASE_URL=http://127.0.0.1:9/ run config --config "$cfg"
expect_rc 0 "config --config"
no_secret "table"
expect_row api_key "env ANTHROPIC_API_KEY" 'sk-ant-\.\.\.1234'
expect_row limits.rpm file 77
expect_row limits.itpm default 30000
expect_row limits.pools.opus-4.otpm file 90000
expect_row budget.daily_usd file 12.5
expect_row budget.monthly_usd file 300.1
expect_row base_url "env ANTHROPIC_BASE_URL" 'http://127\.0\.0\.1:9'
expect_row ui.color file never
grep -q "config file: $cfg (loaded, from --config)" "$T/out" || fail "config file line: $(head -1 "$T/out")"
[ -s "$T/err" ] && fail "unexpected stderr: $(cat "$T/err")"

ANTHROPIC_API_KEY=$KEY run config --config "$cfg" --json
expect_rc 0 "config --json"
no_secret "json"
grep -q '"value": "sk-ant-...1234"' "$T/out" || fail "json: no masked key"
grep -q '"budget.daily_usd": {' "$T/out" || fail "json: no budget.daily_usd"
tr -d ' \n' <"$T/out" | grep -q '"limits.rpm":{"value":77,"source":"file"}' || fail "json: limits.rpm"

# --- the default path, AIMETER_CONFIG, weak env -------------------------------
mkdir -p "$HOME/.config/aimeter"
echo '{"worker": {"concurrency": 8}, "timezone": "UTC"}' >"$HOME/.config/aimeter/config.json"
NO_COLOR=1 TZ=UTC run config
expect_rc 0 "config (default path)"
expect_row worker.concurrency file 8
expect_row ui.color "env NO_COLOR" never
expect_row api_key - '\(not set\)'
expect_row db default "$HOME/.local/share/aimeter/aimeter.db"
AIMETER_CONFIG=$cfg run config
expect_rc 0 "AIMETER_CONFIG"
expect_row limits.rpm file 77
expect_row worker.concurrency default 64

# --- usage errors: one line naming the flag, exit 2 ----------------------------
for bad in "--bogus" "--rpm=5" "-x" "extra-arg" "--json=yes" "--db"; do
	run config $bad
	expect_rc 2 "config $bad"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "config $bad: stderr is not one line: $(cat "$T/err")"
	name=${bad%%=*}
	grep -qF -- "$name" "$T/err" || fail "config $bad: the error does not name it: $(cat "$T/err")"
	[ -s "$T/out" ] && fail "config $bad printed to stdout"
done
run config --help
expect_rc 0 "config --help"
for opt in --json --keys --config --db --help; do
	grep -q -- "$opt" "$T/out" || fail "--help does not mention $opt"
done

# --- a broken file: exit 1, file:line:column --------------------------------------
printf '{\n  "limits": {\n    "rpm": 50,\n  }\n}\n' >"$T/bad.json"
run config --config "$T/bad.json"
expect_rc 1 "bad JSON"
grep -q "$T/bad.json:4:[0-9]*: " "$T/err" || fail "bad JSON: no line and column: $(cat "$T/err")"
echo '{"limits": {"rpm": "fast"}}' >"$T/type.json"
run config --config "$T/type.json"
expect_rc 1 "wrong type"
grep -q "limits.rpm: expected a whole number" "$T/err" || fail "wrong type: $(cat "$T/err")"
run config --config "$T/missing.json"
expect_rc 1 "missing --config file"

# --- unknown keys warn, and the rest applies ------------------------------------------
echo '{"limits": {"rpmm": 5, "otpm": 1234}}' >"$T/unk.json"
run config --config "$T/unk.json"
expect_rc 0 "unknown key"
grep -q "warning: .*unknown key 'limits.rpmm'.*did you mean 'limits.rpm'" "$T/err" ||
	fail "unknown key warning: $(cat "$T/err")"
expect_row limits.otpm file 1234

# --- the key from api_key_file: a mode warning, never the key ----------------------
printf '%s\n' "$KEY" >"$T/key"
chmod 0644 "$T/key"
echo "{\"api_key_file\": \"$T/key\"}" >"$T/kf.json"
run config --config "$T/kf.json"
expect_rc 0 "api_key_file"
no_secret "api_key_file"
grep -q "warning: api_key_file $T/key has mode 0644" "$T/err" || fail "no mode warning: $(cat "$T/err")"
expect_row api_key 'file \(api_key_file\)' 'sk-ant-\.\.\.1234'
chmod 0600 "$T/key"
run config --config "$T/kf.json"
[ -s "$T/err" ] && fail "mode 0600 still warns: $(cat "$T/err")"

# --- values changed at run time (the settings table), and --db -------------------------
if ! command -v sqlite3 >/dev/null; then
	fail "the sqlite3 shell is needed (scripts/deps.sh installs it)"
else
	db=$T/ledger.db
	sqlite3 "$db" "CREATE TABLE settings(key TEXT PRIMARY KEY, value TEXT NOT NULL, updated_ns INTEGER);
		INSERT INTO settings VALUES('limits.rpm', '10', 0), ('budget.daily_usd', '2.25', 0),
		('cache.enabled', 'false', 0), ('limits.gone', '1', 0);"
	sum_before=$(cksum <"$db")
	run config --config "$cfg" --db "$db"
	expect_rc 0 "settings table"
	expect_row db flag "$db"
	expect_row limits.rpm "changed at run time" 10
	expect_row budget.daily_usd "changed at run time" 2.25
	expect_row cache.enabled "changed at run time" false
	grep -q "saved setting ignored: unknown key 'limits.gone'" "$T/err" || fail "stale setting: $(cat "$T/err")"
	AIMETER_DB=$db run config
	expect_rc 0 "AIMETER_DB"
	expect_row db "env AIMETER_DB" "$db"
	expect_row limits.rpm "changed at run time" 10
	[ "$sum_before" = "$(cksum <"$db")" ] || fail "config changed the database"
	run config --db "$T/none.db"
	expect_rc 0 "missing db"
	[ -e "$T/none.db" ] && fail "config created a database"
fi

# --- --keys lists every key; the example sets every one of them ------------------
run config --keys
expect_rc 0 "config --keys"
cp "$T/out" "$T/keys"
run config --config "${AIMETER_SOURCE_DIR:?}/data/config.example.json"
expect_rc 0 "the example"
[ -s "$T/err" ] && fail "the example warns: $(cat "$T/err")"
n=0
while read -r k src _; do
	case $k in KEY | api_key | config | "") continue ;; esac
	[ "$src" = file ] || fail "the example does not set $k"
	grep -q "^$k " "$T/keys" || fail "--keys does not list $k"
	n=$((n + 1))
done <"$T/out"
[ "$n" -ge 40 ] || fail "only $n keys"
run config --keys --json
expect_rc 0 "config --keys --json"
grep -q '"key": "budget.daily_usd"' "$T/out" || fail "--keys --json"

if [ "$fails" -ne 0 ]; then
	echo "$fails failure(s)" >&2
	exit 1
fi
echo "test_config.sh: all passed"
