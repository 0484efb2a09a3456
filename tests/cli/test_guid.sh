# hvrpc guid: port <-> VSOCK-template GUID, VmId names, non-template GUIDs.
# shellcheck source=tests/cli/lib.sh
source "$(dirname "$0")/lib.sh"

# guid_ok INPUT OUTPUT
guid_ok() {
    run "$HVRPC" guid "$1"
    expect_status 0 "guid $1"
    expect_out "$2" "guid $1"
    [ -s "$TMP/err" ] && fail "guid $1: stderr: $(cat "$TMP/err")"
}

guid_ok 2761 00000ac9-facb-11e6-bd58-64006a7986d3
guid_ok 00000ac9-facb-11e6-bd58-64006a7986d3 2761
guid_ok '{00000AC9-FACB-11E6-BD58-64006A7986D3}' 2761
guid_ok 0 00000000-facb-11e6-bd58-64006a7986d3
guid_ok 5000 00001388-facb-11e6-bd58-64006a7986d3
guid_ok 4294967295 ffffffff-facb-11e6-bd58-64006a7986d3
guid_ok ffffffff-facb-11e6-bd58-64006a7986d3 4294967295
guid_ok parent a42e7cda-d03f-480c-9cc2-a4de20abb878
guid_ok CHILDREN 90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd
guid_ok loopback e0e16197-dd56-4a10-9195-5ee7a155a838
guid_ok silohost 36bd0c5c-7276-4223-88ba-7d03b654c568
guid_ok broadcast ffffffff-ffff-ffff-ffff-ffffffffffff
guid_ok wildcard 00000000-0000-0000-0000-000000000000
guid_ok zero 00000000-0000-0000-0000-000000000000

# Every port survives the round trip.
for port in 1 1024 2761 65535 65536 123456789; do
    run "$HVRPC" guid "$port"
    guid=$(cat "$TMP/out")
    run "$HVRPC" guid "$guid"
    expect_out "$port" "guid round trip $port via $guid"
done

# A GUID outside the template: canonical form on stdout, exit 1, one line
# on stderr saying so (and naming a known VmId).
run "$HVRPC" guid '{90DB8B89-0D35-4F79-8CE9-49EA0AC8B7CD}'
expect_status 1 "guid of children's GUID"
expect_out 90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd "guid of children's GUID"
expect_err_line "not a VSOCK-template GUID.*children" "guid of children's GUID"
run "$HVRPC" guid 12345678-9ABC-def0-1234-56789abcdef0
expect_status 1 "guid non-template"
expect_out 12345678-9abc-def0-1234-56789abcdef0 "guid non-template"
expect_err_line "not a VSOCK-template GUID" "guid non-template"

usage_error "guid too large a port" guid 4294967296
usage_error "guid negative port" guid -5
usage_error "guid word" guid nope
usage_error "guid short GUID" guid 00000ac9-facb-11e6-bd58-64006a7986d
usage_error "guid empty" guid ''
usage_error "guid missing" guid
usage_error "guid two" guid 1 2

finish
