/*
 * tests/integration/test_mem.c - the in-memory transport (mem://NAME):
 * server and clients in this one process, through the real runtime.
 *
 * - mem:// addresses parse, format back, and bad names are refused;
 * - connecting to a name nobody listens on: UNAVAILABLE saying so;
 * - unary calls (the echo service, peer identity "mem:uid=..,pid=<ours>")
 *   and streams of each kind (the streaming test service), in order;
 * - a name listened on twice: ALREADY_EXISTS; after the server is freed
 *   the name is free again (reuse), and its clients' calls fail
 *   UNAVAILABLE instead of hanging, queued connections too;
 * - concurrency: threads connecting and calling over many connections
 *   while another thread listens on and closes names (run under TSan).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "echo_service.h"
#include "integ_util.h"
#include "stream_service.h"

static hvrpc_server *serve(const char *uri)
{
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep = NULL;
    hvrpc_status st;
    if (hvrpc_server_create(NULL, &srv, &st) != HVRPC_OK ||
        hvrpc_server_listen(srv, uri, &ep, &st) != HVRPC_OK ||
        hvrpc_echo_service_register(srv, ep, &st) != HVRPC_OK ||
        stream_service_register(srv, ep) != 0 ||
        hvrpc_server_start(srv, &st) != HVRPC_OK) {
        fprintf(stderr, "serve %s: %s\n", uri, st.message);
        hvrpc_server_free(srv);
        return NULL;
    }
    return srv;
}

/* One echo call; the code, and the response's peer into peer. */
static hvrpc_code echo(hvrpc_client *c, const char *text, char *peer,
                       size_t peer_size)
{
    echo_req req = ECHO_REQ_INIT;
    req.payload.data = (uint8_t *)text;
    req.payload.len = strlen(text);
    echo_resp *r = NULL;
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    o.timeout_ms = 20000;
    hvrpc_status st;
    hvrpc_code code = integ_echo(c, &req, &o, &r, &st);
    if (code == HVRPC_OK) {
        if (r->payload.len != strlen(text) ||
            memcmp(r->payload.data, text, r->payload.len) != 0)
            code = HVRPC_DATA_LOSS;
        if (peer)
            snprintf(peer, peer_size, "%s", r->peer);
        echo_resp_free(r);
    }
    return code;
}

