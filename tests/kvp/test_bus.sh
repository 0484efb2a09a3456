# Host-to-guest keys through the bus (docs/KVP.md, "Through the bus"):
# hvrpc-kvp-host --bus publishes each change on the guest's private topic
# and hvrpc-kvp-guest --bus follows private.self.kvp.>. Two guests of two
# uids (two bus identities): each gets its own keys, never the other's,
# not even a spy of the other guest's uid subscribed to '>'; a guest
# cannot publish into the other's space; the host's own subscriber sees
# every guest's events. Run as: bash test_bus.sh BIN_DIR SOURCE_DIR HVRPC.
. "$(dirname "$0")/lib.sh"

HVRPC=${3:?usage: $0 BIN_DIR SOURCE_DIR HVRPC}
if [ "$(id -u)" -ne 0 ]; then
    echo "needs root (two guests need two uids)"
    exit 77
fi
A=60005
B=60006
BUS=unix://$TMP/bus.sock

# The host's bus, then the KVP host publishing on it.
bg bus "$HVRPC" serve --listen "$BUS"
BUS_PID=$BG_PID
for ((i = 0; i < 200; i++)); do
    grep -q '^listening on ' "$TMP/bus.out" 2>/dev/null && break
    sleep 0.05
done
grep -q '^listening on ' "$TMP/bus.out" || {
    fail "hvrpc serve did not start: $(cat "$TMP/bus.out" "$TMP/bus.err")"
    finish
}
start_host --bus "$BUS" || finish
grep -q "published on $BUS" "$TMP/host.log" || fail "host start: $(cat "$TMP/host.log")"
chmod 666 "$TMP/kvp.sock" "$TMP/bus.sock"
# The guests run as other uids: copies of the programs they can read
# (as in test_isolation.sh).
PUB=$TMP/pub
mkdir -p "$PUB"
cp "$GUEST" "$HVRPC" "$PUB/"
lib=$(ldd "$GUEST" | sed -n 's/.*libhvrpc\.so[^ ]* => \([^ ]*\).*/\1/p')
[ -n "$lib" ] && cp -L "$lib" "$PUB/"
chmod 755 "$PUB" "$PUB"/*
export LD_LIBRARY_PATH=$PUB
GUEST=$PUB/hvrpc-kvp-guest
PUBCLI=$PUB/hvrpc

# A key set before guest A comes: its snapshot.
run "$CLI" set unix:uid=$A early yes
expect_status 0 "set early"

# The host's subscriber (uid 0: a host peer) and a spy of B's uid.
bg host_sub "$HVRPC" sub "$BUS" 'private.>'
bg spy_b setpriv --reuid=$B --regid=$B --clear-groups "$PUBCLI" sub "$BUS" '>'
bg guest_a setpriv --reuid=$A --regid=$A --clear-groups "$GUEST" --no-facts \
    --fact owner=a --interval 0 --bus "$BUS"
GA=$BG_PID
bg guest_b setpriv --reuid=$B --regid=$B --clear-groups "$GUEST" --no-facts \
    --fact owner=b --interval 0 --bus "$BUS"
GB=$BG_PID
for w in guest_a guest_b; do
    wait_line "$TMP/$w.out" "synced" 20 || fail "$w: no synced: $(cat "$TMP/$w.out" "$TMP/$w.err")"
    grep -qxF "hvrpc-kvp-guest: following private.self.kvp.> on $BUS" "$TMP/$w.out" ||
        fail "$w does not follow the bus: $(cat "$TMP/$w.out")"
done
for s in host_sub spy_b; do
    for ((i = 0; i < 200; i++)); do
        grep -q subscribed "$TMP/$s.err" && break
        sleep 0.05
    done
    grep -q subscribed "$TMP/$s.err" || fail "$s did not subscribe: $(cat "$TMP/$s.err")"
done
# The snapshot came before synced.
[ "$(grep -n -xF 'set early=yes' "$TMP/guest_a.out" | cut -d: -f1)" \
    -lt "$(grep -n -xF synced "$TMP/guest_a.out" | cut -d: -f1)" ] 2>/dev/null ||
    fail "A's snapshot: $(cat "$TMP/guest_a.out")"

# Changes reach the right guest.
run "$CLI" set unix:uid=$A color blue
expect_status 0 "set A color"
wait_line "$TMP/guest_a.out" "set color=blue" || fail "A did not get color=blue: $(cat "$TMP/guest_a.out")"
run "$CLI" set unix:uid=$A color green
wait_line "$TMP/guest_a.out" "set color=green" || fail "A did not get color=green"
run "$CLI" del unix:uid=$A color
expect_status 0 "del A color"
wait_line "$TMP/guest_a.out" "deleted color" || fail "A did not get deleted color"
run "$CLI" set unix:uid=$B shape round
wait_line "$TMP/guest_b.out" "set shape=round" || fail "B did not get shape=round: $(cat "$TMP/guest_b.out")"

# Guest B cannot publish into A's space (nor could its spy read it).
run setpriv --reuid=$B --regid=$B --clear-groups "$PUBCLI" pub "$BUS" \
    "private.uid:$A.kvp.set" -d evil -H key:color
expect_status 7 "B publishing in A's space"
expect_err "PERMISSION_DENIED" "B publishing in A's space"

# A last change for B: once B's spy has it, everything before it was
# offered to the spy too (the broker's order).
run "$CLI" set unix:uid=$B marker 1
wait_line "$TMP/guest_b.out" "set marker=1" || fail "B did not get marker=1"
for ((i = 0; i < 200; i++)); do
    grep -q " private.uid:$B.kvp.set .* 1$" "$TMP/spy_b.out" && break
    sleep 0.05
done
grep -q " private.uid:$B.kvp.set .* 1$" "$TMP/spy_b.out" ||
    fail "B's spy did not see B's own events: $(cat "$TMP/spy_b.out")"
! grep -q "uid:$A" "$TMP/spy_b.out" || fail "B's spy saw A's events: $(cat "$TMP/spy_b.out")"
! grep -qE "color|early|evil" "$TMP/guest_b.out" || fail "B saw A's keys: $(cat "$TMP/guest_b.out")"
! grep -q "evil" "$TMP/guest_a.out" || fail "A took B's forged event: $(cat "$TMP/guest_a.out")"
! grep -qE "shape|marker" "$TMP/guest_a.out" || fail "A saw B's keys: $(cat "$TMP/guest_a.out")"

# The host's subscriber saw both guests' events, with the values.
for want in " private.uid:$A.kvp.set .* blue$" " private.uid:$A.kvp.delete " \
    " private.uid:$B.kvp.set .* round$"; do
    grep -q -- "$want" "$TMP/host_sub.out" || fail "the host's subscriber lacks '$want': $(cat "$TMP/host_sub.out")"
done
# Through the bus, not a Watch stream.
! grep -q "watch from" "$TMP/host.log" || fail "a guest used Watch: $(cat "$TMP/host.log")"

stop_bg "$GA"
stop_bg "$GB"
stop_host
kill -TERM "$BUS_PID"
wait "$BUS_PID"
finish
