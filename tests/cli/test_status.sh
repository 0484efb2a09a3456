# call's exit status is the call's status code, with 'NAME: message' on
# stderr: failing echo, unknown method and service, deadline, oversized
# request, dead addresses.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

start_server --listen "unix://$TMP/echo.sock" || finish
addr=${SERVER_ADDRS[0]}
echo_method=hvrpc.echo.v1.Echo/Echo

# fail_code 5 (NOT_FOUND) with fail_message "boom": fields 4 and 5.
call_fails 5 '^NOT_FOUND: boom$' "fail_code=5" "$addr" $echo_method --hex '2005 2a04626f6f6d'

# The same built by protoc, as the demo does it.
encode EchoRequest 'fail_code: 7 fail_message: "no entry"' "$TMP/fail.req"
RUN_STDIN=$TMP/fail.req call_fails 7 '^PERMISSION_DENIED: no entry$' "fail_code=7" \
    "$addr" $echo_method

call_fails 12 '^UNIMPLEMENTED: ' "unknown method" "$addr" hvrpc.echo.v1.Echo/Nope --hex ''
call_fails 12 '^UNIMPLEMENTED: ' "unknown service" "$addr" hvrpc.nothing.v1.Nothing/Echo --hex ''

# delay_ms 3000 (field 3, varint b8 17) against a 200 ms deadline.
call_fails 4 '^DEADLINE_EXCEEDED: ' "deadline" "$addr" $echo_method --hex '18 b8 17' --timeout 200

# A request over --max-frame is refused before it is sent: field 1, 2000
# bytes (varint d0 0f).
{ printf '\n\320\017'; head -c 2000 /dev/zero; } >"$TMP/2k.req"
RUN_STDIN=$TMP/2k.req call_fails 8 '^RESOURCE_EXHAUSTED: ' "request over --max-frame" \
    "$addr" $echo_method --max-frame 1024

# The server is still fine after all that.
run "$HVRPC" call "$addr" $echo_method --hex ''
expect_status 0 "call after failures"

# Dead addresses: a socket file nobody listens on any more, a missing one,
# a tcp port that was just closed.
stop_server TERM
expect_status 0 "serve after SIGTERM"
call_fails 14 '^UNAVAILABLE: ' "call to a stopped unix server" "$addr" $echo_method --hex ''
call_fails 14 '^UNAVAILABLE: ' "call to a missing socket file" "unix://$TMP/never.sock" \
    $echo_method --hex ''

# Port 1 (tcpmux): nothing listens there, and unlike a port just closed no
# other test can be handed it meanwhile.
call_fails 14 '^UNAVAILABLE: ' "call to a closed tcp port" tcp://127.0.0.1:1 $echo_method --hex ''

finish
