#!/usr/bin/env bash
# demo.sh - the README's demo: the echo service served by `hvrpc serve` and
# called the way a guest calls its host, over the best transport this
# machine offers (AF_VSOCK when a local round trip works, else a unix
# socket), with a real EchoRequest, metadata, a failing call and a clean
# stop.
#
#   tools/demo.sh [PATH/TO/hvrpc]    (default: build/tools/hvrpc/hvrpc under
#                                     the source tree)
#   tools/demo.sh --vm [PATH/TO/hvrpc]
#                                    the same demo inside a QEMU guest, over
#                                    real AF_VSOCK (tests/vm/vm.sh boots it
#                                    from the build next to that binary:
#                                    about 10 s; docs/VM.md)
#
# Builds nothing. Needs protoc (protobuf-compiler) to write the request and
# read the reply; HVRPC_PROTOC and HVRPC_PROTOBUF_INCLUDE override where
# protoc and google/protobuf/descriptor.proto are. Exits non-zero when any
# step fails, and always stops what it started.
set -u -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ "${1:-}" = --vm ]; then
    # The guest runs this script with the build's hvrpc (tests/vm builds
    # the step list, demo-suite.txt, next to the binaries).
    hvrpc=${2:-$root/build/tools/hvrpc/hvrpc}
    build=$(cd "$(dirname "$hvrpc")/../.." 2>/dev/null && pwd) || build=
    suite=$build/tests/vm/demo-suite.txt
    if [ -z "$build" ] || [ ! -f "$suite" ]; then
        echo "demo: FAILED: no $suite (build $hvrpc with the tests first)" >&2
        exit 1
    fi
    echo "== hvrpc demo inside a QEMU guest (real AF_VSOCK, CID 1) =="
    exec bash "$root/tests/vm/vm.sh" "$suite" "$build/tests/vm/cache"
fi
hvrpc=${1:-$root/build/tools/hvrpc/hvrpc}
protoc=${HVRPC_PROTOC:-protoc}
protobuf_include=${HVRPC_PROTOBUF_INCLUDE:-/usr/include}
echo_proto=$root/proto/hvrpc/echo/v1/echo.proto
service=hvrpc.echo.v1.Echo/Echo

tmp=
server_pid=
answered=0

