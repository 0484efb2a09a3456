/* test_guid.c - GUID text form, the VSOCK template and the named VmIds. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "hvrpc/guid.h"

/* Parses text, which must be valid, and returns its lower-case form. */
static const char *roundtrip(const char *text, char buf[HVRPC_GUID_STRLEN])
{
    hvrpc_guid g;
    hvrpc_status st;
    if (hvrpc_guid_parse(text, &g, &st) != HVRPC_OK) {
        CHECK_STR(st.message, "(no error expected)");
        return "(parse failed)";
    }
    return hvrpc_guid_format(&g, buf);
}

/* Parses text, which must be invalid, and checks the message mentions
 * each of the two fragments. *out must be left alone. */
static void check_bad(const char *text, const char *frag1, const char *frag2)
{
    hvrpc_guid g;
    hvrpc_status st;
    memset(&g, 0x5a, sizeof g);
    memset(&st, 0, sizeof st);
    CHECK_INT(hvrpc_guid_parse(text, &g, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_INT(st.code, HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, frag1);
    if (frag2)
        CHECK_CONTAINS(st.message, frag2);
    CHECK_INT(g.data1, 0x5a5a5a5a);
    CHECK_INT(g.data4[7], 0x5a);
}

static void test_parse_fields(void)
{
    hvrpc_guid g;
    hvrpc_status st;

    CHECK_INT(hvrpc_guid_parse("01234567-89ab-cdef-0123-456789abcdef", &g, &st),
              HVRPC_OK);
    CHECK_INT(g.data1, 0x01234567);
    CHECK_INT(g.data2, 0x89ab);
    CHECK_INT(g.data3, 0xcdef);
    static const uint8_t d4[8] = {0x01, 0x23, 0x45, 0x67,
                                  0x89, 0xab, 0xcd, 0xef};
    CHECK(memcmp(g.data4, d4, 8) == 0);

    /* High bits: data1 is unsigned, no sign extension anywhere. */
    CHECK_INT(hvrpc_guid_parse("FEDCBA98-7654-3210-FEDC-BA9876543210", &g, &st),
              HVRPC_OK);
    CHECK_INT(g.data1, 0xfedcba98u);
    CHECK_INT(g.data2, 0x7654);
    CHECK_INT(g.data3, 0x3210);
    CHECK_INT(g.data4[0], 0xfe);
    CHECK_INT(g.data4[1], 0xdc);
    CHECK_INT(g.data4[2], 0xba);
    CHECK_INT(g.data4[7], 0x10);

    /* A NULL status is allowed. */
    CHECK_INT(
        hvrpc_guid_parse("00000000-0000-0000-0000-000000000001", &g, NULL),
        HVRPC_OK);
    CHECK_INT(g.data4[7], 1);
    CHECK_INT(hvrpc_guid_parse("nope", &g, NULL), HVRPC_INVALID_ARGUMENT);
}

static void test_case_and_braces(void)
{
    char buf[HVRPC_GUID_STRLEN];
    const char *lower = "a42e7cda-d03f-480c-9cc2-a4de20abb878";

    CHECK_STR(roundtrip("a42e7cda-d03f-480c-9cc2-a4de20abb878", buf), lower);
    CHECK_STR(roundtrip("A42E7CDA-D03F-480C-9CC2-A4DE20ABB878", buf), lower);
    CHECK_STR(roundtrip("a42E7cDa-D03f-480C-9Cc2-A4dE20aBb878", buf), lower);
    CHECK_STR(roundtrip("{a42e7cda-d03f-480c-9cc2-a4de20abb878}", buf), lower);
    CHECK_STR(roundtrip("{A42E7CDA-D03F-480C-9CC2-A4DE20ABB878}", buf), lower);
    CHECK_INT(strlen(buf), HVRPC_GUID_STRLEN - 1);
}

static void test_parse_errors(void)
{
    hvrpc_guid g;
    hvrpc_status st;

    check_bad("", "offset 0", "found the end");
    check_bad("0", "offset 1", "36 characters");
    /* 35 characters: ends where the last digit should be. */
    check_bad("00000ac9-facb-11e6-bd58-64006a7986d", "offset 35",
              "found the end");
    /* 37 characters: one too many. */
    check_bad("00000ac9-facb-11e6-bd58-64006a7986d30", "offset 36",
              "found '0'");
    check_bad("00000ac9-facb-11e6-bd58-64006a7986d30", "expected the end",
              "38 with braces");
    /* Non-hex digits, at the start, in the middle and at the end. */
    check_bad("g0000ac9-facb-11e6-bd58-64006a7986d3", "offset 0",
              "expected a hex digit, found 'g'");
    check_bad("00000ac9-facb-11x6-bd58-64006a7986d3", "offset 16", "found 'x'");
    check_bad("00000ac9-facb-11e6-bd58-64006a7986dZ", "offset 35", "found 'Z'");
    /* Misplaced dashes: a dash where a digit goes, a digit where a dash
     * goes, and a GUID with its dashes in the Windows-registry-free form. */
    check_bad("0000-0ac9facb-11e6-bd58-64006a7986d3", "offset 4",
              "expected a hex digit, found '-'");
    check_bad("00000ac90facb-11e6-bd58-64006a7986d3", "offset 8",
              "expected '-', found '0'");
    check_bad("00000ac9-facb-11e6-bd58064006a7986d3", "offset 23",
              "expected '-'");
    check_bad("00000ac9facb11e6bd5864006a7986d3", "offset 8", "'-'");
    /* Spaces are not trimmed. */
    check_bad(" 00000ac9-facb-11e6-bd58-64006a7986d3", "offset 0", "found ' '");
    check_bad("00000ac9-facb-11e6-bd58-64006a7986d3 ", "offset 36",
              "found ' '");
    /* Braces: offsets count the '{'. */
    check_bad("{00000ac9-facb-11e6-bd58-64006a7986d3", "offset 37",
              "expected '}', found the end");
    check_bad("{00000ac9-facb-11e6-bd58-64006a7986d3)", "offset 37",
              "expected '}', found ')'");
    check_bad("00000ac9-facb-11e6-bd58-64006a7986d3}", "offset 36",
              "found '}'");
    check_bad("{00000ac9-facb-11e6-bd58-64006a7986d3}}", "offset 38",
              "found '}'");
    check_bad("{00000ac9-facb-11e6-bd58-64006a7986d}", "offset 36",
              "found '}'");
    check_bad("{{00000ac9-facb-11e6-bd58-64006a7986d3}", "offset 1",
              "found '{'");
    /* A non-printable byte is shown by value. */
    check_bad("00000ac9-facb-11e6-bd58-64006a7986d\n", "offset 35",
              "byte 0x0a");
    check_bad("00000ac9-facb-11e6-bd58-64006a7986d\xc3", "offset 35",
              "byte 0xc3");
    check_bad("0x000ac9-facb-11e6-bd58-64006a7986d3", "offset 1", "found 'x'");

    CHECK_INT(hvrpc_guid_parse(NULL, &g, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "NULL");
    CHECK_INT(
        hvrpc_guid_parse("00000000-0000-0000-0000-000000000000", NULL, &st),
        HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "NULL");
}

static void test_format(void)
{
    char buf[HVRPC_GUID_STRLEN];
    hvrpc_guid g = {0x0000000au,
                    0x00b0,
                    0x0c00,
                    {0x00, 0x0d, 0xe0, 0x00, 0x0f, 0x00, 0x01, 0x00}};

    memset(buf, 'x', sizeof buf);
    CHECK(hvrpc_guid_format(&g, buf) == buf);
    CHECK_STR(buf, "0000000a-00b0-0c00-000d-e0000f000100");
    CHECK_STR(hvrpc_guid_format(&HVRPC_GUID_BROADCAST, buf),
              "ffffffff-ffff-ffff-ffff-ffffffffffff");
    CHECK_STR(hvrpc_guid_format(&HVRPC_GUID_ZERO, buf),
              "00000000-0000-0000-0000-000000000000");
}

static void test_equal(void)
{
    hvrpc_guid a = hvrpc_guid_from_vsock_port(7), b = a;

    CHECK(hvrpc_guid_equal(&a, &b));
    CHECK(hvrpc_guid_equal(&HVRPC_GUID_ZERO, &HVRPC_GUID_ZERO));
    b.data1++;
    CHECK(!hvrpc_guid_equal(&a, &b));
    b = a;
    b.data2 ^= 1;
    CHECK(!hvrpc_guid_equal(&a, &b));
    b = a;
    b.data3 ^= 0x8000;
    CHECK(!hvrpc_guid_equal(&a, &b));
    for (int i = 0; i < 8; i++) {
        b = a;
        b.data4[i] ^= 0x80;
        CHECK(!hvrpc_guid_equal(&a, &b));
    }
}

static void test_vsock_template(void)
{
    char buf[HVRPC_GUID_STRLEN];
    hvrpc_guid g;
    uint32_t port = 12345;

    g = hvrpc_guid_from_vsock_port(2761);
    CHECK_STR(hvrpc_guid_format(&g, buf),
              "00000ac9-facb-11e6-bd58-64006a7986d3");
    CHECK(hvrpc_guid_to_vsock_port(&g, &port));
    CHECK_INT(port, 2761);

    g = hvrpc_guid_from_vsock_port(0);
    CHECK_STR(hvrpc_guid_format(&g, buf),
              "00000000-facb-11e6-bd58-64006a7986d3");
    CHECK(hvrpc_guid_to_vsock_port(&g, &port));
    CHECK_INT(port, 0);

    g = hvrpc_guid_from_vsock_port(0xFFFFFFFFu);
    CHECK_STR(hvrpc_guid_format(&g, buf),
              "ffffffff-facb-11e6-bd58-64006a7986d3");
    CHECK(hvrpc_guid_to_vsock_port(&g, &port));
    CHECK_INT(port, 0xFFFFFFFFu);

    /* Parsed text maps back too, whatever its case. */
    CHECK_INT(
        hvrpc_guid_parse("{00000AC9-FACB-11E6-BD58-64006A7986D3}", &g, NULL),
        HVRPC_OK);
    port = 0;
    CHECK(hvrpc_guid_to_vsock_port(&g, &port));
    CHECK_INT(port, 2761);
    CHECK(hvrpc_guid_to_vsock_port(&g, NULL));

    /* Any difference outside data1 means "not the template"; port is left
     * alone then. */
    hvrpc_guid t = hvrpc_guid_from_vsock_port(5);
    port = 99;
    g = t;
    g.data2 = 0xfacc;
    CHECK(!hvrpc_guid_to_vsock_port(&g, &port));
    g = t;
    g.data3 = 0x11e7;
    CHECK(!hvrpc_guid_to_vsock_port(&g, &port));
    for (int i = 0; i < 8; i++) {
        g = t;
        g.data4[i] ^= 1;
        CHECK(!hvrpc_guid_to_vsock_port(&g, &port));
    }
    CHECK_INT(port, 99);
    CHECK(!hvrpc_guid_to_vsock_port(&HVRPC_GUID_ZERO, &port));
    CHECK(!hvrpc_guid_to_vsock_port(&HVRPC_GUID_PARENT, &port));
    CHECK_INT(port, 99);
}

/* The named VmIds against the text of hvsocket.h. */
static void test_named(void)
{
    static const struct {
        const char *name;
        const hvrpc_guid *constant;
        const char *text;
    } cases[] = {
        {"wildcard", &HVRPC_GUID_ZERO, "00000000-0000-0000-0000-000000000000"},
        {"zero", &HVRPC_GUID_ZERO, "00000000-0000-0000-0000-000000000000"},
        {"broadcast", &HVRPC_GUID_BROADCAST,
         "ffffffff-ffff-ffff-ffff-ffffffffffff"},
        {"children", &HVRPC_GUID_CHILDREN,
         "90db8b89-0d35-4f79-8ce9-49ea0ac8b7cd"},
        {"loopback", &HVRPC_GUID_LOOPBACK,
         "e0e16197-dd56-4a10-9195-5ee7a155a838"},
        {"parent", &HVRPC_GUID_PARENT, "a42e7cda-d03f-480c-9cc2-a4de20abb878"},
        {"silohost", &HVRPC_GUID_SILOHOST,
         "36bd0c5c-7276-4223-88ba-7d03b654c568"},
    };
    char buf[HVRPC_GUID_STRLEN];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        hvrpc_guid g;
        memset(&g, 0x77, sizeof g);
        CHECK_STR(hvrpc_guid_format(cases[i].constant, buf), cases[i].text);
        CHECK(hvrpc_guid_from_name(cases[i].name, &g));
        CHECK_STR(hvrpc_guid_format(&g, buf), cases[i].text);
    }

    hvrpc_guid g;
    CHECK(hvrpc_guid_from_name("PARENT", &g));
    CHECK(hvrpc_guid_equal(&g, &HVRPC_GUID_PARENT));
    CHECK(hvrpc_guid_from_name("SiloHost", &g));
    CHECK(hvrpc_guid_equal(&g, &HVRPC_GUID_SILOHOST));
    CHECK(hvrpc_guid_from_name("children", NULL));

    g = HVRPC_GUID_LOOPBACK;
    CHECK(!hvrpc_guid_from_name("", &g));
    CHECK(!hvrpc_guid_from_name("paren", &g));
    CHECK(!hvrpc_guid_from_name("parents", &g));
    CHECK(!hvrpc_guid_from_name(" parent", &g));
    CHECK(!hvrpc_guid_from_name("host", &g));
    CHECK(!hvrpc_guid_from_name("a42e7cda-d03f-480c-9cc2-a4de20abb878", &g));
    CHECK(!hvrpc_guid_from_name(NULL, &g));
    /* Unknown names leave *out alone. */
    CHECK(hvrpc_guid_equal(&g, &HVRPC_GUID_LOOPBACK));
}

int main(void)
{
    test_parse_fields();
    test_case_and_braces();
    test_parse_errors();
    test_format();
    test_equal();
    test_vsock_template();
    test_named();
    return check_done();
}
