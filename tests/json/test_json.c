/*
 * test_json.c - the JSON transcoder (tools/json): round trips for every
 * field type and the well-known types, the proto3 JSON mapping's rules,
 * every error with its JSON path, hostile bytes, and the pool's lookups.
 *
 *   test_json ALL.PROTOSET ECHO.PROTO PROTO_DIR
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "hvrpc_json.h"
#include "test_pool.h"

static hvrpc_json_pool *pool;

/* JSON in -> bytes -> compact JSON out, which must be `want`. */
static void round_trip(const char *type, const char *in, const char *want)
{
    hvrpc_buf bin = {NULL, 0};
    hvrpc_status st;
    char *out = NULL;
    hvrpc_code code =
        hvrpc_json_to_binary(pool, type, in, strlen(in), &bin, &st);

    if (code != HVRPC_OK) {
        fprintf(stderr, "to_binary(%s): %s\n", in, st.message);
        CHECK_INT(code, HVRPC_OK);
        return;
    }
    code = hvrpc_json_from_binary(pool, type, bin.data, bin.len,
                                  HVRPC_JSON_COMPACT, &out, &st);
    CHECK_INT(code, HVRPC_OK);
    CHECK_STR(out, want);
    free(out);
    hvrpc_buf_free(&bin);
}

/* The JSON in must fail with code and a message containing `msg`. */
static void fails(const char *type, const char *in, hvrpc_code want,
                  const char *msg)
{
    hvrpc_buf bin = {NULL, 0};
    hvrpc_status st;
    hvrpc_code code =
        hvrpc_json_to_binary(pool, type, in, strlen(in), &bin, &st);

    CHECK_INT(code, want);
    CHECK_CONTAINS(st.message, msg);
    CHECK(bin.data == NULL);
}

/* Bytes (hex) -> JSON, with flags. */
static void from_hex(const char *type, const char *hex, unsigned flags,
                     hvrpc_code want, const char *json_or_msg)
{
    uint8_t buf[256];
    size_t n = 0;
    hvrpc_status st;
    char *out = NULL;
    hvrpc_code code;

    for (; hex[0] != '\0' && hex[1] != '\0'; hex += 2) {
        unsigned v;
        sscanf(hex, "%2x", &v);
        buf[n++] = (uint8_t)v;
    }
    code = hvrpc_json_from_binary(pool, type, buf, n,
                                  flags | HVRPC_JSON_COMPACT, &out, &st);
    CHECK_INT(code, want);
    if (want == HVRPC_OK)
        CHECK_STR(out, json_or_msg);
    else
        CHECK_CONTAINS(st.message, json_or_msg);
    free(out);
}

#define S  "hvrpc.test.v1.Scalars"
#define R  "hvrpc.test.v1.Repeated"
#define M  "hvrpc.test.v1.Maps"
#define P  "hvrpc.test.v1.Presence"
#define W  "hvrpc.test.v1.WellKnown"
#define NE "hvrpc.test.v1.Nested"

