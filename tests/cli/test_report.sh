#!/usr/bin/env bash
# aimeter record + report, end to end through the real binary, in a private
# HOME/XDG tree: the default ledger path and its mode, exact costs, the JSON
# shape, CSV, the table, and one-line usage errors with exit status 2.
set -euo pipefail
bin=${AIMETER_BIN:?AIMETER_BIN must name the aimeter binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp/home XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config TZ=UTC0
mkdir -p "$HOME"

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_contains() { [[ $1 == *"$2"* ]] || fail "expected '$2' in: $1"; }

# A usage error: exit 2 and exactly one line on stderr naming the culprit.
expect_usage_error() {
	local name=$1; shift
	local err rc=0
	err=$("$bin" "$@" 2>&1 >/dev/null) || rc=$?
	[ "$rc" -eq 2 ] || fail "'$*' exited $rc, not 2"
	[ "$(printf '%s\n' "$err" | wc -l)" -eq 1 ] || fail "'$*' printed more than one line: $err"
	expect_contains "$err" "$name"
}

today=$(date +%F)
out=$("$bin" record --model claude-sonnet-4-5 --input 1000 --output 500)
expect_contains "$out" 'cost $0.0105'
out=$("$bin" record --model claude-sonnet-4-5 --input 2000 --output 0 --cache-read 10000)
expect_contains "$out" 'cost $0.009'
out=$("$bin" record --model not-a-real-model --input 10 --output 20)
expect_contains "$out" 'price unknown'
out=$("$bin" record --model claude-sonnet-4-5 --input 1000 --output 500 --batch --db "$tmp/other.db")
expect_contains "$out" 'cost $0.00525'

db=$XDG_DATA_HOME/aimeter/aimeter.db
[ -f "$db" ] || fail "no ledger at the default path $db"
[ "$(stat -c %a "$db")" = 600 ] || fail "ledger mode is $(stat -c %a "$db"), not 600"
[ "$(stat -c %a "$XDG_DATA_HOME/aimeter")" = 700 ] || fail "data dir is not 700"

json=$("$bin" report --json)
[ "$(date +%F)" = "$today" ] || { echo "SKIP: the day changed during the test"; exit 0; }
want='{"from":"'$today'","to":"'$today'","models":[{"model":"claude-sonnet-4-5","requests":2,"input_tokens":3000,"output_tokens":500,"cache_creation_input_tokens":0,"cache_read_input_tokens":10000,"cost_usd":"0.0195","price_known":true},{"model":"not-a-real-model","requests":1,"input_tokens":10,"output_tokens":20,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cost_usd":"0","price_known":false}],"total":{"requests":3,"cost_usd":"0.0195"}}'
[ "$json" = "$want" ] || fail "report --json:
got:  $json
want: $want"
echo '{}' >"$tmp/empty.json"
[ "$("$bin" report --json --day "$today" --config "$tmp/empty.json")" = "$want" ] || fail "--day today differs"
[ "$("$bin" report --json --since "$today")" = "$want" ] || fail "--since today differs"

json=$("$bin" report --json --db "$tmp/other.db")
expect_contains "$json" '"total":{"requests":1,"cost_usd":"0.00525"}'
json=$("$bin" report --json --day 2001-02-03)
[ "$json" = '{"from":"2001-02-03","to":"2001-02-03","models":[],"total":{"requests":0,"cost_usd":"0"}}' ] ||
	fail "empty day: $json"

csv=$("$bin" report --csv)
expect_contains "$csv" "day,model,requests,input_tokens,output_tokens,cache_creation_input_tokens,cache_read_input_tokens,cost_usd,price_known,unknown_price_requests"
expect_contains "$csv" "$today,claude-sonnet-4-5,2,3000,500,0,10000,0.0195,true,0"

table=$("$bin" report)
expect_contains "$table" "Spend on $today"
expect_contains "$table" 'price ?'
expect_contains "$table" 'TOTAL'
expect_contains "$table" '$0.0195 *'
expect_contains "$table" '3,000'
expect_contains "$table" 'excludes 1 request with an unknown price: not-a-real-model'

# The schema is plain SQLite for users.
[ "$(sqlite3 "$db" 'SELECT count(*) FROM usage_events WHERE source = '"'record'")" = 3 ] ||
	fail "sqlite3 does not see the events"

# --config is honoured: its db (relative to the file), its timezone for the
# event's day and for "today", and the price override beside it.
rc=0
err=$("$bin" report --config "$tmp/none.json" 2>&1 >/dev/null) || rc=$?
[ "$rc" -eq 1 ] || fail "a missing --config exited $rc, not 1"
expect_contains "$err" "$tmp/none.json"
mkdir -p "$tmp/east" "$tmp/west"
echo '{"db": "tz.db", "timezone": "EAST-14"}' >"$tmp/east/config.json"
echo '{"db": "../east/tz.db", "timezone": "WEST+12"}' >"$tmp/west/config.json"
echo '{"format": "aimeter-pricing", "version": 1, "unit": "USD per million tokens",
  "models": {"claude-sonnet-4-5-20250929": {"input": "10"}}}' >"$tmp/east/pricing.json"
