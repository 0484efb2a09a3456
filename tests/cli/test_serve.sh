# serve's lifecycle: several endpoints, SIGTERM and SIGINT both exit 0 and
# remove the unix socket file, set-up failures exit with their status code.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

sock=$TMP/echo.sock
start_server --listen "unix://$sock" --listen tcp://127.0.0.1:0 --workers 2 \
    --max-frame 65536 || finish
[ "${#SERVER_ADDRS[@]}" -eq 2 ] || fail "serve printed ${#SERVER_ADDRS[@]} endpoints, want 2"
[ -S "$sock" ] || fail "no socket file at $sock"
for addr in "${SERVER_ADDRS[@]}"; do
    run "$HVRPC" call "$addr" hvrpc.echo.v1.Echo/Echo --hex 0a026869
    expect_status 0 "call $addr"
done

# The tcp port is taken now: a second server cannot listen there, says so
# in one line and exits with a status code (not 0, not the usage error).
run timeout 20 "$HVRPC" serve --listen "${SERVER_ADDRS[1]}"
expect_failure_code "serve on a taken port"
expect_err_line "^hvrpc: serve: listen ${SERVER_ADDRS[1]}: [A-Z_]+: " "serve on a taken port"

# Nor can it take over the live unix socket (a stale one it may replace).
run timeout 20 "$HVRPC" serve --listen "unix://$sock"
expect_failure_code "serve on a live socket file"
expect_err_line "^hvrpc: serve: listen unix://$sock: [A-Z_]+: " "serve on a live socket file"
run "$HVRPC" call "unix://$sock" hvrpc.echo.v1.Echo/Echo --hex ''
expect_status 0 "call after a second serve tried the socket file"

stop_server TERM
expect_status 0 "serve after SIGTERM"
[ -e "$sock" ] && fail "SIGTERM left the socket file behind"

start_server --listen "unix://$sock" || finish
stop_server INT
expect_status 0 "serve after SIGINT"
[ -e "$sock" ] && fail "SIGINT left the socket file behind"
grep -q 'SIGINT received' "$TMP/serve.err" || fail "serve did not log the SIGINT"

# SIGTERM while a call waits in the server (delay_ms 10000, field 3, varint
# 90 4e): the server stops at once, exits 0, and the caller hears
# UNAVAILABLE rather than waiting for the reply.
start_server --listen "unix://$sock" || finish
"$HVRPC" call "unix://$sock" hvrpc.echo.v1.Echo/Echo --hex '18 90 4e' \
    >/dev/null 2>"$TMP/slow.err" &
slow_pid=$!
sleep 0.5
start=$SECONDS
stop_server TERM
expect_status 0 "serve stopped during a call"
wait "$slow_pid"
STATUS=$?
cp "$TMP/slow.err" "$TMP/err"
expect_status 14 "the call the server stopped under"
expect_err_line '^UNAVAILABLE: ' "the call the server stopped under"
[ $((SECONDS - start)) -lt 5 ] || fail "stopping took $((SECONDS - start)) s with a call waiting"

# An abstract socket needs no file at all.
start_server --listen "unix://@hvrpc-cli-test-$$" || finish
[ "${SERVER_ADDRS[0]}" = "unix://@hvrpc-cli-test-$$" ] || fail "abstract address printed as '${SERVER_ADDRS[0]}'"
run "$HVRPC" call "${SERVER_ADDRS[0]}" hvrpc.echo.v1.Echo/Echo --hex ''
expect_status 0 "call over an abstract socket"
stop_server TERM
expect_status 0 "abstract serve after SIGTERM"

# Handlers on the loop thread: answers, a delayed answer (a timer, not a
# blocked thread: a second call is answered meanwhile) and health.
start_server --listen "unix://$sock" --inline-handlers --workers 1 || finish
run "$HVRPC" call "unix://$sock" hvrpc.echo.v1.Echo/Echo --hex 0a026869
expect_status 0 "call to an inline-handlers server"
# The EchoResponse starts with the payload field: 0a 02 'h' 'i'.
case "$(od -An -tx1 "$TMP/out" | tr -d ' \n')" in
0a026869*) ;;
*) fail "inline echo reply: $(od -An -tx1 "$TMP/out")" ;;
esac
# delay_ms 800 (field 3: 18 a0 06) in the background, a plain call beside it.
"$HVRPC" call "unix://$sock" hvrpc.echo.v1.Echo/Echo --hex '18 a0 06' \
    >"$TMP/slow.out" 2>"$TMP/slow.err" &
slow=$!
run "$HVRPC" call "unix://$sock" hvrpc.echo.v1.Echo/Echo --hex ''
expect_status 0 "call beside a delayed one (inline)"
kill -0 "$slow" 2>/dev/null || fail "the plain call waited for the delayed one"
wait "$slow" || fail "delayed inline call: $(cat "$TMP/slow.err")"
run "$HVRPC" health "unix://$sock"
expect_status 0 "health of an inline-handlers server"
stop_server TERM
expect_status 0 "inline-handlers serve after SIGTERM"

finish