static void test_addresses(void)
{
    hvrpc_address a;
    hvrpc_status st;
    char buf[HVRPC_ADDRESS_STRLEN];
    CHECK_INT(hvrpc_address_parse("MEM://svc-1.v_2", &a, &st), HVRPC_OK);
    CHECK_INT(a.kind, HVRPC_ADDR_MEM);
    CHECK_STR(a.u.mem.name, "svc-1.v_2");
    hvrpc_address_format(&a, buf, sizeof buf);
    CHECK_STR(buf, "mem://svc-1.v_2");
    CHECK_INT(hvrpc_address_parse("mem://", &a, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "missing NAME");
    CHECK_INT(hvrpc_address_parse("mem://a/b", &a, &st),
              HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "'/' at offset 1 is not allowed");
    char longname[HVRPC_MEM_NAME_MAX + 16] = "mem://";
    memset(longname + 6, 'x', HVRPC_MEM_NAME_MAX);
    CHECK_INT(hvrpc_address_parse(longname, &a, &st), HVRPC_OK);
    strcat(longname, "y");
    CHECK_INT(hvrpc_address_parse(longname, &a, &st), HVRPC_INVALID_ARGUMENT);
    CHECK_CONTAINS(st.message, "name is 65 bytes, more than 64");
}

static void test_unknown_name(void)
{
    hvrpc_client *c = NULL;
    hvrpc_status st;
    CHECK_INT(hvrpc_client_connect("mem://nobody", NULL, &c, &st),
              HVRPC_UNAVAILABLE);
    CHECK_STR(st.message, "mem://nobody: cannot connect: nothing listens on "
                          "that name in this process");
    CHECK(c == NULL);
}

static void test_streams(hvrpc_client *c)
{
    hvrpc_stream *s = NULL;
    hvrpc_status st;
    hvrpc_buf b;
    hvrpc_stream_options o = HVRPC_STREAM_OPTIONS_INIT;
    o.timeout_ms = 30000;

    /* Server streaming: 5 messages of 8 bytes, index first, in order. */
    CHECK_INT(hvrpc_client_stream(c, STREAMS_SERVICE, "Range",
                                  HVRPC_SERVER_STREAMING, "5 8", 3, &o, &s,
                                  &st),
              HVRPC_OK);
    for (uint32_t i = 0; s && i < 5; i++) {
        CHECK_INT(hvrpc_stream_recv(s, &b, HVRPC_WAIT_FOREVER, &st), HVRPC_OK);
        CHECK_INT(b.len, 8);
        if (b.len == 8)
            CHECK_INT(((uint32_t)b.data[0] << 24 | (uint32_t)b.data[1] << 16 |
                       (uint32_t)b.data[2] << 8 | b.data[3]),
                      i);
        hvrpc_buf_free(&b);
    }
    if (s)
        CHECK_INT(hvrpc_stream_recv(s, &b, HVRPC_WAIT_FOREVER, &st), HVRPC_END);
    hvrpc_stream_free(s);

    /* Client streaming: three messages, one answer counting them. */
    s = NULL;
    CHECK_INT(hvrpc_client_stream(c, STREAMS_SERVICE, "Sum",
                                  HVRPC_CLIENT_STREAMING, NULL, 0, &o, &s, &st),
              HVRPC_OK);
    if (s) {
        for (int i = 0; i < 3; i++)
            CHECK_INT(hvrpc_stream_send(s, "abcd", 4, HVRPC_WAIT_FOREVER, &st),
                      HVRPC_OK);
        CHECK_INT(hvrpc_stream_close_send(s, &st), HVRPC_OK);
        CHECK_INT(hvrpc_stream_recv(s, &b, HVRPC_WAIT_FOREVER, &st), HVRPC_OK);
        CHECK(b.len == 16 && memcmp(b.data, "count=3 bytes=12", 16) == 0);
        hvrpc_buf_free(&b);
    }
    hvrpc_stream_free(s);

    /* Bidi: each message back in turn, then "close" ends it OK. */
    s = NULL;
    CHECK_INT(hvrpc_client_stream(c, STREAMS_SERVICE, "Echo",
                                  HVRPC_BIDI_STREAMING, NULL, 0, &o, &s, &st),
              HVRPC_OK);
    const char *words[] = {"one", "two", "three"};
    for (int i = 0; s && i < 3; i++) {
        CHECK_INT(hvrpc_stream_send(s, words[i], strlen(words[i]),
                                    HVRPC_WAIT_FOREVER, &st),
                  HVRPC_OK);
        CHECK_INT(hvrpc_stream_recv(s, &b, HVRPC_WAIT_FOREVER, &st), HVRPC_OK);
        CHECK(b.len == strlen(words[i]) &&
              memcmp(b.data, words[i], b.len) == 0);
        hvrpc_buf_free(&b);
    }
    if (s) {
        CHECK_INT(hvrpc_stream_send(s, "close", 5, HVRPC_WAIT_FOREVER, &st),
                  HVRPC_OK);
        CHECK_INT(hvrpc_stream_recv(s, &b, HVRPC_WAIT_FOREVER, &st), HVRPC_END);
    }
    hvrpc_stream_free(s);
}

static void test_calls_and_lifecycle(void)
{
    hvrpc_status st;
    hvrpc_server *srv = serve("mem://calls");
    CHECK(srv != NULL);
    if (!srv)
        return;

    /* The name is taken while the server lives. */
    hvrpc_server *other = NULL;
    CHECK_INT(hvrpc_server_create(NULL, &other, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_listen(other, "mem://calls", NULL, &st),
              HVRPC_ALREADY_EXISTS);
    CHECK_STR(st.message,
              "mem://calls: this process already listens on that name");
    hvrpc_server_free(other);

    hvrpc_client *c = integ_connect("mem://calls", 0);
    CHECK(c != NULL);
    if (!c) {
        hvrpc_server_free(srv);
        return;
    }
    char peer[160], want[160];
    CHECK_INT(echo(c, "hello", peer, sizeof peer), HVRPC_OK);
    snprintf(want, sizeof want, "mem:uid=%ld,gid=%ld,pid=%ld", (long)getuid(),
             (long)getgid(), (long)getpid());
    CHECK_STR(peer, want);
    test_streams(c);

    /* A second connection at once: both served. */
    hvrpc_client *c2 = integ_connect("mem://calls", 0);
    CHECK(c2 != NULL);
    if (c2) {
        CHECK_INT(echo(c2, "second", NULL, 0), HVRPC_OK);
        CHECK_INT(echo(c, "first again", NULL, 0), HVRPC_OK);
    }

    /* The server goes: its clients' calls fail, the name is released. */
    hvrpc_server_free(srv);
    hvrpc_code code = echo(c, "gone", NULL, 0);
    CHECK(code == HVRPC_UNAVAILABLE || code == HVRPC_CANCELLED);
    hvrpc_client_free(c);
    hvrpc_client_free(c2);
    c = NULL;
    CHECK_INT(hvrpc_client_connect("mem://calls", NULL, &c, &st),
              HVRPC_UNAVAILABLE);

    /* Reuse: a new server on the same name, and a client reconnects. */
    srv = serve("mem://calls");
    CHECK(srv != NULL);
    c = integ_connect("mem://calls", 0);
    CHECK(c != NULL);
    if (c)
        CHECK_INT(echo(c, "reconnected", NULL, 0), HVRPC_OK);
    hvrpc_client_free(c);
    hvrpc_server_free(srv);
}

/* A listener that never accepts (not started): connects queue; freeing
 * it releases them, and a call waiting on one fails instead of hanging. */
static void test_queued_then_closed(void)
{
    hvrpc_server *srv = NULL;
    hvrpc_status st;
    CHECK_INT(hvrpc_server_create(NULL, &srv, &st), HVRPC_OK);
    CHECK_INT(hvrpc_server_listen(srv, "mem://idle", NULL, &st), HVRPC_OK);
    hvrpc_client *c = integ_connect("mem://idle", 0);
    CHECK(c != NULL);
    hvrpc_server_free(srv);
    if (c) {
        int64_t t0 = integ_now_ms();
        hvrpc_code code = echo(c, "anyone?", NULL, 0);
        CHECK_INT(code, HVRPC_UNAVAILABLE);
        CHECK(integ_now_ms() - t0 < 15000);
        hvrpc_client_free(c);
    }
}

#define CALLERS          4
#define CONNS_PER_CALLER 16
#define CALLS_PER_CONN   5
#define CHURN_ROUNDS     40

static atomic_int failures;
static atomic_bool churn_done;

static void *caller(void *arg)
{
    (void)arg;
    for (int i = 0; i < CONNS_PER_CALLER; i++) {
        hvrpc_client *c = integ_connect("mem://busy", 0);
        if (!c) {
            atomic_fetch_add(&failures, 1);
            continue;
        }
        for (int j = 0; j < CALLS_PER_CONN; j++)
            if (echo(c, "busy", NULL, 0) != HVRPC_OK)
                atomic_fetch_add(&failures, 1);
        hvrpc_client_free(c);
    }
    return NULL;
}

/* Listens on and closes names while others connect to them. */
static void *churner(void *arg)
{
    (void)arg;
    for (int i = 0; i < CHURN_ROUNDS; i++) {
        hvrpc_server *srv = serve("mem://churn");
        if (!srv) {
            atomic_fetch_add(&failures, 1);
            continue;
        }
        hvrpc_server_free(srv);
    }
    atomic_store(&churn_done, true);
    return NULL;
}

/* Connects to the churning name: each attempt either works or fails
 * UNAVAILABLE (nobody listening, or the listener closed); nothing else. */
static void *churn_client(void *arg)
{
    int *odd = arg;
    while (!atomic_load(&churn_done)) {
        hvrpc_client *c = NULL;
        hvrpc_status st;
        hvrpc_code code = hvrpc_client_connect("mem://churn", NULL, &c, &st);
        if (code == HVRPC_OK) {
            code = echo(c, "churn", NULL, 0);
            hvrpc_client_free(c);
        }
        if (code != HVRPC_OK && code != HVRPC_UNAVAILABLE &&
            code != HVRPC_CANCELLED) {
            fprintf(stderr, "churn: %s: %s\n", hvrpc_code_name(code),
                    st.message);
            (*odd)++;
        }
    }
    return NULL;
}

static void test_concurrency(void)
{
    hvrpc_server *srv = serve("mem://busy");
    CHECK(srv != NULL);
    if (!srv)
        return;
    pthread_t callers[CALLERS], ch, cc;
    int odd = 0;
    for (int i = 0; i < CALLERS; i++)
        pthread_create(&callers[i], NULL, caller, NULL);
    pthread_create(&ch, NULL, churner, NULL);
    pthread_create(&cc, NULL, churn_client, &odd);
    for (int i = 0; i < CALLERS; i++)
        pthread_join(callers[i], NULL);
    pthread_join(ch, NULL);
    pthread_join(cc, NULL);
    CHECK_INT(atomic_load(&failures), 0);
    CHECK_INT(odd, 0);
    /* After all of that, the names are in order: busy still served,
     * churn free. */
    hvrpc_client *c = integ_connect("mem://busy", 0);
    CHECK(c != NULL);
    if (c)
        CHECK_INT(echo(c, "after", NULL, 0), HVRPC_OK);
    hvrpc_client_free(c);
    hvrpc_server_free(srv);
    srv = serve("mem://churn");
    CHECK(srv != NULL);
    hvrpc_server_free(srv);
}

int main(void)
{
    test_addresses();
    test_unknown_name();
    test_calls_and_lifecycle();
    test_queued_then_closed();
    test_concurrency();
    return check_done();
}