static void test_scalars(void)
{
    round_trip(S, "{}", "{}");
    round_trip(
        S,
        "{\"fDouble\":0.1,\"fFloat\":0.1,\"fInt64\":\"-9223372036854775808\","
        "\"fUint64\":\"18446744073709551615\",\"fInt32\":-2147483648,"
        "\"fFixed64\":\"1\",\"fFixed32\":4294967295,\"fBool\":true,"
        "\"fString\":\"h\\u00e9\\n\",\"fBytes\":\"AAH/\",\"fUint32\":7,"
        "\"fEnum\":\"COLOR_RED\",\"fSfixed32\":-5,\"fSfixed64\":\"-6\","
        "\"fSint32\":-7,\"fSint64\":\"-8\"}",
        "{\"fDouble\":0.1,\"fFloat\":0.1,\"fInt64\":\"-9223372036854775808\","
        "\"fUint64\":\"18446744073709551615\",\"fInt32\":-2147483648,"
        "\"fFixed64\":\"1\",\"fFixed32\":4294967295,\"fBool\":true,"
        "\"fString\":\"h\xc3\xa9\\n\",\"fBytes\":\"AAH/\",\"fUint32\":7,"
        "\"fEnum\":\"COLOR_RED\",\"fSfixed32\":-5,\"fSfixed64\":\"-6\","
        "\"fSint32\":-7,\"fSint64\":\"-8\"}");
    /* Original names, numbers as strings and strings as numbers. */
    round_trip(S,
               "{\"f_int64\":5,\"f_int32\":\"-3\",\"f_double\":\"1.5\","
               "\"f_uint64\":1e3,\"f_enum\":2,\"f_bytes\":\"_-8\"}",
               "{\"fDouble\":1.5,\"fInt64\":\"5\",\"fUint64\":\"1000\","
               "\"fInt32\":-3,\"fBytes\":\"/+8=\",\"fEnum\":\"COLOR_GREEN\"}");
    round_trip(S, "{\"fDouble\":\"NaN\",\"fFloat\":\"-Infinity\"}",
               "{\"fDouble\":\"NaN\",\"fFloat\":\"-Infinity\"}");
    round_trip(S, "{\"fDouble\":\"Infinity\"}", "{\"fDouble\":\"Infinity\"}");
    /* An enum number without a name stays a number. */
    round_trip(S, "{\"fEnum\":42}", "{\"fEnum\":42}");
    /* Defaults of fields without presence are not written... */
    round_trip(S, "{\"fInt32\":0,\"fString\":\"\",\"fBool\":false}", "{}");
    /* ...unless asked for. */
    from_hex(S, "", HVRPC_JSON_EMIT_DEFAULTS, HVRPC_OK,
             "{\"fDouble\":0,\"fFloat\":0,\"fInt64\":\"0\",\"fUint64\":\"0\","
             "\"fInt32\":0,\"fFixed64\":\"0\",\"fFixed32\":0,\"fBool\":false,"
             "\"fString\":\"\",\"fBytes\":\"\",\"fUint32\":0,"
             "\"fEnum\":\"COLOR_UNSPECIFIED\",\"fSfixed32\":0,"
             "\"fSfixed64\":\"0\",\"fSint32\":0,\"fSint64\":\"0\"}");
    from_hex(S, "2805", HVRPC_JSON_ORIGINAL_NAMES, HVRPC_OK, "{\"f_int32\":5}");
    /* null is "absent". */
    round_trip(S, "{\"fInt32\":null,\"fString\":null}", "{}");
}

static void test_repeated_and_maps(void)
{
    round_trip(R,
               "{\"rInt32\":[1,-1],\"rString\":[\"a\",\"\"],\"rBool\":[true],"
               "\"rEnum\":[\"COLOR_RED\",0],\"rInt64\":[\"1\",2],"
               "\"items\":[{\"name\":\"x\"},{}],\"unpacked\":[1,2],"
               "\"rBytes\":[\"AQ==\"],\"rDouble\":[1.25],\"rFloat\":[-0.5]}",
               "{\"rDouble\":[1.25],\"rFloat\":[-0.5],\"rInt64\":[\"1\",\"2\"],"
               "\"rInt32\":[1,-1],\"rBool\":[true],\"rString\":[\"a\",\"\"],"
               "\"rBytes\":[\"AQ==\"],\"rEnum\":[\"COLOR_RED\","
               "\"COLOR_UNSPECIFIED\"],\"items\":[{\"name\":\"x\"},{}],"
               "\"unpacked\":[1,2]}");
    round_trip(R, "{\"rInt32\":[],\"items\":null}", "{}");
    from_hex(R, "", HVRPC_JSON_EMIT_DEFAULTS, HVRPC_OK,
             "{\"rDouble\":[],\"rFloat\":[],\"rInt64\":[],\"rUint64\":[],"
             "\"rInt32\":[],\"rFixed64\":[],\"rFixed32\":[],\"rBool\":[],"
             "\"rString\":[],\"rBytes\":[],\"rUint32\":[],\"rEnum\":[],"
             "\"rSfixed32\":[],\"rSfixed64\":[],\"rSint32\":[],"
             "\"rSint64\":[],\"items\":[],\"unpacked\":[]}");
    /* Packed and unpacked encodings of one field both decode. */
    from_hex(R, "2a0201022801", 0, HVRPC_OK, "{\"rInt32\":[1,2,1]}");
    round_trip(M,
               "{\"labels\":{\"b\":\"2\",\"a\":\"1\"},\"byId\":{\"-1\":"
               "{\"name\":\"n\"},\"5\":{}},\"flags\":{\"true\":\"-1\","
               "\"false\":0},\"colors\":{\"18446744073709551615\":"
               "\"COLOR_GREEN\"},\"blobs\":{\"-2\":\"/w==\"}}",
               "{\"labels\":{\"b\":\"2\",\"a\":\"1\"},\"byId\":{\"-1\":"
               "{\"name\":\"n\"},\"5\":{}},\"flags\":{\"true\":\"-1\","
               "\"false\":\"0\"},\"colors\":{\"18446744073709551615\":"
               "\"COLOR_GREEN\"},\"blobs\":{\"-2\":\"/w==\"}}");
}

