# lib.sh - what the bash test suites share (tests/cli, tests/kvp,
# tests/agent and the scripts that use theirs). Each suite's lib.sh sources
# it once it has made $TMP, the test's temporary directory:
#   . "$(dirname "${BASH_SOURCE[0]}")/../common/lib.sh"
#
# Checks record a failure and carry on, so one run shows every broken
# expectation; a script ends with `finish`, which fails on any failure.
# At exit, `cleanup` kills what is still running in the background (the
# pids in BG_PIDS, and those in the variables a suite names in PID_VARS,
# e.g. PID_VARS+=(HOST_PID)) and removes $TMP.

FAILURES=0
BG_PIDS=()
PID_VARS=()

cleanup() {
    # Only the script itself cleans up, never a subshell that inherited
    # the trap (a process substitution once took TMP away mid-test).
    [ "$BASHPID" = "$$" ] || return 0
    local p v pids=("${BG_PIDS[@]}")
    for v in "${PID_VARS[@]}"; do
        [ -n "${!v:-}" ] && pids+=("${!v}")
    done
    for p in "${pids[@]}"; do
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

# run CMD...: runs CMD with stdin from $RUN_STDIN (default /dev/null);
# leaves its stdout, stderr and exit status in $TMP/out, $TMP/err, $STATUS.
run() {
    "$@" <"${RUN_STDIN:-/dev/null}" >"$TMP/out" 2>"$TMP/err"
    STATUS=$?
}

# expect_status WANT WHAT: the last run's exit status.
expect_status() {
    if [ "$STATUS" -ne "$1" ]; then
        fail "$2: exit status $STATUS, want $1 (stderr: $(head -c 300 "$TMP/err"))"
    fi
}

# expect_err TEXT WHAT: the last run's stderr has TEXT.
expect_err() {
    grep -qF -- "$1" "$TMP/err" || fail "$2: stderr lacks '$1': $(head -c 300 "$TMP/err")"
}

# bg NAME CMD...: runs CMD in the background, output in $TMP/NAME.out and
# .err; its pid in $BG_PID (killed at exit).
bg() {
    local name=$1
    shift
    # Emptied here, not by the background job's redirection, which may
    # happen after the caller's first look at it.
    : >"$TMP/$name.out"
    "$@" </dev/null >>"$TMP/$name.out" 2>"$TMP/$name.err" &
    BG_PID=$!
    BG_PIDS+=("$BG_PID")
}

# stop_bg PID [WHAT]: SIGTERM, expecting exit 0 (the sanitizer build checks
# for leaks then). A stopped process is continued first.
stop_bg() {
    kill -CONT "$1" 2>/dev/null
    kill -TERM "$1" 2>/dev/null
    wait "$1"
    local rc=$?
    [ "$rc" -eq 0 ] || fail "${2:-background process $1} exited $rc"
}

# as_uid UID CMD...: CMD as another user (root only). A function: give
# bg `setpriv ...` itself, so that its pid is the program's.
as_uid() {
    local uid=$1
    shift
    setpriv --reuid="$uid" --regid="$uid" --clear-groups "$@"
}
