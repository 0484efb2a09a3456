#!/usr/bin/env bash
# test_protoc_agreement.sh JSON_CONV PROTOSET PROTO_DIR: for each message
# below (in protobuf text format), protoc --encode makes the bytes; the
# transcoder turns them into JSON and back, and must give the same bytes;
# its text format must be what protoc --decode prints, byte for byte; and
# its text-format parser must make protoc's bytes from the same text.
set -u
CONV=${1:?usage: $0 JSON_CONV PROTOSET PROTO_DIR}
SET=${2:?}
PROTO_DIR=${3:?}
PROTOC=${HVRPC_PROTOC:-protoc}
INC=${HVRPC_PROTOBUF_INCLUDE:-/usr/include}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/hvrpc-json.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
FAILURES=0
N=0

protoc_() {
    "$PROTOC" -I "$PROTO_DIR" -I "$INC" "$@" hvrpc/test/v1/all.proto
}

# from_text TYPE TEXT: the text parser gives the bytes protoc gave for
# TEXT ($TMP/a.bin).
from_text() {
    if ! printf '%s\n' "$2" | "$CONV" "$SET" "hvrpc.test.v1.$1" from-text \
        >"$TMP/t.bin" 2>"$TMP/err"; then
        echo "FAIL case $N ($1): text parser: $(cat "$TMP/err")"
        echo "  text: $2"
        FAILURES=$((FAILURES + 1))
    elif ! cmp -s "$TMP/a.bin" "$TMP/t.bin"; then
        echo "FAIL case $N ($1): text parser's bytes differ from protoc --encode"
        echo "  text: $2"
        echo "  protoc: $(xxd -p "$TMP/a.bin" | tr -d '\n')"
        echo "  ours:   $(xxd -p "$TMP/t.bin" | tr -d '\n')"
        FAILURES=$((FAILURES + 1))
    fi
}

# text_agrees TYPE TEXT: only the text parser against protoc --encode, for
# the text format's own syntax (lists, <>, comments, escapes, numbers).
text_agrees() {
    N=$((N + 1))
    if ! printf '%s\n' "$2" | protoc_ --encode="hvrpc.test.v1.$1" >"$TMP/a.bin" 2>"$TMP/err"; then
        echo "FAIL case $N ($1): protoc --encode: $(cat "$TMP/err")"
        FAILURES=$((FAILURES + 1))
        return
    fi
    from_text "$1" "$2"
}

# agree TYPE TEXT
agree() {
    local type=hvrpc.test.v1.$1 text=$2
    N=$((N + 1))
    if ! printf '%s\n' "$text" | protoc_ --encode="$type" >"$TMP/a.bin" 2>"$TMP/err"; then
        echo "FAIL case $N ($1): protoc --encode: $(cat "$TMP/err")"
        FAILURES=$((FAILURES + 1))
        return
    fi
    from_text "$1" "$text"
    if ! "$CONV" "$SET" "$type" to-json <"$TMP/a.bin" >"$TMP/a.json" 2>"$TMP/err" ||
        ! "$CONV" "$SET" "$type" from-json <"$TMP/a.json" >"$TMP/b.bin" 2>>"$TMP/err"; then
        echo "FAIL case $N ($1): transcoder: $(cat "$TMP/err")"
        FAILURES=$((FAILURES + 1))
        return
    fi
    if ! cmp -s "$TMP/a.bin" "$TMP/b.bin"; then
        echo "FAIL case $N ($1): bytes differ after JSON round trip"
        echo "  text: $text"
        echo "  json: $(tr -d '\n' <"$TMP/a.json")"
        echo "  protoc: $(xxd -p "$TMP/a.bin" | tr -d '\n')"
        echo "  ours:   $(xxd -p "$TMP/b.bin" | tr -d '\n')"
        FAILURES=$((FAILURES + 1))
    fi
    protoc_ --decode="$type" <"$TMP/a.bin" >"$TMP/want.txt"
    "$CONV" "$SET" "$type" to-text <"$TMP/a.bin" >"$TMP/got.txt"
    if ! cmp -s "$TMP/want.txt" "$TMP/got.txt"; then
        echo "FAIL case $N ($1): text format differs from protoc --decode"
        diff "$TMP/want.txt" "$TMP/got.txt" | head -20
        FAILURES=$((FAILURES + 1))
    fi
}

