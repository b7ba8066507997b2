# Sourced by scripts/run and scripts/test: makes sure the Debian packages
# aimeter needs are installed. As root it runs apt-get; otherwise it prints
# the exact apt-get line and stops.
AIMETER_PACKAGES="build-essential cmake pkg-config libncurses-dev libcurl4-openssl-dev \
libjansson-dev libsqlite3-dev sqlite3 check libsubunit-dev libmicrohttpd-dev libssl-dev tmux clang \
libclang-rt-14-dev procps openssl nodejs redis-server libhiredis-dev"

aimeter_missing_packages() {
	local missing="" p
	for p in $AIMETER_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	echo "$missing"
}

aimeter_install_deps() {
	local missing
	missing=$(aimeter_missing_packages)
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "aimeter needs these Debian packages:$missing" >&2
		echo "Install them with:" >&2
		echo "  sudo apt-get update && sudo apt-get install -y$missing" >&2
		exit 1
	fi
	echo "Installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >&2
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >&2
}

# npm, for the SDK test's set-up (scripts/sdk): some images ship a nodejs that
# carries npm; Debian's own nodejs needs the npm package beside it.
aimeter_install_npm() {
	command -v npm >/dev/null && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "the SDK test needs npm: sudo apt-get install -y npm" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q --no-install-recommends npm >&2 ||
		{ apt-get update -q >&2 && apt-get install -y -q --no-install-recommends npm >&2; }
}
