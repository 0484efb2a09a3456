#!/usr/bin/env bash
# test_cli.sh HVRPC SOURCE_DIR: `hvrpc pub` and `hvrpc sub` against
# `hvrpc serve` (which serves the bus by default): the line per event in
# each format, payloads from -d, @FILE and @-, headers, what pub prints,
# and the exit statuses both document.
# shellcheck source=../cli/lib.sh
. "$(dirname "$0")/../cli/lib.sh"

ADDR=unix://$TMP/bus.sock
start_server --listen "$ADDR" || finish

# start_sub NAME ARGS...: `hvrpc sub ADDR ARGS` in the background, its
# stdout and stderr in $TMP/NAME.out/.err; waits until it is subscribed.
start_sub() {
    local name=$1 i
    shift
    "$HVRPC" sub "$ADDR" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
    SUB_PID=$!
    for ((i = 0; i < 200; i++)); do
        grep -q '^hvrpc: sub: subscribed' "$TMP/$name.err" && return 0
        kill -0 "$SUB_PID" 2>/dev/null || break
        sleep 0.05
    done
    fail "sub $* did not subscribe: $(cat "$TMP/$name.err")"
    return 1
}

# wait_sub: waits (up to 10 s) for the last sub; its exit status in $STATUS.
wait_sub() {
    local i
    for ((i = 0; i < 200; i++)); do
        kill -0 "$SUB_PID" 2>/dev/null || break
        sleep 0.05
    done
    kill -KILL "$SUB_PID" 2>/dev/null
    wait "$SUB_PID"
    STATUS=$?
}

ID='unix:uid=[0-9]+,gid=[0-9]+,pid=[0-9]+'

# Text: one line per event, payload as is or as hex, nothing when empty.
start_sub text 'cli.*.x' 'other.>' --count 4
run "$HVRPC" pub "$ADDR" cli.a.x -d 'hello world' -H k:v
expect_status 0 "pub text"
expect_out "matched 1 queued 1 displaced 0 dropped 0" "pub text"
run "$HVRPC" pub "$ADDR" cli.a.y -d 'not matched'
expect_out "matched 0 queued 0 displaced 0 dropped 0" "pub unmatched"
printf '\x00\x01\x02' >"$TMP/bin"
run "$HVRPC" pub "$ADDR" other.y -d "@$TMP/bin"
expect_status 0 "pub @FILE"
printf 'from stdin' >"$TMP/stdin"
RUN_STDIN=$TMP/stdin run "$HVRPC" pub "$ADDR" cli.b.x -d @- -q
expect_status 0 "pub @- -q"
[ -s "$TMP/out" ] && fail "pub -q printed: $(cat "$TMP/out")"
run "$HVRPC" pub "$ADDR" other.z
expect_status 0 "pub empty"
wait_sub
expect_status 0 "sub --count 4"
mapfile -t lines <"$TMP/text.out"
[ "${#lines[@]}" -eq 4 ] || fail "sub: ${#lines[@]} lines: $(cat "$TMP/text.out")"
[[ ${lines[0]} =~ ^1\ cli\.a\.x\ $ID\ hello\ world$ ]] || fail "line 1: ${lines[0]}"
[[ ${lines[1]} =~ ^2\ other\.y\ $ID\ hex:000102$ ]] || fail "line 2: ${lines[1]}"
[[ ${lines[2]} =~ ^3\ cli\.b\.x\ $ID\ from\ stdin$ ]] || fail "line 3: ${lines[2]}"
[[ ${lines[3]} =~ ^4\ other\.z\ $ID$ ]] || fail "line 4: ${lines[3]}"
# Each pub was its own process: its own pid in the stamp.
pids=$(for l in "${lines[@]}"; do echo "$l" | sed -n 's/.*pid=\([0-9]*\).*/\1/p'; done | sort -u | wc -l)
[ "$pids" -eq 4 ] || fail "publisher stamps: $pids distinct pids, want 4"
grep -q 'lost' "$TMP/text.err" && fail "sub reported losses: $(cat "$TMP/text.err")"

# JSON and hex.
start_sub json '>' --count 1 --format json
run "$HVRPC" pub "$ADDR" j.k -d hi -H k:v -H 'x:a "quoted" value'
wait_sub
expect_status 0 "sub json"
line=$(cat "$TMP/json.out")
[[ $line =~ ^\{\"sequence\":\"1\",\"dropped\":\"0\",\"topic\":\"j\.k\",\"publisher\":\"$ID\",\"timeUnixNano\":\"[0-9]+\",\"headers\":\[\{\"key\":\"k\",\"value\":\"v\"\},\{\"key\":\"x\",\"value\":\"a\ \\\"quoted\\\"\ value\"\}\],\"payload\":\"aGk=\"\}$ ]] ||
    fail "json line: $line"
start_sub hex '>' --count 1 --format hex
run "$HVRPC" pub "$ADDR" h -d AB
wait_sub
[[ $(cat "$TMP/hex.out") =~ ^1\ h\ $ID\ hex:4142$ ]] || fail "hex line: $(cat "$TMP/hex.out")"

# Exit statuses.
usage_error "pub without topic" pub "$ADDR"
usage_error "pub wildcard topic" pub "$ADDR" 'a.*'
usage_error "pub empty segment" pub "$ADDR" 'a..b'
usage_error "pub bad header" pub "$ADDR" a -H novalue
usage_error "sub without pattern" sub "$ADDR"
usage_error "sub bad pattern" sub "$ADDR" 'a>'
usage_error "sub bad policy" sub "$ADDR" a --policy sometimes
usage_error "sub bad format" sub "$ADDR" a --format xml
usage_error "sub zero count" sub "$ADDR" a --count 0
run "$HVRPC" pub "$ADDR" a -H hvrpc-peer:me
expect_status 3 "pub reserved header"
expect_err_line '^hvrpc: pub: INVALID_ARGUMENT: .*reserved' "pub reserved header"
head -c 1048577 /dev/zero >"$TMP/big"
run "$HVRPC" pub "$ADDR" a -d "@$TMP/big"
expect_status 8 "pub payload over the limit"
run "$HVRPC" pub "$ADDR" a -d @"$TMP/missing"
expect_status 74 "pub missing file"
run "$HVRPC" sub "$ADDR" quiet --timeout 300
expect_status 4 "sub --timeout"
grep -q 'DEADLINE_EXCEEDED' "$TMP/err" || fail "sub --timeout: $(cat "$TMP/err")"
run "$HVRPC" pub "unix://$TMP/nobody.sock" a
expect_status 14 "pub nothing listening"
run "$HVRPC" sub "unix://$TMP/nobody.sock" a
expect_status 14 "sub nothing listening"

# A broker that goes away ends the subscription: UNAVAILABLE.
start_sub gone '>'
stop_server
wait_sub
expect_status 14 "sub when the server stops"

# --no-bus: no bus there.
ADDR=unix://$TMP/nobus.sock
start_server --listen "$ADDR" --no-bus || finish
run "$HVRPC" pub "$ADDR" a
expect_status 12 "pub without a bus"
run "$HVRPC" list "$ADDR"
grep -q 'hvrpc.bus.v1.Bus' "$TMP/out" && fail "--no-bus still lists the bus"
stop_server
finish
