#!/usr/bin/env bash
# `aimeter dashboard --keys-markdown` prints the command and key tables from
# the one table the help screen uses, and README.md carries exactly that
# text between <!-- keys:begin --> and <!-- keys:end --> (regenerate with
# the command in the failure message).
set -euo pipefail
: "${AIMETER_BIN:?}" "${AIMETER_SOURCE_DIR:?}"
out=$("$AIMETER_BIN" dashboard --keys-markdown)
fail() { echo "FAIL: $*" >&2; exit 1; }

grep -qx '| Command | What it does |' <<<"$out" || fail "no command table header"
grep -qx '| Key | Also | What it does |' <<<"$out" || fail "no key table header"
for c in rpm itpm otpm budget month alert model cache pause resume new help quit; do
	grep -q "^| \`/$c" <<<"$out" || fail "command /$c missing"
done
for k in F1 F2 F3 F4 F5 F6 F7 F8 F9 F10 F11 F12 PgUp PgDn; do
	grep -q "^| $k |" <<<"$out" || fail "key $k missing"
done
# Every row has as many cells as its header (a stray '|' would break it).
bad=$(sed 's/\\|//g' <<<"$out" | awk -F'|' '/^\|/ && !/^\|---/ { print NF }' | sort -u | wc -l)
[ "$bad" -le 3 ] || fail "rows with different cell counts"

readme="$AIMETER_SOURCE_DIR/README.md"
[ -f "$readme" ] || exit 0 # the README lands with the lead's merge
if ! grep -q '<!-- keys:begin -->' "$readme"; then
	fail "README.md has no <!-- keys:begin --> ... <!-- keys:end --> key table"
fi
in_readme=$(sed -n '/<!-- keys:begin -->/,/<!-- keys:end -->/p' "$readme" | sed '1d;$d')
if [ "$in_readme" != "$out" ]; then
	diff <(echo "$in_readme") <(echo "$out") >&2 || true
	fail "README.md key table differs from the binary's; regenerate it with:
  aimeter dashboard --keys-markdown > /tmp/keys.md && sed -i -e '/<!-- keys:begin -->/,/<!-- keys:end -->/{//!d}' -e '/<!-- keys:begin -->/r /tmp/keys.md' README.md"
fi
