# The host sets and deletes host-to-guest keys; a watching guest prints
# each change. The host's CLI watches the guest-to-host pool the same way.
. "$(dirname "$0")/lib.sh"

start_host || finish
run "$CLI" set "$ME" before "set before the guest came"
expect_status 0 "set before"

bg guest "$GUEST" --no-facts --fact state=starting
GUEST_PID=$BG_PID
wait_line "$TMP/guest.out" "synced" || fail "guest: no synced: $(cat "$TMP/guest.out" "$TMP/guest.err")"
grep -qxF "set before=set before the guest came" "$TMP/guest.out" ||
    fail "guest: the snapshot lacks the earlier key: $(cat "$TMP/guest.out")"

bg hostwatch "$CLI" watch "$ME"
HW_PID=$BG_PID
wait_line "$TMP/hostwatch.out" "synced" || fail "cli watch: no synced"
grep -qxF "set state=starting" "$TMP/hostwatch.out" || fail "cli watch: snapshot: $(cat "$TMP/hostwatch.out")"

run "$CLI" set "$ME" color blue
expect_status 0 "set color"
wait_line "$TMP/guest.out" "set color=blue" || fail "guest did not print set color=blue: $(cat "$TMP/guest.out")"
run "$CLI" set "$ME" color "dark green"
wait_line "$TMP/guest.out" "set color=dark green" || fail "guest: changed value"
run "$CLI" del "$ME" color
expect_status 0 "del"
wait_line "$TMP/guest.out" "deleted color" || fail "guest: deleted"

# A guest report reaches the host's watcher, not the guest's own watch.
run "$GUEST" --once --no-facts --fact state=running
expect_status 0 "report"
wait_line "$TMP/hostwatch.out" "set state=running" || fail "cli watch: $(cat "$TMP/hostwatch.out")"
sleep 0.3
! grep -q "state" "$TMP/guest.out" || fail "guest saw its own pool: $(cat "$TMP/guest.out")"

stop_bg "$HW_PID"
stop_bg "$GUEST_PID"

# At most 8 watches per VM: the 9th is RESOURCE_EXHAUSTED.
W=()
for i in 1 2 3 4 5 6 7 8; do
    bg "w$i" "$GUEST" --no-facts --fact n=$i
    W+=("$BG_PID")
    wait_line "$TMP/w$i.out" "synced" || fail "watcher $i: $(cat "$TMP/w$i.err")"
done
run "$GUEST" --no-facts --fact n=9
expect_status 8 "a 9th watch"
expect_err "has 8 watches open already" "a 9th watch"
for p in "${W[@]}"; do stop_bg "$p"; done
stop_host
finish
