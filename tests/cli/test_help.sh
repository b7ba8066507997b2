#!/usr/bin/env bash
# Every command parses its flags the same way: `aimeter --help` lists the
# commands; `aimeter CMD --help` exits 0 with a usage line for CMD and a row
# per option; an unknown option, and each option that takes a value given
# none, is one line "aimeter CMD: ... (see 'aimeter CMD --help')" naming the
# flag, exit 2, nothing on stdout. Runs nothing else (no UI, no network).
set -uo pipefail
bin=${AIMETER_BIN:?AIMETER_BIN must name the aimeter binary}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export HOME=$tmp/home XDG_DATA_HOME=$tmp/data XDG_CONFIG_HOME=$tmp/config
unset AIMETER_CONFIG AIMETER_DB ANTHROPIC_API_KEY
mkdir -p "$HOME"
fails=0
fail() {
	echo "FAIL: $*" >&2
	fails=$((fails + 1))
}

# usage_error CMD FLAG ARGS...: exit 2, stdout empty, stderr one line in the
# common form that names FLAG.
usage_error() {
	local cmd=$1 flag=$2
	shift 2
	"$bin" "$cmd" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	[ "$rc" -eq 2 ] || fail "'$cmd $*' exited $rc, want 2"
	[ -s "$tmp/out" ] && fail "'$cmd $*' wrote to stdout: $(cat "$tmp/out")"
	[ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "'$cmd $*': not one line: $(cat "$tmp/err")"
	grep -q "^aimeter $cmd: .*$flag.* (see 'aimeter $cmd --help')\$" "$tmp/err" ||
		fail "'$cmd $*': not the common form naming $flag: $(cat "$tmp/err")"
}

"$bin" --help >"$tmp/top" || fail "aimeter --help exited $?"
cmds=$(sed -n '/^Commands:/,/^$/p' "$tmp/top" | awk 'NR > 1 && NF { print $1 }')
for want in dashboard ask batch report record pricing config sim; do
	grep -qx "$want" <<<"$cmds" || fail "aimeter --help does not list $want"
done

for cmd in $cmds; do
	"$bin" "$cmd" --help >"$tmp/help" 2>"$tmp/err"
	rc=$?
	[ "$rc" -eq 0 ] || fail "$cmd --help exited $rc"
	[ -s "$tmp/err" ] && fail "$cmd --help wrote to stderr: $(cat "$tmp/err")"
	head -n1 "$tmp/help" | grep -q "^usage: aimeter $cmd " || fail "$cmd --help: $(head -n1 "$tmp/help")"
	grep -q -- '-h, --help  ' "$tmp/help" || fail "$cmd --help has no --help row"
	"$bin" "$cmd" -h | cmp -s - "$tmp/help" || fail "$cmd -h differs from --help"
	usage_error "$cmd" "'--bogus'" --bogus
	# Each row "  --name ARG  help": the flag without its value.
	n=0
	while read -r flag; do
		usage_error "$cmd" "'$flag' needs a value" "$flag"
		n=$((n + 1))
	done < <(sed -n 's/^  \(--[a-z0-9-]*\) [A-Z][A-Za-z.|-]*  .*/\1/p' "$tmp/help")
	[ "$n" -gt 0 ] || fail "$cmd --help lists no option with a value"
done

if [ "$fails" -ne 0 ]; then
	echo "test_help.sh: $fails failure(s)" >&2
	exit 1
fi
echo "test_help.sh: ok"
