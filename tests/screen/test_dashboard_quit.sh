#!/usr/bin/env bash
# F10, /quit and Ctrl-C each end the dashboard with status 0 and give the
# terminal back (the shell's line shows on a normal screen), without a
# sanitizer report.
. "$(dirname "$0")/lib.sh"
for how in F10 /quit C-c; do
	start 100 30
	wait_for "Budget"
	case $how in
	/quit) type_line "/quit"; wait_for "aimeter-exit=0"; assert_clean; tm kill-server ;;
	*) quit "$how" ;;
	esac
done
