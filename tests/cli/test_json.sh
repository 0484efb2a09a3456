#!/usr/bin/env bash
# test_json.sh HVRPC SOURCE_DIR: the JSON verbs end to end against
# `hvrpc serve`: list, describe, call -d (schema from reflection, --proto,
# --protoset), --format, health, and what they say when something is wrong.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ADDR=unix://$TMP/s.sock
E=hvrpc.echo.v1.Echo
start_server --listen "$ADDR" || finish

# list: the services of the endpoint, then the methods of one.
run "$HVRPC" list "$ADDR"
expect_status 0 "list"
[ "$(cat "$TMP/out")" = "$E
grpc.health.v1.Health
hvrpc.reflection.v1.Reflection
hvrpc.bus.v1.Bus" ] || fail "list: $(cat "$TMP/out")"
run "$HVRPC" list "$ADDR" $E
expect_out "$E/Echo" "list SERVICE"
run "$HVRPC" list "$ADDR" hvrpc.reflection.v1.Reflection
[ "$(wc -l <"$TMP/out")" -eq 3 ] || fail "list Reflection: $(cat "$TMP/out")"
run "$HVRPC" list "$ADDR" no.Such
expect_status 5 "list unknown service"

# describe
run "$HVRPC" describe "$ADDR" $E
expect_status 0 "describe service"
grep -q 'rpc Echo(hvrpc.echo.v1.EchoRequest) returns (hvrpc.echo.v1.EchoResponse);' "$TMP/out" ||
    fail "describe service: $(cat "$TMP/out")"
grep -q 'option (hvrpc.vsock_port) = 5000;' "$TMP/out" || fail "describe: no port option"
run "$HVRPC" describe "$ADDR" hvrpc.echo.v1.EchoRequest.fail_code
grep -q 'int32 fail_code = 4;' "$TMP/out" || fail "describe field: $(cat "$TMP/out")"
run "$HVRPC" describe "$ADDR" grpc.health.v1.HealthCheckResponse
grep -q 'SERVICE_UNKNOWN = 3;' "$TMP/out" || fail "describe nested enum: $(cat "$TMP/out")"
run "$HVRPC" describe "$ADDR" no.Such
expect_status 5 "describe unknown symbol"
grep -q "hvrpc list" "$TMP/err" || fail "describe unknown: no hint: $(cat "$TMP/err")"

# call -d: JSON in, JSON out, metadata seen by the server.
run "$HVRPC" call "$ADDR" $E/Echo -d '{"payload": "aGk="}' -H trace:42
expect_status 0 "call -d"
grep -q '"payload": "aGk="' "$TMP/out" || fail "call -d: $(cat "$TMP/out")"
grep -q '"trace": "42"' "$TMP/out" || fail "call -d metadata: $(cat "$TMP/out")"
# .proto names, @file and @-.
printf '{"response_size": 3}' >"$TMP/req.json"
run "$HVRPC" call "$ADDR" $E/Echo -d @"$TMP/req.json"
grep -q '"payload": "YWJj"' "$TMP/out" || fail "call -d @file: $(cat "$TMP/out")"
RUN_STDIN=$TMP/req.json run "$HVRPC" call "$ADDR" $E/Echo -d @-
grep -q '"payload": "YWJj"' "$TMP/out" || fail "call -d @-: $(cat "$TMP/out")"
# The server's status is the exit status.
run "$HVRPC" call "$ADDR" $E/Echo -d '{"failCode": 7, "failMessage": "no"}'
expect_status 7 "call -d failing"
expect_err_line '^PERMISSION_DENIED: no$' "call -d failing"
# A request that does not fit: refused before sending, with its path.
run "$HVRPC" call "$ADDR" $E/Echo -d '{"delayMs": -1}'
expect_status 3 "out of range"
expect_err_line '\$\.delayMs: -1 is out of range for uint32' "out of range"
run "$HVRPC" call "$ADDR" $E/Echo -d '{"payload": 5}'
expect_err_line '\$\.payload: expected bytes' "wrong type"
run "$HVRPC" call "$ADDR" $E/Echo -d '{"nope": 1}'
expect_err_line 'unknown field "nope" in hvrpc.echo.v1.EchoRequest \(fields: payload, responseSize' "unknown field"
run "$HVRPC" call "$ADDR" $E/Echo -d '{'
expect_status 3 "bad JSON"
expect_err_line 'not valid JSON' "bad JSON"
run "$HVRPC" call "$ADDR" $E/Nope -d '{}'
expect_status 5 "unknown method"
expect_err_line 'has no method Nope \(it has: Echo\)' "unknown method"

# --format text is what protoc --decode prints; --format binary the bytes.
run "$HVRPC" call "$ADDR" $E/Echo -d '{"payload":"aGk="}' --format binary
decode EchoResponse "$TMP/out" >"$TMP/want.txt"
run "$HVRPC" call "$ADDR" $E/Echo -d '{"payload":"aGk="}' --format text
grep -q '^payload: "hi"$' "$TMP/out" || fail "--format text: $(cat "$TMP/out")"
# (peer names the calling process: it differs between the two calls)
diff -q <(grep -v '^peer:' "$TMP/out") <(grep -v '^peer:' "$TMP/want.txt") >/dev/null ||
    fail "--format text differs from protoc --decode"
# --format text: the request in text format too (what protoc --encode
# reads), the same reply as the JSON request's; '{' still means JSON.
run "$HVRPC" call "$ADDR" $E/Echo --format text -d 'payload: "h" "i"  # a comment
  fail_code: 0'
expect_status 0 "text request"
diff -q <(grep -v '^peer:' "$TMP/out") <(grep -v '^peer:' "$TMP/want.txt") >/dev/null ||
    fail "text request: $(cat "$TMP/out")"
printf 'response_size: 3\n' >"$TMP/req.txt"
RUN_STDIN=$TMP/req.txt run "$HVRPC" call "$ADDR" $E/Echo --format text -d @-
grep -q '^payload: "abc"$' "$TMP/out" || fail "text request from stdin: $(cat "$TMP/out")"
run "$HVRPC" call "$ADDR" $E/Echo --format text -d "$(printf 'payload: "x"\n  delay_ms: -1')"
expect_status 3 "text request out of range"
expect_err_line 'as text format\): line 2, column 14: delay_ms: -1 is out of range for uint32' \
    "text request out of range"
run "$HVRPC" call "$ADDR" $E/Echo --format text -d 'payload: "x" nope: 1'
expect_status 3 "text request unknown field"
expect_err_line "line 1, column 14: unknown field 'nope' in hvrpc.echo.v1.EchoRequest \\(fields: payload, response_size" \
    "text request unknown field"
# Colour only on a terminal (script(1) gives the call one), and not with
# NO_COLOR; never through a pipe.
run "$HVRPC" call "$ADDR" $E/Echo -d '{"payload":"aGk="}'
grep -q $'\033' "$TMP/out" && fail "colour through a pipe: $(cat -v "$TMP/out")"
if command -v script >/dev/null; then
    cmd="$HVRPC call $ADDR $E/Echo -d '{\"payload\":\"aGk=\"}'"
    script -qec "$cmd" /dev/null </dev/null >"$TMP/tty.out" 2>&1
    grep -q $'\033\\[' "$TMP/tty.out" || fail "no colour on a terminal: $(cat -v "$TMP/tty.out")"
    grep -q 'aGk=' "$TMP/tty.out" || fail "terminal call: $(cat -v "$TMP/tty.out")"
    NO_COLOR=1 script -qec "$cmd" /dev/null </dev/null >"$TMP/tty.out" 2>&1
    grep -q $'\033' "$TMP/tty.out" && fail "colour with NO_COLOR: $(cat -v "$TMP/tty.out")"
    grep -q 'aGk=' "$TMP/tty.out" || fail "NO_COLOR call: $(cat -v "$TMP/tty.out")"
fi
# --hex in, JSON out.
run "$HVRPC" call "$ADDR" $E/Echo --hex 0a026869 --format json
grep -q '"payload": "aGk="' "$TMP/out" || fail "--hex --format json: $(cat "$TMP/out")"
# The raw mode is unchanged.
encode EchoRequest 'payload: "raw"' "$TMP/raw.bin"
RUN_STDIN=$TMP/raw.bin run "$HVRPC" call "$ADDR" $E/Echo
expect_status 0 "raw call"
decode EchoResponse "$TMP/out" | grep -q 'payload: "raw"' || fail "raw call reply"

# health
run "$HVRPC" health "$ADDR"
expect_status 0 "health"
expect_out SERVING "health"
run "$HVRPC" health "$ADDR" $E
expect_out SERVING "health SERVICE"
run "$HVRPC" health "$ADDR" no.Such
expect_status 5 "health unknown service"
# health through call -d, gRPC's message shapes.
run "$HVRPC" call "$ADDR" grpc.health.v1.Health/Check -d '{"service": ""}'
grep -q '"status": "SERVING"' "$TMP/out" || fail "Check via call: $(cat "$TMP/out")"
stop_server

# Without reflection: a hint, and --proto / --protoset instead.
start_server --listen "$ADDR" --no-reflection --no-health || finish
run "$HVRPC" list "$ADDR"
expect_status 12 "list without reflection"
grep -q -- '--proto' "$TMP/err" || fail "no hint to use --proto: $(cat "$TMP/err")"
run "$HVRPC" call "$ADDR" $E/Echo -d '{}'
expect_status 12 "call -d without reflection"
grep -q -- '--proto FILE' "$TMP/err" || fail "call: no hint: $(cat "$TMP/err")"
run "$HVRPC" health "$ADDR"
expect_status 12 "health without health"
run "$HVRPC" call "$ADDR" $E/Echo -d '{"payload":"eA=="}' --proto "$ECHO_PROTO" -I "$SRC/proto"
expect_status 0 "call --proto"
grep -q '"payload": "eA=="' "$TMP/out" || fail "call --proto: $(cat "$TMP/out")"
"$PROTOC" -I "$SRC/proto" -I "$PROTOBUF_INCLUDE" --include_imports \
    --descriptor_set_out="$TMP/echo.protoset" "$ECHO_PROTO"
run "$HVRPC" call "$ADDR" $E/Echo -d '{"payload":"eQ=="}' --protoset "$TMP/echo.protoset"
grep -q '"payload": "eQ=="' "$TMP/out" || fail "call --protoset: $(cat "$TMP/out")"
run "$HVRPC" list --protoset "$TMP/echo.protoset"
expect_out "$E" "list --protoset"
run "$HVRPC" describe --proto "$ECHO_PROTO" -I "$SRC/proto" hvrpc.echo.v1.EchoRequest
grep -q 'uint32 delay_ms = 3;' "$TMP/out" || fail "describe --proto: $(cat "$TMP/out")"
run "$HVRPC" call "$ADDR" $E/Echo -d '{}' --proto "$TMP/missing.proto"
expect_status 64 "--proto missing"
stop_server

# Usage errors.
usage_error "format" call "$ADDR" $E/Echo -d '{}' --format yaml
usage_error "hex and -d" call "$ADDR" $E/Echo -d '{}' --hex 00
usage_error "describe without symbol" describe "$ADDR"
finish
