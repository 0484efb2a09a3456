# lib.sh - what the cli tests share. Sourced by each test script, which is
# run as: bash test_X.sh HVRPC_BINARY SOURCE_DIR [ARGS...]
#
# Checks record a failure and carry on, so one run shows every broken
# expectation; a script ends with `finish`, which fails on any failure.

set -u

HVRPC=${1:?usage: $0 HVRPC_BINARY SOURCE_DIR}
SRC=${2:?usage: $0 HVRPC_BINARY SOURCE_DIR}
shift 2
PROTOC=${HVRPC_PROTOC:-protoc}
PROTOBUF_INCLUDE=${HVRPC_PROTOBUF_INCLUDE:-/usr/include}
ECHO_PROTO=$SRC/proto/hvrpc/echo/v1/echo.proto

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hvrpc-cli.XXXXXX")
SERVER_PID=
SERVER_ADDRS=()
# shellcheck source=../common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
PID_VARS+=(SERVER_PID)

# expect_failure_code WHAT: the last run's exit status is a failure status
# code (1-16): neither success nor a usage error.
expect_failure_code() {
    if [ "$STATUS" -lt 1 ] || [ "$STATUS" -gt 16 ]; then
        fail "$1: exit status $STATUS, want a status code 1-16"
    fi
}

# expect_out TEXT WHAT: the last run's stdout, exactly (one line).
expect_out() {
    local got
    got=$(cat "$TMP/out")
    [ "$got" = "$1" ] || fail "$2: stdout '$got', want '$1'"
}

# expect_err_line PATTERN WHAT: stderr is one line matching the ERE.
expect_err_line() {
    local lines
    lines=$(wc -l <"$TMP/err")
    [ "$lines" -eq 1 ] || fail "$2: $lines stderr lines, want 1: $(cat "$TMP/err")"
    grep -Eq -- "$1" "$TMP/err" || fail "$2: stderr '$(cat "$TMP/err")' does not match /$1/"
}

# usage_error WHAT ARGS...: hvrpc ARGS exits 64 with one 'hvrpc: ' line on
# stderr and nothing on stdout.
usage_error() {
    local what=$1
    shift
    run "$HVRPC" "$@"
    expect_status 64 "$what"
    expect_err_line '^hvrpc: ' "$what"
    [ -s "$TMP/out" ] && fail "$what: wrote to stdout: $(head -c 200 "$TMP/out")"
}

# call_fails CODE PATTERN WHAT ARGS...: `hvrpc call ARGS` exits with status
# code CODE, writes one stderr line matching the ERE and no reply.
call_fails() {
    local code=$1 pattern=$2 what=$3
    shift 3
    run "$HVRPC" call "$@"
    expect_status "$code" "$what"
    expect_err_line "$pattern" "$what"
    [ -s "$TMP/out" ] && fail "$what: wrote a reply"
}

# start_server ARGS...: runs `hvrpc serve ARGS` in the background and waits
# until it has printed a 'listening on' line per --listen; their addresses
# go into SERVER_ADDRS. Returns non-zero (after fail) if it did not.
start_server() {
    local want=0 arg i
    for arg in "$@"; do
        [ "$arg" = --listen ] && want=$((want + 1))
    done
    # Emptied here, not by the child's redirection: that may happen after
    # the loop below has read the previous server's lines.
    : >"$TMP/serve.out"
    "$HVRPC" serve "$@" >"$TMP/serve.out" 2>"$TMP/serve.err" &
    SERVER_PID=$!
    for ((i = 0; i < 200; i++)); do
        if [ "$(grep -c '^listening on ' "$TMP/serve.out")" -ge "$want" ]; then
            # shellcheck disable=SC2034  # read by the test scripts
            mapfile -t SERVER_ADDRS < <(sed -n 's/^listening on //p' "$TMP/serve.out")
            return 0
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    fail "serve $* did not start: $(cat "$TMP/serve.err")"
    return 1
}

# stop_server [SIGNAL]: signals the server (TERM by default), waits for it
# and leaves its exit status in $STATUS.
stop_server() {
    kill -"${1:-TERM}" "$SERVER_PID"
    wait "$SERVER_PID"
    STATUS=$?
    SERVER_PID=
}

# encode TYPE TEXT FILE: a text-format message of echo.proto into FILE.
encode() {
    printf '%s\n' "$2" | "$PROTOC" --encode="hvrpc.echo.v1.$1" -I "$SRC/proto" \
        -I "$PROTOBUF_INCLUDE" "$ECHO_PROTO" >"$3"
}

# decode TYPE FILE: prints the text format of FILE.
decode() {
    "$PROTOC" --decode="hvrpc.echo.v1.$1" -I "$SRC/proto" -I "$PROTOBUF_INCLUDE" \
        "$ECHO_PROTO" <"$2"
}
