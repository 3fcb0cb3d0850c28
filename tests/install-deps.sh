#!/bin/sh
# Installs the Debian packages the build and the tests need, when they are
# missing and we are root. Prints what it does; quiet when nothing is missing.
set -e
pkgs="cmake make gcc clang libclang-rt-14-dev pkg-config git curl clang-format
libgit2-dev libyaml-dev libcurl4-openssl-dev libuv1-dev zlib1g-dev
libjansson-dev libhttp-parser-dev libssl-dev libpcre2-dev libcmocka-dev
python3 openssl time jq"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-deps: missing Debian packages:$missing (run as root, or install them)" >&2
	exit 1
fi
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >/dev/null
