#!/usr/bin/env bash
# The demo engine's scripted prompts: control characters in an answer are
# shown as text, a 429 shows a cool-down on the limits panel, a failed call
# shows its error, and a repeated prompt comes from the cache. Always runs
# on --demo (the real pipeline has its own 429 test).
. "$(dirname "$0")/lib.sh"
start 120 40 --demo
type_line "show me an escape"
wait_for "^[[31mto paint red^[[0m"
wait_for "bell^G"
type_line "trigger a 429 please"
wait_for "cool-down [1-4]s" -E
wait_for "429s 1"
type_line "please fail"
wait_for "HTTP 529: overloaded_error"
type_line "/new"
type_line "show me an escape"
wait_for "cached"
quit F10