cleanup() {
    if [ -n "$server_pid" ]; then
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
    fi
    [ -n "$tmp" ] && rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

die() {
    echo "demo: FAILED: $*" >&2
    exit 1
}

# protobuf TYPE encode|decode: text format <-> bytes of an echo.proto message.
protobuf() {
    "$protoc" --"$2"="hvrpc.echo.v1.$1" -I "$root/proto" -I "$protobuf_include" \
        "$echo_proto"
}

indent() {
    sed 's/^/    /'
}

now_ns() {
    date +%s%N
}

# start_server URI: runs `hvrpc serve --listen URI` in the background and
# waits for its 'listening on' line; sets listen_uri, server_pid and
# address. Fails (returns 1) when serve exits first; its stderr is in
# $tmp/serve.err.
start_server() {
    local i
    listen_uri=$1
    # Emptied here, not by the child's redirection: that may happen after
    # the loop below has read a previous server's line.
    : >"$tmp/serve.out"
    "$hvrpc" serve --listen "$1" >"$tmp/serve.out" 2>"$tmp/serve.err" &
    server_pid=$!
    for ((i = 0; i < 200; i++)); do
        address=$(sed -n 's/^listening on //p' "$tmp/serve.out")
        [ -n "$address" ] && return 0
        if ! kill -0 "$server_pid" 2>/dev/null; then
            wait "$server_pid"
            server_pid=
            return 1
        fi
        sleep 0.05
    done
    die "hvrpc serve --listen $1 printed no address in 10 s"
}

# stop_server: SIGTERM, then the exit status in $server_status.
stop_server() {
    kill -TERM "$server_pid"
    wait "$server_pid"
    server_status=$?
    server_pid=
}

# pick_transport: vsock when a server listening on vsock can be reached at
# CID 1 (VMADDR_CID_LOCAL) within a second, else a unix socket. A machine
# may lack AF_VSOCK, or (a VM without vsock_loopback) let a server listen
# yet never complete a local connect: both end up on unix, with the reason.
pick_transport() {
    local port probe_status
    # Port "any": the kernel picks a free one, so runs never collide.
    if start_server vsock://any:any; then
        port=${address##*:}
        timeout 5 "$hvrpc" call "vsock://local:$port" "$service" --hex '' \
            --connect-timeout 1000 --timeout 1000 >/dev/null 2>"$tmp/probe.err"
        probe_status=$?
        if [ "$probe_status" -eq 0 ]; then
            transport=vsock
            answered=1 # the probe
            why="a local AF_VSOCK round trip works (CID 1, vsock_loopback)"
            call_address=vsock://local:$port
            return
        fi
        stop_server
        why="AF_VSOCK lets a server listen, but a local connect to CID 1 failed"
        if [ "$probe_status" -eq 124 ]; then
            why+=" (no answer in 5 s)"
        else
            why+=" ($(head -n 1 "$tmp/probe.err"))"
        fi
        why+=": no vsock_loopback here"
    else
        why="no usable AF_VSOCK ($(head -n 1 "$tmp/serve.err"))"
    fi
    transport=unix
    start_server "unix://$tmp/echo.sock" ||
        die "hvrpc serve on a unix socket: $(cat "$tmp/serve.err")"
    call_address=$address
}

[ -x "$hvrpc" ] || die "no hvrpc binary at $hvrpc (build first, or pass its path)"
command -v "$protoc" >/dev/null || die "protoc not found (apt-get install protobuf-compiler)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hvrpc-demo.XXXXXX") || die "mktemp"

echo "== hvrpc demo: $("$hvrpc" --version) =="
echo "binary:    $hvrpc"
pick_transport
echo "transport: $transport"
echo "  why:     $why"
echo "server:    hvrpc serve --listen $listen_uri (pid $server_pid)"
echo "  listening on $address"
echo "client:    hvrpc call $call_address ..."
[ "$transport" = vsock ] &&
    echo "  (CID 1 is this machine; a guest calls its host the same way at vsock://host:PORT)"
echo

# --- 1: a call as a guest makes it: a real EchoRequest with metadata ------
payload="hello from the guest"
printf 'payload: "%s"\n' "$payload" >"$tmp/request.txt"
protobuf EchoRequest encode <"$tmp/request.txt" >"$tmp/request.bin" ||
    die "protoc could not encode the request"
echo "-- call 1: $service with metadata"
echo "request (EchoRequest, $(wc -c <"$tmp/request.bin") bytes):"
indent <"$tmp/request.txt"
echo "metadata: trace-id=demo-$$, client=hvrpc-demo"
start=$(now_ns)
"$hvrpc" call "$call_address" "$service" -H "trace-id:demo-$$" -H client:hvrpc-demo \
    --timeout 5000 <"$tmp/request.bin" >"$tmp/reply.bin" 2>"$tmp/call.err"
status=$?
elapsed_us=$((($(now_ns) - start) / 1000))
[ "$status" -eq 0 ] || die "call 1 exited $status: $(cat "$tmp/call.err")"
answered=$((answered + 1))
protobuf EchoResponse decode <"$tmp/reply.bin" >"$tmp/reply.txt" ||
    die "the reply is not an EchoResponse"
printf 'reply (EchoResponse, %d bytes) after %d.%03d ms (connect + call, one process):\n' \
    "$(wc -c <"$tmp/reply.bin")" $((elapsed_us / 1000)) $((elapsed_us % 1000))
indent <"$tmp/reply.txt"
grep -qxF "payload: \"$payload\"" "$tmp/reply.txt" || die "the payload did not come back"
tr -d '\n' <"$tmp/reply.txt" | grep -qF "key: \"trace-id\"  value: \"demo-$$\"" ||
    die "the server did not see the trace-id metadata"
peer=$(sed -n 's/^peer: "\(.*\)"$/\1/p' "$tmp/reply.txt")
[ -n "$peer" ] || die "the reply names no peer"
echo "the server saw the caller as: $peer"
echo

# --- 2: a failing call: its status code becomes call's exit status -------
echo "-- call 2: the same method asked to fail (fail_code 5 = NOT_FOUND)"
printf 'payload: "x"\nfail_code: 5\nfail_message: "no such widget"\n' >"$tmp/fail.txt"
indent <"$tmp/fail.txt"
protobuf EchoRequest encode <"$tmp/fail.txt" >"$tmp/fail.bin" ||
    die "protoc could not encode the failing request"
"$hvrpc" call "$call_address" "$service" <"$tmp/fail.bin" >/dev/null 2>"$tmp/fail.err"
status=$?
echo "exit status $status, stderr: $(cat "$tmp/fail.err")"
[ "$status" -eq 5 ] || die "the failing call exited $status, not 5"
answered=$((answered + 1))
grep -qx 'NOT_FOUND: no such widget' "$tmp/fail.err" || die "unexpected stderr"
echo

# --- 3: stop ----------------------------------------------------------------
echo "-- stopping the server with SIGTERM"
stop_server
echo "server exited $server_status"
[ "$server_status" -eq 0 ] || die "the server exited $server_status: $(cat "$tmp/serve.err")"
if [ "$transport" = unix ]; then
    [ -e "$tmp/echo.sock" ] && die "the server left its socket file behind"
    echo "its socket file is gone"
fi
echo
echo "calls answered: $answered over $transport"
echo "demo OK"
