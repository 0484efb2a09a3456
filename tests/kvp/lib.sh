# lib.sh - what the kvp tests share. Sourced by each test script, run as
#   bash test_X.sh BIN_DIR SOURCE_DIR
# where BIN_DIR holds hvrpc-kvp-host, hvrpc-kvp and hvrpc-kvp-guest. The
# host and every guest are separate processes meeting over unix sockets in
# a temporary directory, through the generated address variables.
#
# Checks record a failure and carry on; a script ends with `finish`.

set -u

BIN=${1:?usage: $0 BIN_DIR SOURCE_DIR}
SRC=${2:?usage: $0 BIN_DIR SOURCE_DIR}
HOST=$BIN/hvrpc-kvp-host
CLI=$BIN/hvrpc-kvp
GUEST=$BIN/hvrpc-kvp-guest

TMP=$(mktemp -d "${TMPDIR:-/tmp}/hvrpc-kvp.XXXXXX")
chmod 755 "$TMP"
export HVRPC_HVRPC_KVP_V1_KVP_ADDR=unix://$TMP/kvp.sock
export HVRPC_HVRPC_KVP_V1_KVP_ADMIN_ADDR=unix://$TMP/admin.sock
DB=$TMP/kvp.db
FAILURES=0
HOST_PID=
BG_PIDS=()
ME="unix:uid=$(id -u)"

cleanup() {
    [ "$BASHPID" = "$$" ] || return 0
    for p in "${BG_PIDS[@]}" $HOST_PID; do
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() {
    echo "FAIL: $*" >&2
    FAILURES=$((FAILURES + 1))
}

finish() {
    if [ "$FAILURES" -ne 0 ]; then
        echo "$FAILURES check(s) failed" >&2
        exit 1
    fi
    echo "all checks passed"
    exit 0
}

# run CMD...: stdout, stderr and exit status in $TMP/out, $TMP/err, $STATUS.
run() {
    "$@" </dev/null >"$TMP/out" 2>"$TMP/err"
    STATUS=$?
}

expect_status() {
    if [ "$STATUS" -ne "$1" ]; then
        fail "$2: exit status $STATUS, want $1 (stderr: $(head -c 300 "$TMP/err"))"
    fi
}

# expect_out TEXT WHAT: the last run's stdout has TEXT as a whole line.
expect_out() {
    grep -qxF -- "$1" "$TMP/out" || fail "$2: no line '$1' in: $(head -c 600 "$TMP/out")"
}

expect_no_out() {
    ! grep -qF -- "$1" "$TMP/out" || fail "$2: '$1' should not be in: $(head -c 600 "$TMP/out")"
}

expect_err() {
    grep -qF -- "$1" "$TMP/err" || fail "$2: stderr lacks '$1': $(head -c 300 "$TMP/err")"
}

# wait_line FILE TEXT [SECONDS]: waits until FILE has TEXT as a whole line.
wait_line() {
    local i
    for ((i = 0; i < ${3:-10} * 20; i++)); do
        grep -qxF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# start_host [ARGS...]: starts hvrpc-kvp-host on $DB, waits until both
# sockets are up. Its output goes to $TMP/host.log (a fresh one each time).
start_host() {
    # Emptied here, not by the background job's redirection, which may
    # happen after the first look below.
    : >"$TMP/host.log"
    "$HOST" --db "$DB" "$@" >>"$TMP/host.log" 2>&1 &
    HOST_PID=$!
    local i
    for ((i = 0; i < 200; i++)); do
        grep -q "store $DB" "$TMP/host.log" 2>/dev/null && return 0
        kill -0 "$HOST_PID" 2>/dev/null || break
        sleep 0.05
    done
    fail "hvrpc-kvp-host did not start: $(cat "$TMP/host.log")"
    return 1
}

# stop_host: SIGTERM, expecting a clean exit 0 (the sanitizer build checks
# for leaks then).
stop_host() {
    [ -n "$HOST_PID" ] || return 0
    kill -TERM "$HOST_PID"
    wait "$HOST_PID"
    local rc=$?
    [ "$rc" -eq 0 ] || fail "hvrpc-kvp-host exited $rc: $(tail -5 "$TMP/host.log")"
    HOST_PID=
}

# kill_host: kill -9, as a crash.
kill_host() {
    kill -KILL "$HOST_PID"
    wait "$HOST_PID" 2>/dev/null
    HOST_PID=
}

# bg NAME CMD...: runs CMD in the background, output in $TMP/NAME.out;
# its pid in $BG_PID (and killed at exit).
bg() {
    local name=$1
    shift
    "$@" </dev/null >"$TMP/$name.out" 2>"$TMP/$name.err" &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

# stop_bg PID: SIGTERM, expecting exit 0.
stop_bg() {
    kill -TERM "$1" 2>/dev/null
    wait "$1"
    local rc=$?
    [ "$rc" -eq 0 ] || fail "background process $1 exited $rc"
}

# as_uid UID CMD...: CMD as another user (root only). A function: give
# bg `setpriv ...` itself, so that its pid is the program's.
as_uid() {
    local uid=$1
    shift
    setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
}
