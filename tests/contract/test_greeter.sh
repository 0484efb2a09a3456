#!/bin/bash
# test_greeter.sh - the walk-through of docs/CONTRACTS.md with the greeter
# example, step by step as written there (paths under a temporary
# directory instead of /tmp), and the example's committed contract
# (examples/greeter/greeter.contract.json) checked:
#
#   0. examples/greeter built as a user builds it, against hvrpc installed
#      from BUILD_DIR into a fresh prefix; plus a "broken host" copy of
#      its server whose greeting says "Hi" instead of "Hello";
#   1. record: the guest (greeter_client) through the recording proxy in
#      front of the real greeter_server;
#   2. the raw recording fails verify on the greeting counter, and the
#      doc's edit (name it, count a matcher) gives the committed contract;
#   3. verify: the committed contract passes against greeter_server, and
#      the broken host fails with the field at fault;
#   4. mock: greeter_client against `hvrpc contract serve` of the
#      committed contract, and an unexpected call's error;
#   5. check: a renumbered field reported as breaking.
#
# Usage: bash test_greeter.sh HVRPC_BINARY SOURCE_DIR BUILD_DIR SANITIZE
source "$(dirname "$0")/../cli/lib.sh"
BUILD=${1:?usage: test_greeter.sh HVRPC SOURCE_DIR BUILD_DIR SANITIZE}
SANITIZE=${2:-0}
# Absolute: the steps run in $TMP.
HVRPC=$(realpath "$HVRPC") SRC=$(realpath "$SRC") BUILD=$(realpath "$BUILD")
CONTRACT=$SRC/examples/greeter/greeter.contract.json
PIDS=()

greeter_cleanup() {
    [ "$BASHPID" = "$$" ] || return 0
    for p in "${PIDS[@]}"; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    cleanup
}
trap greeter_cleanup EXIT

# wait_for FILE PATTERN WHAT: up to 30 s for PATTERN to appear in FILE.
wait_for() {
    for ((i = 0; i < 600; i++)); do
        grep -q -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    fail "$3 did not start: $(cat "$1")"
    finish
}

