#!/usr/bin/env bash
# F10, /quit and Ctrl-C each end the dashboard with status 0 and give the
# terminal back (the shell's line shows on a normal screen).
. "$(dirname "$0")/lib.sh"
base=$sock
for how in F10 /quit C-c; do
	sock="$base-${how//[^A-Za-z0-9]/}" # a fresh server each round
	start 100 30
	case $how in
	/quit) type_line "/quit" ;;
	*) tm send-keys -t main "$how" ;;
	esac
	wait_for "aimeter-exit=0"
	screen | grep -q "Budget" && fail "$how: the dashboard is still drawn"
	if grep -q "ERROR: AddressSanitizer\|runtime error" "$home/stderr"; then
		fail "$how: sanitizer report: $(cat "$home/stderr")"
	fi
	tm kill-server
done
