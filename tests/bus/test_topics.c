/*
 * tests/bus/test_topics.c - topic and pattern syntax, and matching
 * (services/bus/bus_topic.c; docs/BUS.md).
 */
#include <stdlib.h>
#include <string.h>

#include "bus_service.h"
#include "check.h"

static void topic_ok(const char *t)
{
    hvrpc_status st;
    hvrpc_code r = hvrpc_bus_topic_check(t, NULL, &st);

    if (r != HVRPC_OK)
        fprintf(stderr, "topic \"%s\": %s\n", t, st.message);
    CHECK_INT(r, HVRPC_OK);
}

static void topic_bad(const char *t, const char *why)
{
    hvrpc_status st;

    CHECK_INT(hvrpc_bus_topic_check(t, NULL, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, why);
}

static void pattern_ok(const char *p)
{
    hvrpc_status st;
    hvrpc_code r = hvrpc_bus_pattern_check(p, NULL, &st);

    if (r != HVRPC_OK)
        fprintf(stderr, "pattern \"%s\": %s\n", p, st.message);
    CHECK_INT(r, HVRPC_OK);
}

static void pattern_bad(const char *p, const char *why)
{
    hvrpc_status st;

    CHECK_INT(hvrpc_bus_pattern_check(p, NULL, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, why);
}

static void match(const char *p, const char *t, bool want)
{
    bool got = hvrpc_bus_topic_matches(p, t);

    if (got != want)
        fprintf(stderr, "match(\"%s\", \"%s\") = %d, want %d\n", p, t, got,
                want);
    CHECK(got == want);
}

int main(void)
{
    /* Topics. */
    topic_ok("a");
    topic_ok("vm.web1.heartbeat");
    topic_ok("vm.3.cpu-load_1m");
    topic_ok("x:y.A~B.!#$%&()+,/;<=?@[]^`{|}");
    topic_bad(NULL, "empty");
    topic_bad("", "empty");
    topic_bad(".a", "segment 1 is empty");
    topic_bad("a.", "segment 2 is empty");
    topic_bad("a..b", "segment 2 is empty");
    topic_bad("a b", "byte 0x20 at offset 1");
    topic_bad("a\tb", "byte 0x09 at offset 1");
    topic_bad("a.\x7f", "byte 0x7f");
    topic_bad("caf\xc3\xa9", "byte 0xc3 at offset 3");
    topic_bad("vm.*.heartbeat", "byte 0x2a at offset 3");
    topic_bad("vm.>", "byte 0x3e");
    topic_bad("a*", "0x2a");

    /* Limits: 256 bytes, 16 segments, and configurable. */
    char big[300];
    memset(big, 'x', sizeof big);
    big[256] = '\0';
    topic_ok(big);
    big[256] = 'x';
    big[257] = '\0';
    topic_bad(big, "longer than 256 bytes");
    topic_ok("1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16");
    topic_bad("1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17",
              "more than 16 segments");
    hvrpc_bus_options o;
    hvrpc_status st;
    hvrpc_bus_options_init(&o);
    o.max_topic_length = 5;
    o.max_topic_segments = 2;
    CHECK_INT(hvrpc_bus_topic_check("a.b", &o, &st), HVRPC_OK);
    CHECK_INT(hvrpc_bus_topic_check("a.b.c", &o, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "more than 2 segments");
    CHECK_INT(hvrpc_bus_topic_check("abcdef", &o, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "longer than 5 bytes");

    /* A huge topic is refused after reading the limit, not all of it; the
     * message quotes a bounded prefix. */
    size_t huge = 64u * 1024 * 1024;
    char *h = malloc(huge + 1);
    memset(h, 'a', huge);
    h[huge] = '\0';
    CHECK_INT(hvrpc_bus_topic_check(h, NULL, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "longer than 256 bytes");
    CHECK(strlen(st.message) < 200);
    free(h);

    /* Patterns. */
    pattern_ok(">");
    pattern_ok("*");
    pattern_ok("vm.*.heartbeat");
    pattern_ok("vm.>");
    pattern_ok("*.*.>");
    pattern_ok("vm.web1.heartbeat");
    pattern_bad("", "empty");
    pattern_bad(">.a", "'>' may only be the last segment");
    pattern_bad("a.>.b", "'>' may only be the last segment");
    pattern_bad("a*", "mixes a wildcard");
    pattern_bad("a.b>", "mixes a wildcard");
    pattern_bad("**", "mixes a wildcard");
    pattern_bad("a..*", "segment 2 is empty");
    pattern_bad("a .*", "byte 0x20");
    pattern_bad("1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.>",
                "more than 16 segments");

    /* Matching. */
    match("a", "a", true);
    match("a", "b", false);
    match("a", "a.b", false);
    match("a.b", "a", false);
    match("a.b", "a.b", true);
    match("a.b", "a.bc", false);
    match("a.bc", "a.b", false);
    match("*", "a", true);
    match("*", "a.b", false);
    match("vm.*.heartbeat", "vm.web1.heartbeat", true);
    match("vm.*.heartbeat", "vm.web1.web2.heartbeat", false);
    match("vm.*.heartbeat", "vm.heartbeat", false);
    match("vm.*.heartbeat", "vm.web1.heartbeats", false);
    match("vm.>", "vm.a", true);
    match("vm.>", "vm.a.b.c", true);
    match("vm.>", "vm", false);
    match("vm.>", "vmx.a", false);
    match(">", "a", true);
    match(">", "a.b.c", true);
    match("*.>", "a", false);
    match("*.>", "a.b", true);
    match("*.*", "a.b", true);
    match("*.*", "a.b.c", false);
    match("a.*.c.>", "a.x.c.d.e", true);
    match("a.*.c.>", "a.x.d.d.e", false);
    return check_done();
}