# 0. The example against the installed package, and a broken host.
cmake --install "$BUILD" --prefix "$TMP/prefix" >/dev/null || fail "install"
cp -r "$SRC/examples/greeter" "$TMP/src"
sed 's/"Hello, %s!"/"Hi, %s!"/' "$SRC/examples/greeter/server.c" >"$TMP/src/server_broken.c"
grep -q '"Hi, %s!"' "$TMP/src/server_broken.c" || fail "the broken server was not made"
cat >>"$TMP/src/CMakeLists.txt" <<'EOF'
add_executable(greeter_server_broken server_broken.c)
target_link_libraries(greeter_server_broken PRIVATE greeter_proto)
EOF
flags=()
if [ "$SANITIZE" = 1 ]; then
    flags=(-DCMAKE_C_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
           -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined")
fi
cmake -S "$TMP/src" -B "$TMP/build" -DCMAKE_PREFIX_PATH="$TMP/prefix" \
    "${flags[@]}" >"$TMP/cmake.log" 2>&1 &&
    cmake --build "$TMP/build" >>"$TMP/cmake.log" 2>&1 ||
    { fail "building the greeter example: $(tail -20 "$TMP/cmake.log")"; finish; }
BIN=$TMP/build
cd "$TMP" || exit 1

# 1. Record on the guest.
HVRPC_DEMO_V1_GREETER_ADDR=unix://$TMP/greeter.sock "$BIN/greeter_server" >server.out 2>&1 &
PIDS+=($!)
wait_for server.out 'greeter_server: demo.v1.Greeter on' "greeter_server"
"$HVRPC" contract record --listen "unix://$TMP/rec.sock" \
    --upstream "unix://$TMP/greeter.sock" \
    --proto "$SRC/examples/greeter/proto/demo/v1/greeter.proto" \
    -I "$SRC/examples/greeter/proto" -o greeter.contract.json >rec.out 2>rec.err &
REC=$!
wait_for rec.out '^listening on ' "the recording proxy"
run env HVRPC_DEMO_V1_GREETER_ADDR="unix://$TMP/rec.sock" "$BIN/greeter_client" alice
expect_status 0 "the guest through the proxy"
expect_out "Hello, alice! (greeting 1)" "the guest's greeting"
kill -TERM "$REC"
wait "$REC"
STATUS=$?
expect_status 0 "record stops on SIGTERM"
grep -qx 'info: 1 interaction written to greeter.contract.json (0 calls skipped)' rec.err ||
    fail "record: $(cat rec.err)"

# 2. The raw snapshot holds the counter: the next greeting is number 2.
run "$HVRPC" contract verify greeter.contract.json "unix://$TMP/greeter.sock"
expect_status 1 "verify the raw recording"
expect_out 'FAIL 1 SayHello #1 (SayHello)
     $.count: expected 1, got 2
1 interaction of demo.v1.Greeter: 0 ok, 1 failed (1 mismatch)' "the raw recording's diff"
# The doc's edit of step 2 turns the recording into the committed contract.
python3 - greeter.contract.json "$CONTRACT" <<'PY' || fail "the recording, edited as the doc says, is not the committed contract"
import json, sys
rec = json.load(open(sys.argv[1]))
committed = json.load(open(sys.argv[2]))
i = rec["interactions"][0]
i.pop("timeoutMs")  # the client's deadline, as much of it as was left
i["name"] = "greet alice"
i["response"]["count"] = {"$type": "number", "$value": 1}
for d in (rec, committed):
    d.pop("schema")  # descriptor bytes: protoc's to lay out
if rec != committed:
    print(json.dumps(rec, indent=2), file=sys.stderr)
    sys.exit(1)
PY

# 3. Verify in the host's CI: the committed contract passes...
run "$HVRPC" contract verify "$CONTRACT" "unix://$TMP/greeter.sock"
expect_status 0 "verify the committed contract"
expect_out 'ok   1 greet alice (SayHello)
1 interaction of demo.v1.Greeter: 1 ok, 0 failed (0 mismatches)' "verify report"
kill -TERM "${PIDS[0]}"
wait "${PIDS[0]}"
PIDS=()

# ... and a host that changed its greeting is caught, the field named.
HVRPC_DEMO_V1_GREETER_ADDR=unix://$TMP/broken.sock "$BIN/greeter_server_broken" >broken.out 2>&1 &
PIDS+=($!)
wait_for broken.out 'greeter_server: demo.v1.Greeter on' "the broken greeter_server"
run "$HVRPC" contract verify "$CONTRACT" "unix://$TMP/broken.sock"
expect_status 1 "verify a broken host"
expect_out 'FAIL 1 greet alice (SayHello)
     $.message: expected "Hello, alice!", got "Hi, alice!"
1 interaction of demo.v1.Greeter: 0 ok, 1 failed (1 mismatch)' "the broken host's diff"
expect_err_line "^hvrpc: contract verify: unix://$TMP/broken.sock: 1 of 1 interactions do not match the contract\$" \
    "verify's summary line"
kill -TERM "${PIDS[0]}"
wait "${PIDS[0]}"
PIDS=()

# 4. Mock in the guest's CI: no host.
"$HVRPC" contract serve "$CONTRACT" --listen "unix://$TMP/mock.sock" >mock.out 2>mock.err &
MOCK=$!
PIDS+=($MOCK)
wait_for mock.out '^listening on ' "the mock"
run env HVRPC_DEMO_V1_GREETER_ADDR="unix://$TMP/mock.sock" "$BIN/greeter_client" alice
expect_status 0 "the guest against the mock"
expect_out "Hello, alice! (greeting 1)" "the mock's greeting"
run env HVRPC_DEMO_V1_GREETER_ADDR="unix://$TMP/mock.sock" "$BIN/greeter_client" bob
expect_status 1 "an unexpected call"
expect_err_line '^greeter_client: UNIMPLEMENTED: contract: unexpected call demo.v1.Greeter/SayHello with \{"name":"bob"\}: no interaction matches; closest is 1 "greet alice", which differs: \$.name: expected "alice", got "bob"$' \
    "the unexpected call's error"
kill -TERM "$MOCK"
wait "$MOCK"
STATUS=$?
PIDS=()
expect_status 1 "serve exits 1 after an unexpected call"
grep -q '^info: stopping; 1 unexpected call; interactions used: 1$' mock.err ||
    fail "serve: $(cat mock.err)"

# 5. Check a schema change before it ships: count renumbered 2 -> 3.
mkdir -p new/demo/v1
sed 's/uint32 count = 2;/uint32 count = 3;/' \
    "$SRC/examples/greeter/proto/demo/v1/greeter.proto" >new/demo/v1/greeter.proto
run "$HVRPC" contract check "$CONTRACT" new/demo/v1/greeter.proto -I new
expect_status 1 "check a renumbered field"
expect_out "BREAKING: demo.v1.HelloReply.count: field number changed 2 -> 3 (in demo.v1.Greeter/SayHello's response)
1 service compared: 1 breaking change" "check report"
run "$HVRPC" contract check "$CONTRACT" "$SRC/examples/greeter/proto/demo/v1/greeter.proto" \
    -I "$SRC/examples/greeter/proto"
expect_status 0 "check the unchanged schema"
finish
