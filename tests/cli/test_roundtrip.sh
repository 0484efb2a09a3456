# serve + call round trips over one transport: test_roundtrip.sh HVRPC SRC unix|tcp
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

mode=${1:?unix or tcp}
case $mode in
unix)
    listen=unix://$TMP/echo.sock
    peer_pattern='^peer: "unix:uid=[0-9]+,gid=[0-9]+,pid=[0-9]+"$'
    ;;
tcp)
    listen=tcp://127.0.0.1:0
    peer_pattern='^peer: "tcp:127\.0\.0\.1:[0-9]+"$'
    ;;
*)
    echo "unknown mode $mode" >&2
    exit 2
    ;;
esac

start_server --listen "$listen" || finish
addr=${SERVER_ADDRS[0]}
case $mode in
unix) [ "$addr" = "$listen" ] || fail "serve printed '$addr', want '$listen'" ;;
tcp)
    [[ $addr =~ ^tcp://127\.0\.0\.1:[0-9]+$ ]] || fail "serve printed '$addr'"
    [[ $addr == *:0 ]] && fail "serve printed port 0, not the port it got"
    ;;
esac

# A real EchoRequest with metadata; the reply carries it all back.
encode EchoRequest 'payload: "hello, guest"' "$TMP/req.bin"
RUN_STDIN=$TMP/req.bin run "$HVRPC" call "$addr" hvrpc.echo.v1.Echo/Echo \
    -H trace-id:42 --header=tenant:blue -Hempty: --timeout 5000
expect_status 0 "echo call"
[ -s "$TMP/err" ] && fail "echo call: stderr: $(cat "$TMP/err")"
decode EchoResponse "$TMP/out" >"$TMP/reply.txt" || fail "reply does not decode"
grep -qx 'payload: "hello, guest"' "$TMP/reply.txt" || fail "reply payload: $(cat "$TMP/reply.txt")"
tr -d '\n' <"$TMP/reply.txt" >"$TMP/reply.line"
for entry in 'key: "trace-id"  value: "42"' 'key: "tenant"  value: "blue"' 'key: "empty"'; do
    grep -Fq "$entry" "$TMP/reply.line" || fail "reply lacks metadata $entry: $(cat "$TMP/reply.txt")"
done
grep -Eq "$peer_pattern" "$TMP/reply.txt" || fail "reply peer: $(grep peer "$TMP/reply.txt")"

# The same request given as hex; an empty request (all defaults).
req_hex=$(od -An -tx1 -v "$TMP/req.bin" | tr -d ' \n')
run "$HVRPC" call "$addr" hvrpc.echo.v1.Echo/Echo --hex "$req_hex"
expect_status 0 "echo call --hex"
decode EchoResponse "$TMP/out" | grep -qx 'payload: "hello, guest"' || fail "--hex reply"
run "$HVRPC" call "$addr" /hvrpc.echo.v1.Echo/Echo --hex ''
expect_status 0 "empty echo call, gRPC-style method name"
decode EchoResponse "$TMP/out" | grep -Eq "$peer_pattern" || fail "empty request's reply"

# A payload much larger than one read from stdin comes back unchanged:
# field 1, length 100000 (varint a0 8d 06), then the bytes.
head -c 100000 /dev/urandom >"$TMP/big"
{ printf '\n\240\215\006'; cat "$TMP/big"; } >"$TMP/big.req"
RUN_STDIN=$TMP/big.req run "$HVRPC" call "$addr" hvrpc.echo.v1.Echo/Echo
expect_status 0 "100000-byte echo"
cmp -s -n 100004 "$TMP/big.req" "$TMP/out" || fail "100000-byte echo: payload differs"

# response_size: 3000 bytes back for an empty payload (field 2, varint b8 17).
run "$HVRPC" call "$addr" hvrpc.echo.v1.Echo/Echo --hex '10 b8 17'
expect_status 0 "response_size call"
[ "$(head -c 3 "$TMP/out" | od -An -tx1 | tr -d ' ')" = 0ab817 ] ||
    fail "response_size reply does not start with 3000 payload bytes"

stop_server TERM
expect_status 0 "serve after SIGTERM"
finish