static void test_presence(void)
{
    round_trip(P, "{\"maybe\":0,\"text\":\"\"}", "{\"maybe\":0,\"text\":\"\"}");
    round_trip(P, "{\"number\":0,\"sub\":{}}", "{\"number\":0,\"sub\":{}}");
    round_trip(P, "{\"otherName\":\"x\"}", "{\"otherName\":\"x\"}");
    round_trip(P, "{\"renamed\":\"y\"}", "{\"otherName\":\"y\"}");
    round_trip(P, "{\"item\":{\"count\":3}}", "{\"item\":{\"count\":3}}");
}

static void test_well_known(void)
{
    round_trip(W, "{\"at\":\"2024-05-01T12:00:00Z\"}",
               "{\"at\":\"2024-05-01T12:00:00Z\"}");
    round_trip(W, "{\"at\":\"2024-05-01T12:00:00.5+02:00\"}",
               "{\"at\":\"2024-05-01T10:00:00.500Z\"}");
    round_trip(W, "{\"at\":\"1970-01-01T00:00:00.000001Z\"}",
               "{\"at\":\"1970-01-01T00:00:00.000001Z\"}");
    round_trip(W, "{\"at\":\"0001-01-01T00:00:00Z\"}",
               "{\"at\":\"0001-01-01T00:00:00Z\"}");
    round_trip(W, "{\"times\":[\"9999-12-31T23:59:59.999999999Z\"]}",
               "{\"times\":[\"9999-12-31T23:59:59.999999999Z\"]}");
    round_trip(W, "{\"took\":\"1.5s\"}", "{\"took\":\"1.500s\"}");
    round_trip(W, "{\"took\":\"-0.000000001s\"}",
               "{\"took\":\"-0.000000001s\"}");
    round_trip(W, "{\"took\":\"0s\"}", "{\"took\":\"0s\"}");
    round_trip(W,
               "{\"i32\":-5,\"i64\":\"9007199254740993\",\"u32\":7,"
               "\"u64\":\"18446744073709551615\",\"f\":1.5,\"d\":0.1,"
               "\"b\":true,\"s\":\"s\",\"by\":\"AQ==\"}",
               "{\"i32\":-5,\"i64\":\"9007199254740993\",\"u32\":7,"
               "\"u64\":\"18446744073709551615\",\"f\":1.5,\"d\":0.1,"
               "\"b\":true,\"s\":\"s\",\"by\":\"AQ==\"}");
    /* A wrapper holding its default is still there. */
    round_trip(W, "{\"i32\":0,\"b\":false,\"s\":\"\"}",
               "{\"i32\":0,\"b\":false,\"s\":\"\"}");
    round_trip(W,
               "{\"st\":{\"a\":1.5,\"b\":[\"x\",true,null,{}],\"c\":{\"d\":"
               "\"e\"}},\"v\":{\"k\":-2},\"lv\":[3,\"t\"]}",
               "{\"st\":{\"a\":1.5,\"b\":[\"x\",true,null,{}],\"c\":{\"d\":"
               "\"e\"}},\"v\":{\"k\":-2},\"lv\":[3,\"t\"]}");
    round_trip(W, "{\"v\":null}", "{\"v\":null}");
    round_trip(W, "{\"v\":\"\"}", "{\"v\":\"\"}");
    round_trip(W, "{\"nullValue\":null}", "{}");
    round_trip(W, "{\"mask\":\"fInt32,a.bC\"}", "{\"mask\":\"fInt32,a.bC\"}");
    round_trip(W, "{\"empty\":{}}", "{\"empty\":{}}");
    round_trip(W,
               "{\"any\":{\"@type\":\"type.googleapis.com/hvrpc.test.v1.Item\","
               "\"name\":\"a\",\"count\":2}}",
               "{\"any\":{\"@type\":\"type.googleapis.com/hvrpc.test.v1.Item\","
               "\"name\":\"a\",\"count\":2}}");
    round_trip(W,
               "{\"any\":{\"@type\":\"type.googleapis.com/"
               "google.protobuf.Duration\",\"value\":\"2s\"}}",
               "{\"any\":{\"@type\":\"type.googleapis.com/"
               "google.protobuf.Duration\",\"value\":\"2s\"}}");
    /* A well-known type at the top. */
    round_trip("google.protobuf.Timestamp", "\"2000-02-29T23:59:59Z\"",
               "\"2000-02-29T23:59:59Z\"");
    round_trip("google.protobuf.Struct", "{\"x\":[1,{\"y\":null}]}",
               "{\"x\":[1,{\"y\":null}]}");
    round_trip("google.protobuf.Empty", "{}", "{}");
}

