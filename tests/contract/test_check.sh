#!/bin/bash
# test_check.sh - `hvrpc contract check OLD NEW` on a table of edits to
# tests/contract/protos/base.proto: every wire-breaking change detected
# with its message, compatible ones accepted; descriptor sets, .proto
# files and contracts as inputs.
#
# Usage: bash test_check.sh HVRPC_BINARY SOURCE_DIR
source "$(dirname "$0")/../cli/lib.sh"

BASE=$SRC/tests/contract/protos/base.proto
mkdir -p "$TMP/old/ct" "$TMP/new/ct"
cp "$BASE" "$TMP/old/ct/svc.proto"

# edit NAME SED_SCRIPT: the new version of the proto.
edit() {
    sed -e "$1" "$BASE" >"$TMP/new/ct/svc.proto"
}

# breaking WHAT SED PATTERN: the edit is reported BREAKING (ERE), exit 1.
breaking() {
    edit "$2"
    run "$HVRPC" contract check "$TMP/old/ct/svc.proto" "$TMP/new/ct/svc.proto" \
        -I "$TMP/old" -I "$SRC/proto"
    expect_status 1 "$1"
    grep -Eq -- "^BREAKING: $3" "$TMP/out" || fail "$1: no /BREAKING: $3/ in: $(cat "$TMP/out" "$TMP/err")"
}

# compatible WHAT SED [PATTERN]: exit 0, no BREAKING line (and an "ok:"
# line matching PATTERN when given).
compatible() {
    edit "$2"
    run "$HVRPC" contract check "$TMP/old/ct/svc.proto" "$TMP/new/ct/svc.proto" \
        -I "$TMP/old" -I "$SRC/proto"
    expect_status 0 "$1"
    grep -q '^BREAKING' "$TMP/out" && fail "$1: reported breaking: $(cat "$TMP/out")"
    if [ $# -ge 3 ]; then
        grep -Eq -- "^ok: $3" "$TMP/out" || fail "$1: no /ok: $3/ in: $(cat "$TMP/out")"
    fi
}

breaking "removed method" '/rpc Watch/d' 'ct\.v1\.Svc/Watch removed$'
breaking "changed vsock port" 's/vsock_port) = 4000/vsock_port) = 4001/' \
    'ct\.v1\.Svc: endpoint changed: vsock_port 4000 -> 4001$'
breaking "explicit service GUID" \
    's/option (hvrpc.vsock_port) = 4000;/option (hvrpc.service_guid) = "11111111-2222-3333-4444-555555555555";/' \
    'ct\.v1\.Svc: endpoint changed: service GUID 00000fa0-facb-11e6-bd58-64006a7986d3 -> 11111111-2222-3333-4444-555555555555$'
breaking "changed field number" 's/int32 count = 2;/int32 count = 5;/' \
    'ct\.v1\.Req\.count: field number changed 2 -> 5 \(in ct\.v1\.Svc/Get.s request\)$'
breaking "changed field type" 's/string name = 1;/int64 name = 1;/' \
    'ct\.v1\.Req\.name \(1\): type changed string -> int64'
breaking "changed nested field type" 's/uint64 id = 1;/string id = 1;/' \
    'ct\.v1\.Inner\.id \(1\): type changed uint64 -> string'
breaking "changed message field type" 's/Inner inner = 3;/Other inner = 3;/' \
    'ct\.v1\.Req\.inner \(3\): type changed ct\.v1\.Inner -> ct\.v1\.Other'
breaking "removed field" '/repeated string tags = 4;/d' \
    'ct\.v1\.Req\.tags \(4\) removed without reserving its number'
breaking "changed cardinality" 's/repeated string tags = 4;/string tags = 4;/' \
    'ct\.v1\.Req\.tags \(4\): cardinality changed repeated -> singular'
breaking "changed response type" 's/rpc Get(Req) returns (Rep);/rpc Get(Req) returns (Other);/' \
    'ct\.v1\.Svc/Get: response type changed ct\.v1\.Rep -> ct\.v1\.Other$'
breaking "changed request type" 's/rpc Get(Req) returns (Rep);/rpc Get(Other) returns (Rep);/' \
    'ct\.v1\.Svc/Get: request type changed ct\.v1\.Req -> ct\.v1\.Other$'
breaking "changed streaming kind" 's/returns (stream Rep)/returns (Rep)/' \
    'ct\.v1\.Svc/Watch: kind changed server streaming -> unary$'
breaking "removed service" 's/^service Svc {/service Svc2 {/' 'service ct\.v1\.Svc removed$'

compatible "unchanged" 's/x/x/'
compatible "added field" 's/string text = 1;/string text = 1;\n  string extra = 9;/'
compatible "added method" 's/rpc Get(Req) returns (Rep);/&\n  rpc Put(Req) returns (Rep);/' \
    'ct\.v1\.Svc/Put added$'
compatible "renamed field" 's/string name = 1;/string title = 1;/' \
    'ct\.v1\.Req: field 1 renamed name -> title'
compatible "widened integer" 's/int32 count = 2;/int64 count = 2;/' \
    'ct\.v1\.Req\.count \(2\): type changed int32 -> int64 \(same wire encoding'
compatible "removed field, number reserved" 's/repeated string tags = 4;/reserved 4;/' \
    'ct\.v1\.Req\.tags \(4\) removed, its number reserved$'
compatible "changed friendly name" 's/contract check test/another name/'

# Descriptor sets (protoc --descriptor_set_out) as inputs.
edit 's/int32 count = 2;/int32 count = 5;/'
"$PROTOC" -I "$TMP/old" -I "$SRC/proto" -I "$PROTOBUF_INCLUDE" --include_imports \
    --descriptor_set_out="$TMP/old.protoset" ct/svc.proto
"$PROTOC" -I "$TMP/new" -I "$SRC/proto" -I "$PROTOBUF_INCLUDE" --include_imports \
    --descriptor_set_out="$TMP/new.protoset" ct/svc.proto
run "$HVRPC" contract check "$TMP/old.protoset" "$TMP/new.protoset"
expect_status 1 "descriptor sets"
grep -q '^BREAKING: ct.v1.Req.count: field number changed 2 -> 5' "$TMP/out" ||
    fail "descriptor sets: $(cat "$TMP/out")"
grep -q '^1 service compared: 1 breaking change$' "$TMP/out" ||
    fail "descriptor sets summary: $(cat "$TMP/out")"
run "$HVRPC" contract check "$TMP/old.protoset" "$TMP/old.protoset"
expect_status 0 "the same descriptor set"
run "$HVRPC" contract check "$TMP/old.protoset" "$TMP/new.protoset" --service ct.v1.Nope
expect_status 5 "an unknown --service"
usage_error "check with one operand" contract check "$TMP/old.protoset"

# A contract's embedded schema against a newer .proto of its service.
python3 - "$TMP/old.protoset" "$TMP/c.json" <<'PY'
import base64, json, sys
blob = base64.b64encode(open(sys.argv[1], "rb").read()).decode()
json.dump({"hvrpcContract": 1, "service": "ct.v1.Svc", "interactions": [],
           "schema": {"descriptorSet": blob}}, open(sys.argv[2], "w"))
PY
run "$HVRPC" contract check "$TMP/c.json" "$TMP/new/ct/svc.proto" -I "$TMP/new" -I "$SRC/proto"
expect_status 1 "a contract against a new .proto"
grep -q '^BREAKING: ct.v1.Req.count: field number changed 2 -> 5' "$TMP/out" ||
    fail "contract vs proto: $(cat "$TMP/out" "$TMP/err")"
finish
