#!/usr/bin/env bash
# tests/windows/run.sh - the Windows build, cross-compiled with Debian's
# mingw-w64 and tested under Debian's wine (docs/WINDOWS.md).
#
#   tests/windows/run.sh [--host-plugin PATH] [--build-dir DIR]
#
# 1. fetches protobuf-c's and jansson's sources from Debian's source
#    packages (cmake/windows/fetch-deps.sh; cached in DIR/deps),
# 2. configures and builds everything for Windows (toolchain
#    cmake/toolchain-mingw64.cmake, -Werror): libhvrpc, protoc-gen-hvrpc.exe,
#    hvrpc.exe, the unit tests and tests/windows,
# 3. runs that build's ctest under wine (unit + windows: tcp integration;
#    unix is skipped under wine 8, which has no AF_UNIX),
# 4. runs hvrpc.exe serve and hvrpc.exe call/list/health in two wine
#    processes over tcp,
# 5. runs hvrpc.exe register --apply (and --remove --apply) and checks the
#    key with wine's reg query.
#
# The protoc plugin that generates code during the build must run here:
# --host-plugin names a Linux build's codegen/protoc-gen-hvrpc (ctest's
# windows_wine passes its own); without it one is built in DIR/host.
# Exits 77 (ctest: skipped) with the reason when mingw-w64 or wine is
# missing: never passes without running.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
plugin=
dir=$src/build-windows
while [ $# -gt 0 ]; do
  case $1 in
    --host-plugin) plugin=$2; shift 2 ;;
    --build-dir) dir=$2; shift 2 ;;
    *) echo "usage: $0 [--host-plugin PATH] [--build-dir DIR]" >&2; exit 64 ;;
  esac
done

skip() { echo "SKIPPED: $*"; exit 77; }
command -v x86_64-w64-mingw32-gcc-posix >/dev/null ||
  skip "x86_64-w64-mingw32-gcc-posix missing (apt-get install gcc-mingw-w64-x86-64-posix)"
wine=$(command -v wine || command -v wine64 || true)
[ -n "$wine" ] || skip "wine missing (apt-get install wine wine64)"
command -v dpkg-source >/dev/null || skip "dpkg-source missing (apt-get install dpkg-dev)"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
export WINEPREFIX=$dir/wineprefix WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
jobs=$(nproc 2>/dev/null || echo 2)

"$src/cmake/windows/fetch-deps.sh" "$dir/deps"

if [ -z "$plugin" ]; then
  cmake -S "$src" -B "$dir/host" -DHVRPC_BUILD_TESTS=OFF -DHVRPC_INTEROP=OFF \
    -DHVRPC_BUILD_BENCH=OFF >/dev/null
  cmake --build "$dir/host" --target protoc-gen-hvrpc -j "$jobs" >/dev/null
  plugin=$dir/host/codegen/protoc-gen-hvrpc
fi

t0=$(date +%s)
cmake -S "$src" -B "$dir/win" -DCMAKE_TOOLCHAIN_FILE="$src/cmake/toolchain-mingw64.cmake" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHVRPC_WERROR=ON -DHVRPC_WIN_DEPS_DIR="$dir/deps" \
  -DHVRPC_HOST_PLUGIN="$plugin" -DHVRPC_INTEROP=OFF -DHVRPC_BUILD_BENCH=OFF >/dev/null
cmake --build "$dir/win" -j "$jobs"
t1=$(date +%s)
for f in runtime/libhvrpc.a codegen/protoc-gen-hvrpc.exe tools/hvrpc/hvrpc.exe; do
  test -f "$dir/win/$f" || { echo "FAIL: $f was not built" >&2; exit 1; }
done
echo "windows: built libhvrpc.a, protoc-gen-hvrpc.exe, hvrpc.exe in $((t1 - t0)) s"

# The first wine start creates the prefix (a few seconds, once).
"$wine" "$dir/win/tools/hvrpc/hvrpc.exe" --version

ctest --test-dir "$dir/win" --output-on-failure -j "$jobs"

