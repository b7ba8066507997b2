#!/usr/bin/env bash
# The walls between aimeter's layers, checked on the built libraries.
#
# Arguments: name=path for each of our static libraries and for each package
# a layer may or may not use; a package of several libraries (ncursesw and
# tinfo) lists the rest as plain paths after its first. For every library of ours, each symbol
# it leaves undefined is looked up among the others: when another library of
# ours or a listed package defines it, that library must be in the user's row
# of the table below. Symbols nobody listed defines (libc, jansson, the
# sanitizers' runtime) are not judged here.
set -euo pipefail

# The table: a layer, and what it may call. Everything not named is a wall.
declare -A allow=(
	[base]=""
	[config]="base"
	[store]="config base sqlite3 crypto"
	[policy]="config base"
	[provider]="base curl"
	[redis]="store policy config base hiredis"
	[pipeline]="redis store policy provider config base"
	[sim]="base mhd"
	[ui]="pipeline base ncursesw"
	[proxy]="pipeline provider base mhd"
)

declare -A path=()
name=
for arg in "$@"; do
	case $arg in
	*=*) name=${arg%%=*} file=${arg#*=} ;;
	*) file=$arg ;;
	esac
	[ -n "$name" ] || { echo "layers: $arg: expected name=path" >&2; exit 2; }
	[ -e "$file" ] || { echo "layers: $name: no such file: $file" >&2; exit 2; }
	path[$name]="${path[$name]:-} $file"
done
for layer in "${!allow[@]}"; do
	[ -n "${path[$layer]:-}" ] || { echo "layers: no library given for layer '$layer'" >&2; exit 2; }
done

# A package's .so may be a linker script (Debian's libncursesw.so is
# "INPUT(libncursesw.so.6 -ltinfo)"): read the libraries it names instead.
objects() {
	local f=$1 dir
	if LC_ALL=C grep -qa 'INPUT\|GROUP' <(head -c 512 "$f") && ! LC_ALL=C head -c 4 "$f" | grep -q ELF; then
		dir=$(dirname "$f")
		grep -oE '(lib[A-Za-z0-9_+.-]+\.so[.0-9]*|-l[A-Za-z0-9_+-]+)' "$f" | while read -r lib; do
			case $lib in -l*) lib=lib${lib#-l}.so ;; esac
			[ -e "$dir/$lib" ] && objects "$dir/$lib"
		done
	else
		echo "$f"
	fi
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# defined symbols of each library, one file per library
for name in "${!path[@]}"; do
	for f in $(for p in ${path[$name]}; do objects "$p"; done); do
		case $f in
		*.a) nm -g --defined-only "$f" 2>/dev/null ;;
		*) nm -D --defined-only "$f" 2>/dev/null ;;
		esac
	done | awk 'NF >= 3 { print $3 }' | sed 's/@.*//' | sort -u >"$work/def.$name"
done

bad=0
for layer in "${!allow[@]}"; do
	nm -u ${path[$layer]} 2>/dev/null | awk '{ print $NF }' | sed 's/@.*//' | sort -u |
		comm -23 - "$work/def.$layer" >"$work/undef.$layer"
	for other in "${!path[@]}"; do
		[ "$other" = "$layer" ] && continue
		case " ${allow[$layer]} " in *" $other "*) continue ;; esac
		hits=$(comm -12 "$work/undef.$layer" "$work/def.$other" | head -5 | tr '\n' ' ')
		if [ -n "$hits" ]; then
			echo "wall broken: $layer calls $other: $hits"
			bad=1
		fi
	done
done
[ $bad = 0 ] && echo "layers: every library calls only the layers and packages its row allows"
exit $bad
