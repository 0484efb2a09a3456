/*
 * test_text.c - the text-format parser (hvrpc_json_text_to_binary): every
 * error names the line, the column and the field path; what it accepts
 * reads back as the JSON it means. (Agreement with protoc --encode, byte
 * for byte, is test_protoc_agreement.sh.)
 *
 *   test_text ALL.PROTOSET
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hvrpc_json.h"
#include "test_pool.h"

#define PKG "hvrpc.test.v1."

static hvrpc_json_pool *pool;

/* The text must fail with INVALID_ARGUMENT and exactly `want`. */
static void fails(const char *type, const char *text, const char *want)
{
    hvrpc_buf bin = {NULL, 0};
    hvrpc_status st;
    hvrpc_code code =
        hvrpc_json_text_to_binary(pool, type, text, strlen(text), &bin, &st);

    CHECK_INT(code, HVRPC_INVALID_ARGUMENT);
    CHECK_STR(st.message, want);
    CHECK(bin.data == NULL);
}

/* Text -> bytes -> compact JSON, which must be `want`. */
static void reads_as(const char *type, const char *text, const char *want)
{
    hvrpc_buf bin = {NULL, 0};
    hvrpc_status st;
    char *json = NULL;
    hvrpc_code code =
        hvrpc_json_text_to_binary(pool, type, text, strlen(text), &bin, &st);

    if (code != HVRPC_OK)
        fprintf(stderr, "text_to_binary(%s): %s\n", text, st.message);
    CHECK_INT(code, HVRPC_OK);
    if (code != HVRPC_OK)
        return;
    CHECK_INT(hvrpc_json_from_binary(pool, type, bin.data, bin.len,
                                     HVRPC_JSON_COMPACT, &json, &st),
              HVRPC_OK);
    CHECK_STR(json, want);
    free(json);
    hvrpc_buf_free(&bin);
}

static void test_accepted(void)
{
    reads_as(PKG "Scalars", "", "{}");
    reads_as(PKG "Scalars", "  # only a comment\n", "{}");
    reads_as(PKG "Scalars", "f_int32: 0x10 f_uint32: 010 f_string: 'it''s'",
             "{\"fInt32\":16,\"fString\":\"its\",\"fUint32\":8}");
    reads_as(PKG "Repeated", "items { name: \"a\" }\nitems [<count: 2>]",
             "{\"items\":[{\"name\":\"a\"},{\"count\":2}]}");
    reads_as(PKG "Maps", "labels { key: \"k\" value: \"v\" }",
             "{\"labels\":{\"k\":\"v\"}}");
    reads_as(PKG "Presence", "maybe: 0", "{\"maybe\":0}");
    /* Not the default in a proto3 field without presence: nothing sent. */
    reads_as(PKG "Scalars", "f_int32: 0 f_string: \"\"", "{}");
    reads_as(PKG "WellKnown",
             "any { [type.googleapis.com/hvrpc.test.v1.Item] { name: "
             "\"x\" } }",
             "{\"any\":{\"@type\":\"type.googleapis.com/"
             "hvrpc.test.v1.Item\",\"name\":\"x\"}}");
}

