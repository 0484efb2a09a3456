#!/usr/bin/env bash
# test_health_watch.sh HVRPC SOURCE_DIR: `hvrpc health URI [SERVICE]
# --watch` against `hvrpc serve`: the first status at once, a line per
# change (NOT_SERVING when the server stops, then exit 14), the exit
# status when interrupted, SERVICE_UNKNOWN for an unknown name, --timeout,
# and a server without health. Every wait is bounded.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"

ADDR=unix://$TMP/s.sock
WATCH_PID=

# watch_start NAME ARGS...: `hvrpc health ARGS --watch` in the background,
# stdout and stderr in $TMP/NAME.out and .err.
watch_start() {
    local name=$1
    shift
    "$HVRPC" health "$@" --watch >"$TMP/$name.out" 2>"$TMP/$name.err" &
    WATCH_PID=$!
}

# wait_lines FILE N WHAT: waits (5 s at most) until FILE has N lines.
wait_lines() {
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(wc -l <"$1")" -ge "$2" ] && return 0
        sleep 0.05
    done
    fail "$3: $2 line(s) expected, got: $(cat "$1")"
    return 1
}

# watch_wait WHAT: waits (5 s at most) for the watcher to exit; its exit
# status goes into $STATUS (999 if it had to be killed).
watch_wait() {
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$WATCH_PID" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$WATCH_PID" 2>/dev/null; then
        fail "$1: still running after 5 s"
        kill -KILL "$WATCH_PID"
        wait "$WATCH_PID"
        STATUS=999
    else
        wait "$WATCH_PID"
        STATUS=$?
    fi
    WATCH_PID=
}

start_server --listen "$ADDR" || finish

# Interrupted: the last status printed is the exit status.
watch_start all "$ADDR"
wait_lines "$TMP/all.out" 1 "watch"
kill -INT "$WATCH_PID"
watch_wait "watch, SIGINT"
expect_status 0 "watch, SIGINT after SERVING"
[ "$(cat "$TMP/all.out")" = SERVING ] || fail "watch: $(cat "$TMP/all.out")"
[ -s "$TMP/all.err" ] && fail "watch, SIGINT: stderr: $(cat "$TMP/all.err")"

# A name the endpoint does not serve: reported, and watched all the same.
watch_start unknown "$ADDR" no.Such
wait_lines "$TMP/unknown.out" 1 "watch unknown"
kill -TERM "$WATCH_PID"
watch_wait "watch unknown, SIGTERM"
expect_status 5 "watch unknown, SIGTERM"
[ "$(cat "$TMP/unknown.out")" = SERVICE_UNKNOWN ] ||
    fail "watch unknown: $(cat "$TMP/unknown.out")"

# --timeout ends the watch: DEADLINE_EXCEEDED.
run "$HVRPC" health "$ADDR" hvrpc.echo.v1.Echo --watch --timeout 300
expect_status 4 "watch --timeout"
expect_out SERVING "watch --timeout"
expect_err_line 'DEADLINE_EXCEEDED' "watch --timeout"

# The server stops: NOT_SERVING, then the stream ends UNAVAILABLE.
watch_start stop "$ADDR"
wait_lines "$TMP/stop.out" 1 "watch before stop"
start=$(date +%s%N)
stop_server
expect_status 0 "serve stopped with a watcher"
took=$((($(date +%s%N) - start) / 1000000))
[ "$took" -lt 3000 ] || fail "serve took $took ms to stop with a watcher"
watch_wait "watch, server stopped"
expect_status 14 "watch, server stopped"
[ "$(cat "$TMP/stop.out")" = "SERVING
NOT_SERVING" ] || fail "watch, server stopped: $(cat "$TMP/stop.out")"
grep -q UNAVAILABLE "$TMP/stop.err" || fail "watch, stop: stderr: $(cat "$TMP/stop.err")"

# Nothing there: cannot connect.
run "$HVRPC" health "$ADDR" --watch --connect-timeout 1000
expect_status 14 "watch, no server"

# A server without health.
start_server --listen "$ADDR" --no-health || finish
run "$HVRPC" health "$ADDR" --watch
expect_status 12 "watch without health"
grep -q 'grpc.health.v1.Health/Watch' "$TMP/err" || fail "watch without health: $(cat "$TMP/err")"
stop_server

# --watch is health's alone.
usage_error "list --watch" list "$ADDR" --watch
finish
