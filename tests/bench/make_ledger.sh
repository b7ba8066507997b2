#!/usr/bin/env bash
# make_ledger: a large ledger for the UI benchmark, in seconds.
#
#   tests/bench/make_ledger.sh DB [ROWS] [DAYS] [TODAY]
#
# Creates DB with aimeter's own schema (`aimeter report --db DB`), then
# inserts ROWS usage events (default 1,000,000) with the sqlite3 shell: the
# first ROWS - TODAY spread evenly over the DAYS days before today (default
# 90), the last TODAY (default 2,000) over today so far, in time order, as a
# ledger receives them. The schema's triggers keep the per-day summary, so
# the ledger is exactly what the pipeline would have written. Models cycle
# through three priced ones and one without a price; costs are exact
# picodollars from the token counts (haiku-like prices), small enough that
# today's spend stays under a $10 budget.
# Environment: AIMETER_BIN (default build/release/aimeter).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
bin=${AIMETER_BIN:-$top/build/release/aimeter}
db=${1:?usage: make_ledger.sh DB [ROWS] [DAYS] [TODAY]}
rows=${2:-1000000}
days=${3:-90}
today=${4:-2000}
command -v sqlite3 >/dev/null || { echo "make_ledger: the sqlite3 shell is required" >&2; exit 1; }
[ "$today" -le "$rows" ] || today=$rows
[ ! -e "$db" ] || { echo "make_ledger: $db exists" >&2; exit 1; }

"$bin" report --db "$db" >/dev/null

now_s=$(date +%s)
midnight_s=$(date -d "$(date +%F)" +%s)
old=$((rows - today))
span_old=$((days * 86400))
span_today=$((now_s - midnight_s))
[ "$span_today" -gt 0 ] || span_today=1

sqlite3 "$db" >/dev/null <<EOF
PRAGMA journal_mode=WAL;
PRAGMA synchronous=OFF;
BEGIN;
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < $rows),
ev AS (
  SELECT i,
    CASE WHEN i < $old
      THEN ($midnight_s - $span_old) * 1000000000 + i * ($span_old * 1000000000 / max($old, 1))
      ELSE $midnight_s * 1000000000 + (i - $old) * ($span_today * 1000000000 / max($today, 1))
    END AS ts,
    CASE i % 4 WHEN 0 THEN 'claude-haiku-4-5' WHEN 1 THEN 'claude-sonnet-4-5'
      WHEN 2 THEN 'claude-opus-4-5' ELSE 'claude-3-9-mystery' END AS model,
    20 + (i * 7919) % 400 AS tin, 10 + (i * 104729) % 200 AS tout
  FROM n)
INSERT INTO usage_events(ts_ns, day, model_requested, model, reason, input_tokens,
  output_tokens, cache_read, cost_pusd, price_known, latency_ms, http_status, source)
SELECT ts, date(ts / 1000000000, 'unixepoch', 'localtime'), model, model, '120 chars < 500',
  tin, tout, (i % 10) * 100,
  CASE WHEN model = 'claude-3-9-mystery' THEN NULL ELSE tin * 1000000 + tout * 5000000 END,
  model != 'claude-3-9-mystery', 300 + i % 2000, 200, 'batch'
FROM ev;
COMMIT;
PRAGMA wal_checkpoint(TRUNCATE);
EOF
chmod 600 "$db"
