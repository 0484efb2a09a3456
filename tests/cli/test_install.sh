#!/usr/bin/env bash
# test_install.sh HVRPC SOURCE_DIR BUILD_DIR SANITIZE: `cmake --install`
# into a fresh prefix gives a user everything: the hvrpc tool (which runs
# from there without LD_LIBRARY_PATH), the plugin, the library and its
# headers, every .proto of proto/hvrpc and proto/grpc (each compiling
# with only the installed tree), the CMake package and pkg-config file
# (both usable), and nothing of the internal libhvrpc_json; and
# examples/greeter builds against that prefix alone. (Running the greeter
# is codegen_example_greeter's job.)
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
BUILD=${1:?usage: $0 HVRPC SOURCE_DIR BUILD_DIR SANITIZE}
SANITIZE=${2:?}
P=$TMP/prefix

cmake --install "$BUILD" --prefix "$P" >"$TMP/install.log" 2>&1 ||
    { fail "cmake --install: $(tail -5 "$TMP/install.log")"; finish; }
LIBDIR=$(dirname "$(find "$P" -name 'libhvrpc.so*' -print -quit)")
[ -d "$LIBDIR" ] || { fail "no libhvrpc.so installed"; finish; }
PROTO=$P/share/hvrpc/proto

for f in bin/hvrpc bin/protoc-gen-hvrpc include/hvrpc/hvrpc.h \
    share/hvrpc/proto/hvrpc/options.proto \
    share/hvrpc/proto/hvrpc/echo/v1/echo.proto \
    share/hvrpc/proto/hvrpc/reflection/v1/reflection.proto \
    share/hvrpc/proto/hvrpc/bus/v1/bus.proto \
    share/hvrpc/proto/hvrpc/kvp/v1/kvp.proto \
    share/hvrpc/proto/grpc/health/v1/health.proto; do
    [ -f "$P/$f" ] || fail "not installed: $f"
done
for f in hvrpcConfig.cmake hvrpcConfigVersion.cmake hvrpcTargets.cmake HvrpcGenerate.cmake; do
    [ -f "$LIBDIR/cmake/hvrpc/$f" ] || fail "not installed: cmake/hvrpc/$f"
done
[ -f "$LIBDIR/pkgconfig/hvrpc.pc" ] || fail "not installed: pkgconfig/hvrpc.pc"
# Every API .proto of the tree (the agent's and others' as they come),
# and each compiles from the installed tree alone.
(cd "$SRC/proto" && find hvrpc grpc -name '*.proto') >"$TMP/protos"
[ "$(wc -l <"$TMP/protos")" -ge 6 ] || fail "found only $(wc -l <"$TMP/protos") .proto files"
while read -r f; do
    if [ ! -f "$PROTO/$f" ]; then
        fail "not installed: share/hvrpc/proto/$f"
    elif ! "$PROTOC" -I "$PROTO" -I "$PROTOBUF_INCLUDE" --descriptor_set_out=/dev/null \
        "$f" 2>"$TMP/err"; then
        fail "installed $f does not compile alone: $(cat "$TMP/err")"
    fi
done <"$TMP/protos"
# libhvrpc_json is the tool's own: neither half of it is installed.
leftovers=$(find "$P" -name '*hvrpc_json*')
[ -z "$leftovers" ] || fail "libhvrpc_json installed: $leftovers"

# The installed tool runs as it is, finds its library in the prefix and
# reads the installed .proto files.
run env -u LD_LIBRARY_PATH "$P/bin/hvrpc" --version
expect_status 0 "installed hvrpc --version"
used=$(env -u LD_LIBRARY_PATH ldd "$P/bin/hvrpc" | sed -n 's/.*libhvrpc\.so[^ ]* => \([^ ]*\) .*/\1/p')
[ -n "$used" ] && [ "$(readlink -f "$used")" = "$(readlink -f "$LIBDIR/$(basename "$used")")" ] ||
    fail "installed hvrpc does not use the prefix's libhvrpc: $(ldd "$P/bin/hvrpc" | grep hvrpc)"
run env -u LD_LIBRARY_PATH "$P/bin/hvrpc" describe --proto grpc/health/v1/health.proto \
    -I "$PROTO" grpc.health.v1.Health
expect_status 0 "installed hvrpc describe --proto health.proto"
grep -q 'rpc Check(grpc.health.v1.HealthCheckRequest)' "$TMP/out" ||
    fail "describe Health: $(cat "$TMP/out" "$TMP/err")"

flags=()
if [ "$SANITIZE" = 1 ]; then
    # The installed library is instrumented: so must the programs be.
    # shellcheck disable=SC2054
    flags=(-fsanitize=address,undefined -fno-omit-frame-pointer)
fi
# pkg-config: a program builds and runs with its flags alone; its
# variables name the installed plugin and .proto root.
export PKG_CONFIG_PATH=$LIBDIR/pkgconfig
[ "$(pkg-config --variable=protodir hvrpc)" -ef "$PROTO" ] ||
    fail "pkg-config protodir: $(pkg-config --variable=protodir hvrpc)"
[ -x "$(pkg-config --variable=protoc_gen_hvrpc hvrpc)" ] ||
    fail "pkg-config protoc_gen_hvrpc: $(pkg-config --variable=protoc_gen_hvrpc hvrpc)"
cat >"$TMP/pc.c" <<'C'
#include <stdio.h>
#include <hvrpc/hvrpc.h>
int main(void) { puts(hvrpc_code_name(HVRPC_NOT_FOUND)); return 0; }
C
# shellcheck disable=SC2046
if cc "${flags[@]}" "$TMP/pc.c" -o "$TMP/pc" $(pkg-config --cflags --libs hvrpc) 2>"$TMP/err"; then
    [ "$(LD_LIBRARY_PATH=$LIBDIR "$TMP/pc")" = NOT_FOUND ] || fail "pkg-config program"
else
    fail "build with pkg-config: $(cat "$TMP/err")"
fi

# The CMake package: examples/greeter configures and builds against it.
extra=()
[ "$SANITIZE" = 1 ] && extra=(-DCMAKE_C_FLAGS="${flags[*]}"
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined")
if ! cmake -S "$SRC/examples/greeter" -B "$TMP/greeter" -DCMAKE_PREFIX_PATH="$P" \
    -DCMAKE_COMPILE_WARNING_AS_ERROR=ON "${extra[@]}" >"$TMP/g.log" 2>&1 ||
    ! cmake --build "$TMP/greeter" >>"$TMP/g.log" 2>&1; then
    fail "examples/greeter against the prefix: $(tail -20 "$TMP/g.log")"
fi
if [ ! -x "$TMP/greeter/greeter_server" ] || [ ! -x "$TMP/greeter/greeter_client" ]; then
    fail "examples/greeter: programs missing"
fi
finish
