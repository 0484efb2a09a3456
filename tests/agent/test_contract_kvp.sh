# The KVP service's contract (services/kvp/contract/kvp.contract.json):
# what a guest's hvrpc-kvp-guest relies on from hvrpc-kvp-host. Verified
# against a live host (after its admin set role=web for the guest), then
# served as a mock to hvrpc-kvp-guest (no host at all), and its schema
# checked against kvp.proto. A host without the key fails verification.
. "$(dirname "$0")/lib.sh"

[ -n "$KVP_BIN" ] || {
    echo "usage: $0 AGENT_BIN_DIR HVRPC SOURCE_DIR KVP_BIN_DIR" >&2
    exit 2
}
CONTRACT=$SRC/services/kvp/contract/kvp.contract.json
KVP=unix://$TMP/kvp.sock
ADMIN=unix://$TMP/admin.sock
MOCK=unix://$TMP/mock.sock
ME=unix:uid=$(id -u)

# The contract's values say uid 0 where they are not matchers; the
# matchers accept any uid, so this runs as anyone.
bg host "$KVP_BIN/hvrpc-kvp-host" --db "$TMP/kvp.db" --listen "$KVP" --admin "$ADMIN"
HOST_PID=$BG_PID
wait_grep "$TMP/host.out" '^hvrpc-kvp-host: store ' || fail "hvrpc-kvp-host: $(cat "$TMP/host.err")"

# Without the host key the guest relies on: caught, with the field.
run "$HVRPC" contract verify "$CONTRACT" "$KVP" --quiet
expect_status 1 "verify before the admin set role"
grep -q '^FAIL 2 a host-set key, read by the guest (Read)' "$TMP/out" || fail "verify: $(cat "$TMP/out")"

run "$KVP_BIN/hvrpc-kvp" --admin "$ADMIN" set "$ME" role web
expect_status 0 "admin set role"
run "$HVRPC" contract verify "$CONTRACT" "$KVP"
expect_status 0 "verify against hvrpc-kvp-host"
expect_out "5 interactions of hvrpc.kvp.v1.Kvp: 5 ok, 0 failed (0 mismatches)" "verify"
stop_bg "$HOST_PID" "hvrpc-kvp-host"

# Mock: the guest program against the contract alone.
bg mock "$HVRPC" contract serve "$CONTRACT" --listen "$MOCK"
MOCK_PID=$BG_PID
wait_grep "$TMP/mock.out" '^listening on ' || fail "mock did not start: $(cat "$TMP/mock.err")"
export HVRPC_HVRPC_KVP_V1_KVP_ADDR=$MOCK
run "$KVP_BIN/hvrpc-kvp-guest" --once --no-facts --fact hostname=web1 --fact os.id=debian
expect_status 0 "report to the mock"
expect_out "hvrpc-kvp-guest: reported 2 facts to the host as unix:uid=0 (2 keys)" "report to the mock"
run "$KVP_BIN/hvrpc-kvp-guest" --get role
expect_status 0 "get role from the mock"
expect_out web "get role from the mock"
run "$KVP_BIN/hvrpc-kvp-guest" --get color
expect_status 5 "get a missing key from the mock"
# The watching guest: its snapshot from the mock's script.
bg guest "$KVP_BIN/hvrpc-kvp-guest" --no-facts --fact hostname=web1 --fact os.id=debian --interval 0
GUEST_PID=$BG_PID
wait_grep "$TMP/guest.out" '^synced$' || fail "the guest's watch: $(cat "$TMP/guest.out")"
grep -qx 'set role=web' "$TMP/guest.out" || fail "the guest's watch: $(cat "$TMP/guest.out")"
stop_bg "$GUEST_PID" "hvrpc-kvp-guest"
kill -TERM "$MOCK_PID"
wait "$MOCK_PID"
STATUS=$?
expect_status 0 "the mock saw no unexpected call"

run "$HVRPC" contract check "$CONTRACT" "$SRC/proto/hvrpc/kvp/v1/kvp.proto" -I "$SRC/proto"
expect_status 0 "contract check against kvp.proto"
finish
