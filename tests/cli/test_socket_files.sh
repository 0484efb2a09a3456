# serve and the files at its unix paths: a stale socket file (its server
# was killed) is replaced; any other file is never touched.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

sock=$TMP/echo.sock

# A server killed with SIGKILL leaves its socket file; the next one takes
# the path over.
start_server --listen "unix://$sock" || finish
stop_server KILL
[ -S "$sock" ] || fail "no stale socket file after SIGKILL"
start_server --listen "unix://$sock" || finish
run "$HVRPC" call "unix://$sock" hvrpc.echo.v1.Echo/Echo --hex ''
expect_status 0 "call to the server that replaced a stale socket"
stop_server TERM
expect_status 0 "serve after SIGTERM"

# A regular file where the socket would go: serve fails with a status code
# and leaves the file as it was. For hybrid vsock the listener's path is
# PATH_PORT.
for case in "unix://$TMP/data.txt $TMP/data.txt" \
    "hybrid+vsock://$TMP/v.sock:5000 $TMP/v.sock_5000"; do
    read -r uri file <<<"$case"
    echo "precious data" >"$file"
    # Should fail at once; were it to listen, timeout ends it.
    run timeout 5 "$HVRPC" serve --listen "$uri"
    expect_failure_code "serve --listen $uri over a regular file"
    expect_err_line "^hvrpc: serve: listen " "serve --listen $uri over a regular file"
    [ "$(cat "$file" 2>/dev/null)" = "precious data" ] ||
        fail "serve --listen $uri destroyed the regular file $file"
done

finish