east=$(TZ=EAST-14 date +%F) west=$(TZ=WEST+12 date +%F)
[ "$east" != "$west" ] || fail "26 hours apart, yet the same day"
out=$("$bin" record --config "$tmp/east/config.json" --model claude-sonnet-4-5 --input 1000 --output 0)
expect_contains "$out" 'cost $0.01'
[ -f "$tmp/east/tz.db" ] || fail "record did not use the config's db"
json=$("$bin" report --json --config "$tmp/east/config.json")
expect_contains "$json" '{"from":"'$east'","to":"'$east'"'
expect_contains "$json" '"total":{"requests":1,"cost_usd":"0.01"}'
json=$("$bin" report --json --config "$tmp/west/config.json")
expect_contains "$json" '{"from":"'$west'","to":"'$west'","models":[],'
json=$("$bin" report --json --config "$tmp/west/config.json" --day "$east")
expect_contains "$json" '"total":{"requests":1,"cost_usd":"0.01"}'
# AIMETER_CONFIG names the config too, and --db outranks its db.
json=$(AIMETER_CONFIG=$tmp/east/config.json "$bin" report --json --since 2000-01-01)
expect_contains "$json" '"total":{"requests":1,"cost_usd":"0.01"}'
json=$(AIMETER_CONFIG=$tmp/east/config.json "$bin" report --json --since 2000-01-01 --db "$tmp/other.db")
expect_contains "$json" '"total":{"requests":1,"cost_usd":"0.00525"}'

"$bin" report --help | grep -q -- '--since' || fail "report --help"
"$bin" record --help | grep -q -- '--cache-write-1h' || fail "record --help"

expect_usage_error "--bogus" report --bogus
expect_usage_error "2024-02-30" report --day 2024-02-30
expect_usage_error "--since" report --since yesterday
expect_usage_error "--json" report --json --csv
expect_usage_error "--db" report --db
expect_usage_error "after" report --since 2024-03-02 --until 2024-03-01
expect_usage_error "--model" record --input 1 --output 1
expect_usage_error "--input" record --model m --input 12x --output 1
expect_usage_error "--output" record --model m --input 1
expect_usage_error "--frobnicate" record --model m --input 1 --output 1 --frobnicate
expect_usage_error "extra" record --model m --input 1 --output 1 extra
expect_usage_error "space" record --model m --input 1 --output 1 --tag 'two words'
expect_usage_error "64" record --model m --input 1 --output 1 --tag "$(printf 'x%.0s' {1..65})"
expect_usage_error "--by" report --by day

# Nothing above that failed wrote an event.
[ "$(sqlite3 "$db" 'SELECT count(*) FROM usage_events')" = 3 ] || fail "a failed command wrote"

# A row whose day total across models would leave int64 is refused when
# recorded, with the day named; the day stays readable (it used to make
# report and every ask fail until midnight).
big=$tmp/big.db
"$bin" record --db "$big" --model claude-haiku-4-5 --input 0 --output 1200000000000 >/dev/null ||
	fail "the first big row"
rc=0
err=$("$bin" record --db "$big" --model claude-sonnet-4-5 --input 0 --output 400000000000 2>&1) || rc=$?
[ "$rc" -eq 1 ] || fail "a row overflowing the day's total exited $rc: $err"
expect_contains "$err" "refused: the totals of $today across models"
expect_contains "$err" "int64"
"$bin" report --db "$big" >/dev/null 2>&1 || fail "the day is not readable: $("$bin" report --db "$big" 2>&1)"
# --by tag: each tag's row and the untagged rest, adding up to the total
# exactly, in the table, JSON (untagged as null) and CSV (untagged empty).
tags=$tmp/tags.db
"$bin" record --db "$tags" --model claude-sonnet-4-5 --input 1000 --output 500 --tag evals >/dev/null
"$bin" record --db "$tags" --model claude-haiku-4-5 --input 100 --output 50 --tag evals >/dev/null
"$bin" record --db "$tags" --model claude-sonnet-4-5 --input 100 --output 50 >/dev/null
"$bin" record --db "$tags" --model claude-sonnet-4-5 --input 1 --output 1 --tag app:web >/dev/null
"$bin" record --db "$tags" --model not-a-real-model --input 1 --output 1 --tag app:web >/dev/null
json=$("$bin" report --db "$tags" --by tag --json)
want='{"from":"'$today'","to":"'$today'","tags":[{"tag":"app:web","requests":2,"input_tokens":2,"output_tokens":2,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cost_usd":"0.000018","price_known":false},{"tag":"evals","requests":2,"input_tokens":1100,"output_tokens":550,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cost_usd":"0.01085","price_known":true},{"tag":null,"requests":1,"input_tokens":100,"output_tokens":50,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"cost_usd":"0.00105","price_known":true}],"total":{"requests":5,"cost_usd":"0.011918"}}'
[ "$json" = "$want" ] || fail "report --by tag --json:
got:  $json
want: $want"
by_model=$("$bin" report --db "$tags" --json)
expect_contains "$by_model" '"total":{"requests":5,"cost_usd":"0.011918"}'
csv=$("$bin" report --db "$tags" --by tag --csv)
expect_contains "$csv" "day,tag,requests,"
expect_contains "$csv" "$today,evals,2,1100,550,0,0,0.01085,true,0,0"
expect_contains "$csv" "$today,,1,100,50,0,0,0.00105,true,0,0"
table=$("$bin" report --db "$tags" --by tag)
expect_contains "$table" "TAG"
expect_contains "$table" "(untagged)"
expect_contains "$table" '$0.01085'
expect_contains "$table" 'excludes 1 request with an unknown price: app:web'
[ "$(sqlite3 "$tags" "SELECT count(*) FROM usage_events WHERE tag = 'evals'")" = 2 ] ||
	fail "the tag is not in usage_events"
echo "ok"
