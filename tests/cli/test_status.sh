# call's exit status is the call's status code, with 'NAME: message' on
# stderr: failing echo, unknown method and service, deadline, oversized
# request, dead addresses.
source "$(dirname "$0")/lib.sh"

start_server --listen "unix://$TMP/echo.sock" || finish
addr=${SERVER_ADDRS[0]}

# fail_code 5 (NOT_FOUND) with fail_message "boom": fields 4 and 5.
run "$HVRPC" call "$addr" hvrpc.echo.v1.Echo/Echo --hex '2005 2a04626f6f6d'
expect_status 5 "fail_code=5"
expect_err_line '^NOT_FOUND: boom$' "fail_code=5"
[ -s "$TMP/out" ] && fail "fail_code=5: wrote a reply"

# The same built by protoc, as the demo does it.
encode EchoRequest 'fail_code: 7 fail_message: "no entry"' "$TMP/fail.req"
RUN_STDIN=$TMP/fail.req run "$HVRPC" call "$addr" hvrpc.echo.v1.Echo/Echo
expect_status 7 "fail_code=7"
expect_err_line '^PERMISSION_DENIED: no entry$' "fail_code=7"

run "$HVRPC" call "$addr" hvrpc.echo.v1.Echo/Nope --hex ''
expect_status 12 "unknown method"
expect_err_line '^UNIMPLEMENTED: ' "unknown method"
run "$HVRPC" call "$addr" hvrpc.nothing.v1.Nothing/Echo --hex ''
expect_status 12 "unknown service"
expect_err_line '^UNIMPLEMENTED: ' "unknown service"

# delay_ms 3000 (field 3, varint b8 17) against a 200 ms deadline.
run "$HVRPC" call "$addr" hvrpc.echo.v1.Echo/Echo --hex '18 b8 17' --timeout 200
expect_status 4 "deadline"
expect_err_line '^DEADLINE_EXCEEDED: ' "deadline"

# A request over --max-frame is refused before it is sent.
{ printf '\n\320\017'; head -c 2000 /dev/zero; } >"$TMP/2k.req"
RUN_STDIN=$TMP/2k.req run "$HVRPC" call "$addr" hvrpc.echo.v1.Echo/Echo --max-frame 1024
expect_status 8 "request over --max-frame"
expect_err_line '^RESOURCE_EXHAUSTED: ' "request over --max-frame"

# The server is still fine after all that.
run "$HVRPC" call "$addr" hvrpc.echo.v1.Echo/Echo --hex ''
expect_status 0 "call after failures"

# Dead addresses: a socket file nobody listens on any more, a missing one,
# a tcp port that was just closed.
stop_server TERM
expect_status 0 "serve after SIGTERM"
run "$HVRPC" call "$addr" hvrpc.echo.v1.Echo/Echo --hex ''
expect_status 14 "call to a stopped unix server"
expect_err_line '^UNAVAILABLE: ' "call to a stopped unix server"
run "$HVRPC" call "unix://$TMP/never.sock" hvrpc.echo.v1.Echo/Echo --hex ''
expect_status 14 "call to a missing socket file"
expect_err_line '^UNAVAILABLE: ' "call to a missing socket file"

start_server --listen tcp://127.0.0.1:0 || finish
tcp_addr=${SERVER_ADDRS[0]}
stop_server TERM
run "$HVRPC" call "$tcp_addr" hvrpc.echo.v1.Echo/Echo --hex ''
expect_status 14 "call to a closed tcp port"
expect_err_line '^UNAVAILABLE: ' "call to a closed tcp port"

finish
