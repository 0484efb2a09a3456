/*
 * test_subject.c - the bridge's subject rules (services/bridge/
 * bridge_subject.c): what keeps a guest inside its host's subject space,
 * how commands and imports come back, and message ids.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge_subject.h"

static int failures;

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #c);                                                       \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static void out_ok(const char *host, const char *topic, const char *want)
{
    char out[BRIDGE_SUBJECT_MAX];
    hvrpc_status st;

    CHECK(bridge_subject_for_topic(host, topic, out, sizeof out, &st) ==
          HVRPC_OK);
    CHECK(strcmp(out, want) == 0);
}

static void out_refused(const char *topic, const char *why)
{
    char out[BRIDGE_SUBJECT_MAX];
    hvrpc_status st;

    if (bridge_subject_for_topic("hostA", topic, out, sizeof out, &st) !=
        HVRPC_INVALID_ARGUMENT) {
        fprintf(stderr, "topic '%s' was not refused\n", topic);
        failures++;
    } else if (strstr(st.message, why) == NULL) {
        fprintf(stderr, "topic '%s': '%s' lacks '%s'\n", topic, st.message,
                why);
        failures++;
    }
}

static void in(const char *host, const char *subject, const char *want)
{
    char out[BRIDGE_SUBJECT_MAX + 8];
    hvrpc_status st;
    hvrpc_code r =
        bridge_topic_for_subject(host, subject, out, sizeof out, &st);

    if (want == NULL) {
        CHECK(r == HVRPC_INVALID_ARGUMENT);
    } else {
        CHECK(r == HVRPC_OK);
        if (r == HVRPC_OK && strcmp(out, want) != 0) {
            fprintf(stderr, "%s -> %s, expected %s\n", subject, out, want);
            failures++;
        }
    }
}

int main(void)
{
    char longtopic[400], out[BRIDGE_SUBJECT_MAX];
    char id1[BRIDGE_MSG_ID_MAX], id2[BRIDGE_MSG_ID_MAX];
    const char *k[1] = {"seq"}, *v1[1] = {"1"}, *v2[1] = {"2"};
    hvrpc_status st;

    CHECK(bridge_host_id_valid("hostA"));
    CHECK(bridge_host_id_valid("h_1-x"));
    CHECK(!bridge_host_id_valid(""));
    CHECK(!bridge_host_id_valid("a.b"));
    CHECK(!bridge_host_id_valid("*"));
    CHECK(!bridge_host_id_valid(">"));
    CHECK(!bridge_host_id_valid("a b"));
    memset(longtopic, 'h', 65);
    longtopic[65] = '\0';
    CHECK(!bridge_host_id_valid(longtopic));

    out_ok("hostA", "vm.web1.heartbeat", "hvrpc.hostA.vm.web1.heartbeat");
    out_ok("hostA", "host.disk./dev/sda.smart",
           "hvrpc.hostA.host.disk./dev/sda.smart");
    out_ok("hostA", "cmdx.y", "hvrpc.hostA.cmdx.y");
    /* Nothing a guest chooses escapes hvrpc.hostA. or reaches its
     * command space. */
    out_refused("vm.>", "subject cannot carry");
    out_refused(">", "subject cannot carry");
    out_refused("vm.*.x", "subject cannot carry");
    out_refused("a>b", "subject cannot carry");
    out_refused("vm web1", "subject cannot carry");
    out_refused("vm\tweb1", "subject cannot carry");
    out_refused("vm.\xc3\xa9", "subject cannot carry");
    out_refused("vm..x", "empty segment");
    out_refused(".vm", "empty segment");
    out_refused("vm.", "empty or ends");
    out_refused("", "empty");
    out_refused("cmd", "reserved");
    out_refused("cmd.hostB.reboot", "reserved");
    out_refused("fleet.hostB.vm.x", "reserved");
    /* Too long for the buffer: refused, not cut. */
    memset(longtopic, 'a', sizeof longtopic - 1);
    longtopic[sizeof longtopic - 1] = '\0';
    CHECK(bridge_subject_for_topic("hostA", longtopic, out, sizeof out, &st) ==
          HVRPC_INVALID_ARGUMENT);
    CHECK(bridge_subject_for_topic("bad.host", "vm.x", out, sizeof out, &st) ==
          HVRPC_INVALID_ARGUMENT);

    in("hostA", "hvrpc.hostA.cmd.guest1.reboot", "cmd.guest1.reboot");
    in("hostA", "hvrpc.hostB.vm.web1.up", "fleet.hostB.vm.web1.up");
    in("hostA", "hvrpc.hostA.vm.web1.up", NULL); /* its own event */
    in("hostA", "hvrpc.hostB.cmd.reboot", NULL); /* another host's command */
    in("hostA", "hvrpc.hostA.cmd", NULL);
    in("hostA", "hvrpc.hostAB.cmd.x", NULL); /* not a prefix match */
    in("hostA", "other.hostB.vm", NULL);
    in("hostA", "hvrpc.hostB", NULL);
    in("hostA", "hvrpc.hostB.a..b", NULL);

    bridge_msg_id("hostA", 123, "unix:uid=0", "vm.x", (const uint8_t *)"p", 1,
                  k, v1, 1, id1);
    bridge_msg_id("hostA", 123, "unix:uid=0", "vm.x", (const uint8_t *)"p", 1,
                  k, v1, 1, id2);
    CHECK(strcmp(id1, id2) == 0);
    CHECK(strncmp(id1, "hostA:123:", 10) == 0);
    bridge_msg_id("hostA", 123, "unix:uid=0", "vm.x", (const uint8_t *)"p", 1,
                  k, v2, 1, id2);
    CHECK(strcmp(id1, id2) != 0);
    bridge_msg_id("hostA", 123, "unix:uid=1", "vm.x", (const uint8_t *)"p", 1,
                  k, v1, 1, id2);
    CHECK(strcmp(id1, id2) != 0);
    bridge_msg_id("hostA", 124, "unix:uid=0", "vm.x", (const uint8_t *)"p", 1,
                  k, v1, 1, id2);
    CHECK(strcmp(id1, id2) != 0);
    bridge_msg_id("hostA", 123, "unix:uid=0", "vm.x", (const uint8_t *)"q", 1,
                  k, v1, 1, id2);
    CHECK(strcmp(id1, id2) != 0);

    CHECK(bridge_header_key_ok("seq"));
    CHECK(bridge_header_key_ok("X-Trace"));
    CHECK(!bridge_header_key_ok("Hvrpc-Publisher"));
    CHECK(!bridge_header_key_ok("hvrpc-publisher"));
    CHECK(!bridge_header_key_ok("Nats-Msg-Id"));
    CHECK(!bridge_header_key_ok("a:b"));
    CHECK(!bridge_header_key_ok("a b"));
    CHECK(!bridge_header_key_ok(""));
    CHECK(bridge_header_value_ok("x y"));
    CHECK(!bridge_header_value_ok("x\r\nNats-Msg-Id: 1"));

    if (failures == 0)
        printf("test_subject: ok\n");
    return failures ? 1 : 0;
}
