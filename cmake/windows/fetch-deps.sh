#!/usr/bin/env bash
# cmake/windows/fetch-deps.sh DIR - the C sources the Windows build needs
# from Debian's own source packages, the same versions as the Linux
# -dev packages the Linux build uses (bookworm):
#
#   protobuf-c 1.4.1-1   protobuf-c's runtime (protobuf-c/protobuf-c.c)
#   jansson    2.14-2    JSON, for the hvrpc tool's transcoder
#
# `apt-get source` with a private apt state (a deb-src line of its own under
# DIR/apt): the system's sources.list is not touched, apt checks the
# archive's signature and every file's checksum, and dpkg-source (dpkg-dev)
# unpacks and applies Debian's patches. Result: DIR/protobuf-c-1.4.1 and
# DIR/jansson-2.14; nothing is committed. A second run with both present
# does nothing (no network).
set -euo pipefail

PROTOBUF_C=1.4.1-1
JANSSON=2.14-2
MIRROR=${HVRPC_DEBIAN_MIRROR:-http://deb.debian.org/debian}
SUITE=${HVRPC_DEBIAN_SUITE:-bookworm}

dir=${1:?usage: fetch-deps.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pc="$dir/protobuf-c-${PROTOBUF_C%-*}"
js="$dir/jansson-${JANSSON%-*}"
if [ -f "$pc/protobuf-c/protobuf-c.c" ] && [ -f "$js/src/value.c" ]; then
  exit 0
fi
command -v dpkg-source >/dev/null || {
  echo "fetch-deps.sh: dpkg-source missing (apt-get install dpkg-dev)" >&2
  exit 1
}

apt="$dir/apt"
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
echo "deb-src $MIRROR $SUITE main" >"$apt/sources.list"
opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
  -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
  -o "Dir::Cache::pkgcache=" -o "Dir::Cache::srcpkgcache="
  -o "APT::Sandbox::User=$(id -un)")
apt-get "${opts[@]}" -qq update
(cd "$dir" && rm -rf "$pc" "$js" &&
  apt-get "${opts[@]}" -qq source "protobuf-c=$PROTOBUF_C" "jansson=$JANSSON" >/dev/null)
test -f "$pc/protobuf-c/protobuf-c.c"
test -f "$js/src/value.c"
echo "fetch-deps.sh: protobuf-c $PROTOBUF_C and jansson $JANSSON in $dir"
