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
HOST_PID=
ME="unix:uid=$(id -u)"
# shellcheck source=../common/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
PID_VARS+=(HOST_PID)

# expect_out TEXT WHAT: the last run's stdout has TEXT as a whole line.
expect_out() {
    grep -qxF -- "$1" "$TMP/out" || fail "$2: no line '$1' in: $(head -c 600 "$TMP/out")"
}

expect_no_out() {
    ! grep -qF -- "$1" "$TMP/out" || fail "$2: '$1' should not be in: $(head -c 600 "$TMP/out")"
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
