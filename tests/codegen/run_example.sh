#!/usr/bin/env bash
# run_example.sh BUILD_DIR SOURCE_DIR SANITIZE
# examples/greeter as a user builds it: install hvrpc from BUILD_DIR into a
# fresh prefix, configure and build the example against that prefix only,
# then run its host-side server and guest-side client over a unix socket
# (HVRPC_DEMO_V1_GREETER_ADDR overrides the vsock address in both).
set -euo pipefail
build=$1 src=$2 sanitize=$3
tmp=$(mktemp -d)
server=
cleanup() {
    [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT

cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
flags=()
if [ "$sanitize" = 1 ]; then
    # The installed library is instrumented: so must the programs be.
    flags=(-DCMAKE_C_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
           -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined")
fi
cmake -S "$src/examples/greeter" -B "$tmp/build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCMAKE_COMPILE_WARNING_AS_ERROR=ON "${flags[@]}" >/dev/null
cmake --build "$tmp/build" >/dev/null

export HVRPC_DEMO_V1_GREETER_ADDR="unix://$tmp/greeter.sock"
"$tmp/build/greeter_server" >"$tmp/server.out" 2>&1 &
server=$!
for _ in $(seq 100); do
    [ -S "$tmp/greeter.sock" ] && break
    sleep 0.05
done
out=$("$tmp/build/greeter_client" world)
echo "$out"
grep -qx "Hello, world! (greeting 1)" <<<"$out"
out=$("$tmp/build/greeter_client" again)
echo "$out"
grep -qx "Hello, again! (greeting 2)" <<<"$out"
kill -TERM "$server"
wait "$server"
server=
cat "$tmp/server.out"
