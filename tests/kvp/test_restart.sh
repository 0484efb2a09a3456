# kill -9 the host and start it again on the same database: nothing a
# guest reported (or the host set) is lost, and a watching guest
# reconnects and gets its keys again.
. "$(dirname "$0")/lib.sh"

start_host || finish
run "$GUEST" --once --fact answer=42 --fact "motto=written before the crash"
expect_status 0 "report"
run "$CLI" set "$ME" greeting hello
expect_status 0 "set"
run "$CLI" list "$ME"
cp "$TMP/out" "$TMP/before"
[ "$(wc -l <"$TMP/before")" -ge 10 ] || fail "few keys before: $(cat "$TMP/before")"

# The crash comes right after the acknowledgements.
kill_host
[ -s "$DB-wal" ] || [ -s "$DB" ] || fail "no database file"
start_host || finish
grep -q "store $DB: 1 VMs" "$TMP/host.log" || fail "host after restart: $(tail -3 "$TMP/host.log")"
run "$CLI" list "$ME"
expect_status 0 "list after restart"
cmp -s "$TMP/before" "$TMP/out" || fail "pool changed: $(diff "$TMP/before" "$TMP/out")"
run "$CLI" get "$ME" greeting --pool host
expect_status 0 "host key after restart"
expect_out "hello" "host key after restart"

# A watching guest rides through another crash.
bg guest "$GUEST" --no-facts --fact watching=yes
GUEST_PID=$BG_PID
wait_line "$TMP/guest.out" "set greeting=hello" || fail "guest: snapshot"
kill_host
for ((i = 0; i < 100; i++)); do
    grep -q "lost the host" "$TMP/guest.err" && break
    sleep 0.05
done
grep -q "lost the host" "$TMP/guest.err" || fail "guest did not notice: $(cat "$TMP/guest.err")"
start_host || finish
for ((i = 0; i < 100; i++)); do
    [ "$(grep -c '^set greeting=hello$' "$TMP/guest.out")" -ge 2 ] && break
    sleep 0.05
done
[ "$(grep -c '^set greeting=hello$' "$TMP/guest.out")" -ge 2 ] ||
    fail "guest did not get its keys again: $(cat "$TMP/guest.out" "$TMP/guest.err")"
run "$CLI" list "$ME"
expect_out "watching=yes" "the guest's pool after its reconnect"
stop_bg "$GUEST_PID"
stop_host
finish