static void test_errors(void)
{
    fails(PKG "Scalars", "f_int32: 1\n  nope: 2",
          "line 2, column 3: unknown field 'nope' in hvrpc.test.v1.Scalars "
          "(fields: f_double, f_float, f_int64, f_uint64, f_int32, "
          "f_fixed64, f_fixed32, f_bool, f_string, f_bytes, f_uint32, "
          "f_enum, f_sfixed32, f_sfixed64, f_sint32, f_sint64)");
    fails(PKG "Repeated", "items [{name: \"a\"},\n {count: 3000000000}]",
          "line 2, column 10: items[1].count: 3000000000 is out of range for "
          "int32");
    fails(PKG "Maps", "by_id { key: 1 value { count: x } }",
          "line 1, column 31: by_id[0].value.count: expected an integer "
          "(int32), got 'x'");
    fails(PKG "Scalars", "f_uint64: -1",
          "line 1, column 12: f_uint64: -1 is out of range for uint64 (it is "
          "unsigned)");
    fails(PKG "Scalars", "f_int64: 9223372036854775808",
          "line 1, column 10: f_int64: 9223372036854775808 is out of range "
          "for int64");
    fails(PKG "Scalars", "f_uint64: 18446744073709551616",
          "line 1, column 11: f_uint64: 18446744073709551616 is out of range "
          "for uint64");
    fails(PKG "Scalars", "f_int32: 1.5",
          "line 1, column 10: f_int32: expected an integer (int32), got "
          "'1.5'");
    fails(PKG "Scalars", "f_float: 0x10",
          "line 1, column 10: f_float: expected a decimal number, got 0x10 "
          "(hex and octal are for integer fields)");
    fails(
        PKG "Scalars", "f_int32: 09",
        "line 1, column 10: f_int32: '9' is not an octal digit (a number that "
        "starts with 0 is octal)");
    fails(PKG "Scalars", "f_int32: 12abc",
          "line 1, column 10: f_int32: 'a' right after a number: put a space "
          "between "
          "them");
    fails(PKG "Scalars", "f_bool: yes",
          "line 1, column 9: f_bool: expected bool (true or false), got "
          "'yes'");
    fails(PKG "Scalars", "f_enum: COLOR_BLUE",
          "line 1, column 9: f_enum: 'COLOR_BLUE' is not a value of enum "
          "hvrpc.test.v1.Color (values: COLOR_UNSPECIFIED, COLOR_RED, "
          "COLOR_GREEN, COLOR_NEGATIVE)");
    fails(PKG "Scalars", "f_string: x",
          "line 1, column 11: f_string: expected a quoted string (string), "
          "got 'x'");
    fails(PKG "Scalars", "f_string: \"abc\nf_int32: 1",
          "line 1, column 11: f_string: unterminated string (strings end on "
          "the line "
          "they start; join lines with \"a\" \"b\")");
    fails(PKG "Scalars", "f_bytes: \"\\q\"",
          "line 1, column 10: f_bytes: unknown escape '\\q'");
    fails(PKG "Scalars", "f_bytes: \"\\400\"",
          "line 1, column 10: f_bytes: octal escape \\400 is over \\377");
    fails(PKG "Scalars", "f_string: \"\\ud800\"",
          "line 1, column 11: f_string: \\ud800 is not a Unicode code point");
    fails(PKG "Scalars", "f_int32 1",
          "line 1, column 9: f_int32: expected ':' after f_int32 (a int32), "
          "got '1'");
    fails(PKG "Scalars", "f_int32: 1 f_int32: 2",
          "line 1, column 12: f_int32: field f_int32 is given twice (it is "
          "not repeated)");
    fails(PKG "Scalars", "f_int32: [1]",
          "line 1, column 10: f_int32: a list ('[') is only for repeated "
          "fields; f_int32 is not repeated");
    fails(PKG "Repeated", "r_int32: [1 2]",
          "line 1, column 13: r_int32: expected ',' or ']' in the list, got "
          "'2'");
    fails(PKG "Presence", "text: \"a\"\nnumber: 1",
          "line 2, column 1: number: fields text and number are members of "
          "the same oneof: give one");
    fails(PKG "Nested", "child { child { depth: 1 }",
          "line 1, column 27: child: expected '}' to close "
          "hvrpc.test.v1.Nested before the end");
    fails(PKG "Nested", "child: 1",
          "line 1, column 8: child: expected '{' (or '<') to open a "
          "hvrpc.test.v1.Nested, got '1'");
    fails(PKG "Nested", "child { depth: 1 >",
          "line 1, column 18: child: expected a field name of "
          "hvrpc.test.v1.Nested or '}', got '>'");
    fails(PKG "Nested", "}",
          "line 1, column 1: expected a field name of hvrpc.test.v1.Nested, "
          "got '}'");
    fails(PKG "Scalars", "[pkg.ext]: 1",
          "line 1, column 1: extensions ('[...]') are not supported");
    fails(PKG "Scalars", "f_int32: 1 @",
          "line 1, column 12: f_int32: unexpected character '@'");
    fails(PKG "WellKnown", "any { [type.googleapis.com/no.Such] {} }",
          "line 1, column 37: any: type no.Such is not in the schema");
}

/* Nesting is bounded: a text of 200 nested messages is refused, not a
 * stack overflow. */
static void test_depth(void)
{
    char text[2100];
    size_t n = 0;
    hvrpc_buf bin = {NULL, 0};
    hvrpc_status st;

    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "child{");
    for (int i = 0; i < 200; i++)
        text[n++] = '}';
    CHECK_INT(hvrpc_json_text_to_binary(pool, PKG "Nested", text, n, &bin, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "nested deeper than 100 messages");
    CHECK_INT(hvrpc_json_text_to_binary(pool, PKG "Nope", "", 0, &bin, &st),
              HVRPC_NOT_FOUND);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_text ALL.PROTOSET\n");
        return 2;
    }
    pool = load_pool(argv[1]);
    test_accepted();
    test_errors();
    test_depth();
    hvrpc_json_pool_free(pool);
    return check_done();
}