static void test_errors(void)
{
    fails(S, "{\"fInt32\":3000000000}", HVRPC_INVALID_ARGUMENT,
          "$.fInt32: 3000000000 is out of range for int32");
    fails(S, "{\"fUint32\":-1}", HVRPC_INVALID_ARGUMENT,
          "$.fUint32: -1 is out of range for uint32");
    fails(S, "{\"fUint64\":\"-1\"}", HVRPC_INVALID_ARGUMENT,
          "$.fUint64: \"-1\" is not a valid uint64");
    fails(S, "{\"fInt64\":\"9223372036854775808\"}", HVRPC_INVALID_ARGUMENT,
          "is out of range for int64");
    fails(S, "{\"fInt32\":1.5}", HVRPC_INVALID_ARGUMENT,
          "$.fInt32: 1.5 is not an integer (int32)");
    fails(S, "{\"fInt32\":\"12x\"}", HVRPC_INVALID_ARGUMENT,
          "\"12x\" is not a valid int32");
    fails(S, "{\"fFloat\":1e39}", HVRPC_INVALID_ARGUMENT,
          "is out of range for float");
    fails(S, "{\"fBool\":\"true\"}", HVRPC_INVALID_ARGUMENT,
          "$.fBool: expected bool (true or false), got a string");
    fails(S, "{\"fString\":5}", HVRPC_INVALID_ARGUMENT,
          "$.fString: expected string, got a number");
    fails(S, "{\"fBytes\":\"!!\"}", HVRPC_INVALID_ARGUMENT,
          "$.fBytes: \"!!\" is not valid base64");
    fails(S, "{\"fEnum\":\"BLUE\"}", HVRPC_INVALID_ARGUMENT,
          "$.fEnum: \"BLUE\" is not a value of enum hvrpc.test.v1.Color "
          "(values: COLOR_UNSPECIFIED, COLOR_RED");
    fails(S, "{\"nope\":1}", HVRPC_INVALID_ARGUMENT,
          "$: unknown field \"nope\" in hvrpc.test.v1.Scalars (fields: "
          "fDouble, fFloat");
    fails(S, "{\"fInt32\":1,\"f_int32\":2}", HVRPC_INVALID_ARGUMENT,
          "field f_int32 is given twice");
    fails(S, "[1]", HVRPC_INVALID_ARGUMENT,
          "$: expected an object for message hvrpc.test.v1.Scalars, got an "
          "array");
    fails(S, "{\"fInt32\":", HVRPC_INVALID_ARGUMENT, "not valid JSON: line 1");
    fails(S, "{\"a\":1,\"a\":2}", HVRPC_INVALID_ARGUMENT, "duplicate");
    fails(S, "{\"fUint64\":18446744073709551615}", HVRPC_INVALID_ARGUMENT,
          "write 64-bit numbers as strings");
    fails(R, "{\"items\":[{},{},{\"count\":3000000000}]}",
          HVRPC_INVALID_ARGUMENT,
          "$.items[2].count: 3000000000 is out of range for int32");
    fails(R, "{\"rInt32\":5}", HVRPC_INVALID_ARGUMENT,
          "$.rInt32: expected a list (an array) for repeated int32");
    fails(R, "{\"rString\":[\"a\",null]}", HVRPC_INVALID_ARGUMENT,
          "$.rString[1]: a list element cannot be null");
    fails(M, "{\"byId\":{\"x\":{}}}", HVRPC_INVALID_ARGUMENT,
          "$.byId[\"x\"]: \"x\" is not a valid int32");
    fails(M, "{\"flags\":{\"yes\":\"1\"}}", HVRPC_INVALID_ARGUMENT,
          "map key \"yes\" is not a bool");
    fails(M, "{\"labels\":{\"k\":1}}", HVRPC_INVALID_ARGUMENT,
          "$.labels[\"k\"]: expected string, got a number");
    fails(P, "{\"text\":\"a\",\"number\":1}", HVRPC_INVALID_ARGUMENT,
          "same oneof");
    fails(W, "{\"at\":\"yesterday\"}", HVRPC_INVALID_ARGUMENT,
          "$.at: \"yesterday\" is not a Timestamp");
    fails(W, "{\"at\":\"10000-01-01T00:00:00Z\"}", HVRPC_INVALID_ARGUMENT,
          "is not a Timestamp");
    fails(W, "{\"at\":\"0000-12-31T23:59:59Z\"}", HVRPC_INVALID_ARGUMENT,
          "is not a Timestamp");
    fails(W, "{\"took\":\"5\"}", HVRPC_INVALID_ARGUMENT,
          "$.took: \"5\" is not a Duration");
    fails(W, "{\"took\":\"315576000001s\"}", HVRPC_INVALID_ARGUMENT,
          "is out of range for Duration");
    fails(W, "{\"i32\":\"x\"}", HVRPC_INVALID_ARGUMENT, "$.i32: \"x\"");
    fails(W, "{\"any\":{\"name\":\"a\"}}", HVRPC_INVALID_ARGUMENT,
          "needs \"@type\"");
    fails(W, "{\"any\":{\"@type\":\"x/no.Such\"}}", HVRPC_NOT_FOUND,
          "@type x/no.Such is not in the schema");
    fails(W, "{\"st\":{\"a\":{\"b\":[1,{\"c\":\"d\"}]}},\"empty\":{\"x\":1}}",
          HVRPC_INVALID_ARGUMENT, "$.empty: unknown field \"x\"");
    fails("no.Such", "{}", HVRPC_NOT_FOUND, "no.Such is not in the schema");
}