agree Scalars 'f_double: 0.1 f_float: 0.1 f_int64: -9223372036854775808 f_uint64: 18446744073709551615 f_int32: -2147483648 f_fixed64: 18446744073709551615 f_fixed32: 4294967295 f_bool: true f_string: "héllo \"q\" \n\t\\" f_bytes: "\000\001\377abc" f_uint32: 4294967295 f_enum: COLOR_RED f_sfixed32: -5 f_sfixed64: -6 f_sint32: -7 f_sint64: -8'
agree Scalars 'f_double: 1e+300 f_float: 3.4028235e+38 f_int64: 9223372036854775807 f_int32: 2147483647 f_sint32: 2147483647 f_sint64: -9223372036854775808 f_enum: COLOR_NEGATIVE'
agree Scalars 'f_float: -1.5 f_double: 123456789.123456789 f_string: "日本語"'
agree Scalars 'f_double: inf f_float: -inf'
agree Scalars 'f_double: nan'
agree Scalars 'f_enum: 7'
agree Scalars ''
agree Repeated 'r_double: [1.5, -2, 0] r_float: [0.25] r_int64: [1, -1] r_uint64: [18446744073709551615] r_int32: [-1, 0, 1] r_fixed64: [1] r_fixed32: [2] r_bool: [true, false] r_string: ["a", "", "c"] r_bytes: ["x", ""] r_uint32: [3] r_enum: [COLOR_RED, COLOR_UNSPECIFIED, COLOR_NEGATIVE] r_sfixed32: [-1] r_sfixed64: [-2] r_sint32: [-3, 3] r_sint64: [-4] items { name: "a" count: 1 } items { } items { count: -1 } unpacked: [1, 2, 3]'
agree Maps 'labels { key: "b" value: "2" } labels { key: "a" value: "1" } labels { key: "" value: "" } by_id { key: -1 value { name: "neg" } } by_id { key: 5 } flags { key: true value: -1 } flags { key: false value: 0 } colors { key: 18446744073709551615 value: COLOR_GREEN } blobs { key: -2 value: "\377" }'
agree Presence 'maybe: 0 text: ""'
agree Presence 'number: 0 sub { } renamed: "x"'
agree Presence 'item { name: "i" } maybe: -3'
agree WellKnown 'at { seconds: 1714564800 nanos: 500000000 } took { seconds: -1 nanos: -500000000 } i32 { value: -5 } i64 { value: 9007199254740993 } u32 { value: 7 } u64 { value: 18446744073709551615 } f { value: 1.5 } d { value: 0.1 } b { value: true } s { value: "s" } by { value: "\001" }'
agree WellKnown 'at { } took { } i32 { } b { } s { } empty { } mask { paths: "f_int32" paths: "a.b_c" }'
agree WellKnown 'at { seconds: -62135596800 } times { seconds: 253402300799 nanos: 999999999 } times { nanos: 1000 } took { seconds: 315576000000 }'
agree WellKnown 'st { fields { key: "a" value { number_value: 1.5 } } fields { key: "b" value { list_value { values { string_value: "x" } values { bool_value: true } values { null_value: NULL_VALUE } values { struct_value { } } } } } } v { struct_value { fields { key: "k" value { number_value: -2 } } } } lv { values { number_value: 3 } }'
agree WellKnown 'v { null_value: NULL_VALUE }'
agree WellKnown 'v { string_value: "" }'
agree WellKnown 'any { type_url: "type.googleapis.com/hvrpc.test.v1.Item" value: "\n\001a\020\002" }'
agree WellKnown 'any { type_url: "type.googleapis.com/google.protobuf.Duration" value: "\010\001" }'
agree Nested 'child { child { child { depth: 3 } depth: 2 } depth: 1 }'

# The text format's syntax, each form once.
text_agrees Scalars 'f_int32: 0x7fffffff f_int64: -0x8000000000000000 f_uint32: 017 f_uint64: 0xFFFFFFFFFFFFFFFF f_sint32: -0'
text_agrees Scalars 'f_double: 1e-5 f_float: 1.5f f_bool: True f_enum: -1 f_fixed32: 0 f_sfixed64: -9223372036854775808'
text_agrees Scalars 'f_double: -Infinity f_float: NaN f_bool: t'
text_agrees Scalars 'f_double: 10 f_float: 7 f_bool: 1'
text_agrees Scalars 'f_double: .5 f_float: 3.5e+38'
text_agrees Scalars 'f_double: 18446744073709551616 f_float: -1E3F'
text_agrees Scalars "f_string: 'single \"quoted\"' f_bytes: \"\\x41\\x4g\\101\\0\\a\\b\\f\\v\\?\\'\""
text_agrees Scalars 'f_string: "a" '"'b'"' "c" f_bytes: "" "\377"'
text_agrees Scalars 'f_string: "\u00e9\U0001F600\u0041"'
text_agrees Scalars '# a comment
f_int32: 1 # another
  f_string: "x#y", f_bool: false; f_enum: COLOR_GREEN ;'
text_agrees Repeated 'r_int32: [] r_int32: 1 r_int32: [2, 3] r_int32: 4 r_string: ["a", "b" "c"] r_enum: [COLOR_RED, 2, -1]'
text_agrees Repeated 'items [{name: "a"}, <count: 2>, {}] items: { name: "b" } items < > unpacked: [5, 6] unpacked: 7'
text_agrees Repeated 'r_double: [inf, -inf, 1, -0.0] r_bool: [t, f, True, 0] r_bytes: ["\000"]'
text_agrees Maps 'labels: [{key: "k" value: "v"}, {key: "j"}] by_id < key: 1 value < name: "x" > > by_id { value {} }'
text_agrees Maps 'flags { value: 0 } colors { key: 0 value: COLOR_UNSPECIFIED } blobs { }'
text_agrees Presence 'maybe: 0 item: {}'
text_agrees Presence 'text: "" sub: { name: "" }'
text_agrees WellKnown 'any { [type.googleapis.com/hvrpc.test.v1.Item] { name: "a" count: 2 } }'
text_agrees WellKnown 'any: { [type.googleapis.com/google.protobuf.Duration]: < seconds: 1 > } null_value: NULL_VALUE'
text_agrees WellKnown 'any { [type.googleapis.com/google.protobuf.Empty] {} } times [{}, {seconds: 1}]'
text_agrees Nested 'child < child { child: { depth: -1 } } >'

if [ "$FAILURES" -ne 0 ]; then
    echo "$FAILURES of $N cases failed"
    exit 1
fi
echo "all $N cases agree with protoc"
