#!/usr/bin/env bash
# Small amounts are readable and agree: /budget 0.001 reads $0.001 on the
# budget panel and in the answer to the command (not $0.00, not
# $0.001000000000), and the alert it raises names the percentage and the
# spend the panel shows, not only the threshold it passed.
. "$(dirname "$0")/lib.sh"
start 120 40
wait_for 'of $10.00'
type_line "hello"
wait_for ' in / [0-9,]+ out' -E
type_line "/alert 5"
type_line "/budget 0.001"
wait_for 'of $0.001 '
wait_for 'daily budget $0.001 (saved)'
screen | grep -qF '$0.001000' && fail "the amount carries zeros that say nothing"
screen | grep -qF 'of $0.00 ' && fail "the limit reads as nothing"
wait_for 'budget alert: 5% of the daily limit passed, spend at [0-9]+%: \$[0-9.]+ of \$0\.001 spent' -E
# The panel follows the alert by up to one snapshot: wait for its percentage.
wait_for '\$[0-9.]+ of \$0\.001 [^%]* [0-9]+%' -E
bar=$(screen | grep -oE '\$[0-9.]+ of \$0\.001 [^%]* [0-9]+%' | head -1)
alert=$(screen | grep -oE 'budget alert: .*spent' | tail -1)
bar_pct=$(grep -oE '[0-9]+%$' <<<"$bar")
bar_spent=$(grep -oE '^\$[0-9.]+' <<<"$bar")
[[ "$alert" == *"spend at $bar_pct:"* ]] || fail "the alert ($alert) and the bar ($bar) disagree on the percentage"
[[ "$alert" == *": $bar_spent of \$0.001 spent" ]] || fail "the alert ($alert) and the bar ($bar) disagree on the spend"
quit F10