# Two processes: the CLI's server and its client, both Windows programs.
hvrpc=$dir/win/tools/hvrpc/hvrpc.exe
out=$dir/serve.out
: >"$out" # before the server starts: the loop below reads it at once
"$wine" "$hvrpc" serve --listen tcp://127.0.0.1:0 >"$out" 2>"$dir/serve.err" &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
uri=
for _ in $(seq 1 100); do
  uri=$(sed -n 's/^listening on //p' "$out" | tr -d '\r' | head -n 1)
  [ -n "$uri" ] && break
  sleep 0.1
done
[ -n "$uri" ] || { echo "FAIL: hvrpc.exe serve did not start" >&2; cat "$dir/serve.err" >&2; exit 1; }
fail() { echo "FAIL: $*" >&2; exit 1; }
reply=$("$wine" "$hvrpc" call "$uri" hvrpc.echo.v1.Echo/Echo -d '{"payload": "aGk="}' | tr -d '\r')
echo "$reply" | grep -q '"payload": "aGk="' || fail "call: $reply"
echo "$reply" | grep -q '"peer": "tcp:127.0.0.1:' || fail "call peer: $reply"
"$wine" "$hvrpc" list "$uri" | tr -d '\r' | grep -qx hvrpc.echo.v1.Echo || fail "list"
[ "$("$wine" "$hvrpc" health "$uri" | tr -d '\r')" = SERVING ] || fail "health"
set +e
"$wine" "$hvrpc" call "$uri" hvrpc.echo.v1.Echo/Echo \
  -d '{"failCode": 5, "failMessage": "gone"}' >/dev/null 2>"$dir/call.err"
rc=$?
set -e
[ $rc -eq 5 ] || fail "a NOT_FOUND call exited $rc: $(cat "$dir/call.err")"
set +e
"$wine" "$hvrpc" call vsock://host:5000 hvrpc.echo.v1.Echo/Echo -d '{}' 2>"$dir/call.err"
rc=$?
set -e
[ $rc -eq 12 ] && grep -q 'does not exist on Windows' "$dir/call.err" ||
  fail "vsock on Windows: exit $rc: $(cat "$dir/call.err")"
kill $server 2>/dev/null || true
wait $server 2>/dev/null || true
trap - EXIT
echo "windows: hvrpc.exe serve and hvrpc.exe call/list/health in two wine processes: OK"

# hvrpc.exe register --apply writes the key Hyper-V reads (wine has a
# registry, read back with wine's reg.exe in the 64-bit view); --remove
# --apply deletes it, and deleting it again is NOT_FOUND.
guid=00001388-facb-11e6-bd58-64006a7986d3
key="HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\GuestCommunicationServices\\$guid"
out=$("$wine" "$hvrpc" register --name 'hvrpc echo' --port 5000 --apply 2>"$dir/reg.err" | tr -d '\r') ||
  fail "register --apply: $(cat "$dir/reg.err")"
[ "$out" = "registered $guid as 'hvrpc echo'" ] || fail "register --apply said: $out"
q=$("$wine" reg query "$key" /v ElementName /reg:64 2>&1 | tr -d '\r')
echo "$q" | grep -Eq '^ +ElementName +REG_SZ +hvrpc echo$' || fail "reg query after --apply: $q"
"$wine" "$hvrpc" register --port 5000 --remove --apply >/dev/null 2>"$dir/reg.err" ||
  fail "register --remove --apply: $(cat "$dir/reg.err")"
if "$wine" reg query "$key" /reg:64 >/dev/null 2>&1; then fail "the key is still there after --remove"; fi
set +e
"$wine" "$hvrpc" register --port 5000 --remove --apply >/dev/null 2>"$dir/reg.err"
rc=$?
set -e
[ $rc -eq 5 ] && grep -q 'is not registered' "$dir/reg.err" ||
  fail "removing an absent key: exit $rc: $(cat "$dir/reg.err")"
echo "windows: hvrpc.exe register --apply / --remove --apply on wine's registry: OK"
echo "windows: all passed ($(( $(date +%s) - t0 )) s)"