static void test_hostile_bytes(void)
{
    char json[16 * 121 + 16];
    size_t n = 0;

    from_hex(S, "28", 0, HVRPC_INVALID_ARGUMENT, "truncated");
    from_hex(S, "4a05616263", 0, HVRPC_INVALID_ARGUMENT,
             "not a valid hvrpc.test.v1.Scalars");
    from_hex(S, "4d00000000", 0, HVRPC_INVALID_ARGUMENT, "wrong wire type");
    from_hex(S, "4a02c328", 0, HVRPC_INVALID_ARGUMENT, "UTF-8");
    from_hex(S, "0000", 0, HVRPC_INVALID_ARGUMENT, "bad field tag");
    /* Unknown fields are dropped. */
    from_hex(S, "f80701280a", 0, HVRPC_OK, "{\"fInt32\":10}");
    /* 120 nested messages: refused, not a crash. */
    n = (size_t)sprintf(json, "{");
    for (int i = 0; i < 120; i++)
        n += (size_t)sprintf(json + n, "\"child\":{");
    for (int i = 0; i < 121; i++)
        json[n++] = '}';
    json[n] = '\0';
    fails(NE, json, HVRPC_INVALID_ARGUMENT, "nested deeper than 100");
}

static void test_pool(const char *echo_proto, const char *proto_dir)
{
    hvrpc_json_method m;
    hvrpc_json_service_options o;
    hvrpc_status st;
    const char *file = NULL;
    const char *dirs[] = {proto_dir};
    char *text = NULL;

    CHECK(hvrpc_json_pool_has_file(pool, "google/protobuf/timestamp.proto"));
    CHECK_INT(hvrpc_json_pool_find(pool, "hvrpc.test.v1.Item", &file),
              HVRPC_JSON_MESSAGE);
    CHECK_STR(file, "hvrpc/test/v1/all.proto");
    CHECK_INT(hvrpc_json_pool_find(pool, ".hvrpc.test.v1.Color", NULL),
              HVRPC_JSON_ENUM);
    CHECK_INT(hvrpc_json_pool_find(pool, "hvrpc.test.v1.COLOR_RED", NULL),
              HVRPC_JSON_ENUM_VALUE);
    CHECK_INT(hvrpc_json_pool_find(pool, "hvrpc.test.v1.Item.count", NULL),
              HVRPC_JSON_FIELD);
    CHECK_INT(hvrpc_json_pool_find(pool, "hvrpc.test.v1.Nope", NULL),
              HVRPC_JSON_NONE);

    /* A .proto through protoc, with the hvrpc options. */
    CHECK_INT(hvrpc_json_pool_add_proto(pool, echo_proto, dirs, 1, &st),
              HVRPC_OK);
    CHECK_INT(
        hvrpc_json_pool_method(pool, "hvrpc.echo.v1.Echo", "Echo", &m, &st),
        HVRPC_OK);
    CHECK_STR(m.input_type, "hvrpc.echo.v1.EchoRequest");
    CHECK_STR(m.output_type, "hvrpc.echo.v1.EchoResponse");
    CHECK(!m.client_streaming && !m.server_streaming);
    CHECK_INT(
        hvrpc_json_pool_method(pool, "hvrpc.echo.v1.Echo", "Nope", &m, &st),
        HVRPC_NOT_FOUND);
    CHECK_CONTAINS(st.message, "has no method Nope (it has: Echo)");
    CHECK_INT(hvrpc_json_pool_method(pool, "x.Y", "Z", &m, &st),
              HVRPC_NOT_FOUND);
    CHECK_INT(
        hvrpc_json_pool_service_options(pool, "hvrpc.echo.v1.Echo", &o, &st),
        HVRPC_OK);
    CHECK_INT(o.vsock_port, 5000);
    CHECK_STR(o.friendly_name, "hvrpc echo");
    CHECK(o.service_guid == NULL);
    CHECK(hvrpc_json_pool_service_count(pool) >= 1);

    CHECK_INT(hvrpc_json_describe(pool, "hvrpc.echo.v1.Echo", &text, &st),
              HVRPC_OK);
    CHECK_CONTAINS(text, "rpc Echo(hvrpc.echo.v1.EchoRequest) returns "
                         "(hvrpc.echo.v1.EchoResponse);");
    CHECK_CONTAINS(text, "option (hvrpc.vsock_port) = 5000;");
    free(text);
    CHECK_INT(
        hvrpc_json_describe(pool, "hvrpc.echo.v1.EchoResponse", &text, &st),
        HVRPC_OK);
    CHECK_CONTAINS(text, "map<string, string> metadata = 2;");
    free(text);
    CHECK_INT(hvrpc_json_describe(pool, "no.such", &text, &st),
              HVRPC_NOT_FOUND);

    /* protoc's errors come through. */
    CHECK_INT(
        hvrpc_json_pool_add_proto(pool, "/nonexistent/x.proto", dirs, 1, &st),
        HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "protoc: ");

    /* Bytes that are no descriptor. */
    CHECK_INT(hvrpc_json_pool_add_file(pool, (const uint8_t *)"\xff", 1, &st),
              HVRPC_INVALID_ARGUMENT);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: test_json ALL.PROTOSET ECHO.PROTO PROTO_DIR\n");
        return 2;
    }
    pool = load_pool(argv[1]);
    test_scalars();
    test_repeated_and_maps();
    test_presence();
    test_well_known();
    test_errors();
    test_hostile_bytes();
    test_pool(argv[2], argv[3]);
    hvrpc_json_pool_free(pool);
    return check_done();
}
