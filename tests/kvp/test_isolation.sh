# Two guests (two uids: the identity of a unix peer) cannot see or
# overwrite each other's pools; guests cannot reach the admin service,
# neither through their endpoint nor through the admin socket.
. "$(dirname "$0")/lib.sh"

if [ "$(id -u)" -ne 0 ]; then
    echo "needs root (two guests need two uids)"
    exit 77
fi
A=60001
B=60002
start_host || finish
# Guests of other uids may reach the guests' socket (as any guest may
# reach vsock port 5003); the admin socket too, to show the allow list.
chmod 666 "$TMP/kvp.sock" "$TMP/admin.sock"
# The guests run as other uids, which may not reach the build tree (a
# private home such as /root): they get copies of the programs and of
# libhvrpc in a directory they can read.
PUB=$TMP/pub
mkdir -p "$PUB"
cp "$GUEST" "$CLI" "$PUB/"
lib=$(ldd "$GUEST" | sed -n 's/.*libhvrpc\.so[^ ]* => \([^ ]*\).*/\1/p')
[ -n "$lib" ] && cp -L "$lib" "$PUB/"
chmod 755 "$PUB" "$PUB"/*
export LD_LIBRARY_PATH=$PUB
GUEST=$PUB/hvrpc-kvp-guest
GUEST_CLI=$PUB/hvrpc-kvp

run as_uid $A "$GUEST" --once --no-facts --fact owner=a --fact secret=a-only
expect_status 0 "guest A report"
run as_uid $B "$GUEST" --once --no-facts --fact owner=b
expect_status 0 "guest B report"
grep -q "as unix:uid=$B " "$TMP/out" || fail "B filed as: $(cat "$TMP/out")"

run "$CLI" list unix:uid=$A
[ "$(cat "$TMP/out")" = "$(printf 'owner=a\nsecret=a-only')" ] || fail "A's pool: $(cat "$TMP/out")"
run "$CLI" list unix:uid=$B
[ "$(cat "$TMP/out")" = "owner=b" ] || fail "B's pool: $(cat "$TMP/out")"

# Host-to-guest keys: each guest reads only its own.
run "$CLI" set unix:uid=$A token for-a
expect_status 0 "set A"
run as_uid $A "$GUEST" --get token
expect_status 0 "A reads its key"
expect_out "for-a" "A reads its key"
run as_uid $B "$GUEST" --get token
expect_status 5 "B cannot read A's key"
expect_err "NOT_FOUND" "B cannot read A's key"

# A watching B sees nothing of A's keys.
bg watch_b setpriv --reuid=$B --regid=$B --clear-groups "$GUEST" --no-facts --fact owner=b
WB=$BG_PID
wait_line "$TMP/watch_b.out" "synced" || fail "B's watch: $(cat "$TMP/watch_b.err")"
run "$CLI" set unix:uid=$A another for-a-too
sleep 0.4
! grep -q "for-a" "$TMP/watch_b.out" || fail "B saw A's keys: $(cat "$TMP/watch_b.out")"
stop_bg "$WB"

# The admin service is not on the guests' endpoint.
run env HVRPC_HVRPC_KVP_V1_KVP_ADMIN_ADDR=unix://$TMP/kvp.sock "$CLI" set unix:uid=$B token x
expect_status 12 "KvpAdmin through the guests' endpoint"
expect_err "UNIMPLEMENTED" "KvpAdmin through the guests' endpoint"
# Another uid is refused at the admin socket's accept (the allow list).
run as_uid $A "$GUEST_CLI" set unix:uid=$B token x
expect_status 14 "admin socket as uid $A"
run "$CLI" get unix:uid=$B token --pool host
expect_status 5 "B has no token after the refused calls"

stop_host
finish
