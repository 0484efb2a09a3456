/*
 * bench/peer_hvrpc.c - our side: the hvrpc server and client under test.
 *
 * Both do what the baselines' echo services and clients do: the server
 * decodes the EchoRequest as generated handlers do (hvrpc_call_decode:
 * into the call's arena, a large payload left in the request) and
 * answers an EchoResponse carrying the same payload
 * (hvrpc_call_reply_message packs it straight into the frame); the
 * client packs each request and decodes each response. Server options are the
 * defaults, so the figures are what a user gets, but for the limit of
 * connections per peer: every connection of the benchmark comes from the one
 * client process.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hvrpc/hvrpc.h>

#include "alloc_count.h"
#include "bench.h"
#include "hvrpc/echo/v1/echo.pb-c.h"
#include "peer.h"

#define SERVICE (hvrpc__echo__v1__echo__descriptor.name)
#define METHOD  "Echo"

/* --- server ----------------------------------------------------------- */

static void echo(hvrpc_call *call, const uint8_t *data, size_t len, void *ud)
{
    (void)ud;
    Hvrpc__Echo__V1__EchoRequest *req =
        (Hvrpc__Echo__V1__EchoRequest *)hvrpc_call_decode(
            call, &hvrpc__echo__v1__echo_request__descriptor, data, len);
    if (!req)
        return; /* answered INVALID_ARGUMENT */
    Hvrpc__Echo__V1__EchoResponse resp = HVRPC__ECHO__V1__ECHO_RESPONSE__INIT;
    resp.payload = req->payload;
    hvrpc_call_reply_message(call, &resp.base);
}

static const hvrpc_method methods[] = {{.name = METHOD, .handler = echo}};

int bench_hvrpc_serve(const char *uri)
{
    static hvrpc_service service = {.methods = methods, .n_methods = 1};
    service.name = SERVICE;
    peer_serve_init();
    hvrpc_server *srv = NULL;
    hvrpc_endpoint *ep = NULL;
    hvrpc_status st;
    hvrpc_server_options o;
    hvrpc_server_options_init(&o);
    o.max_connections_per_peer = 0; /* no limit: every connection and */
    o.max_calls_per_peer = 0;       /* call comes from one client process */
    /* HVRPC_BENCH_INLINE=1: handlers on the event-loop thread (the echo
     * handler never blocks), to measure what the hand-off costs. */
    const char *inl = getenv("HVRPC_BENCH_INLINE");
    o.inline_handlers = inl && strcmp(inl, "1") == 0;
    if (hvrpc_server_create(&o, &srv, &st) != HVRPC_OK ||
        hvrpc_server_listen(srv, uri, &ep, &st) != HVRPC_OK ||
        hvrpc_server_register(srv, ep, &service, NULL, NULL, &st) != HVRPC_OK ||
        hvrpc_server_start(srv, &st) != HVRPC_OK) {
        hvrpc_server_free(srv);
        return peer_error("hvrpc server on %s: %s", uri, st.message);
    }
    char bound[HVRPC_ADDRESS_STRLEN];
    hvrpc_address_format(hvrpc_endpoint_address(ep), bound, sizeof bound);
    peer_serve_ready(bound);
    peer_serve_wait();
    hvrpc_server_free(srv);
    return 0;
}

/* --- client ----------------------------------------------------------- */

typedef struct load load;

/* One call kept in flight on one connection. */
typedef struct slot {
    load *ld;
    hvrpc_client *c;
    uint8_t *buf; /* the packed request */
    size_t len;
} slot;

struct load {
    const peer_load *pl;
    hvrpc_client **clients;
    Hvrpc__Echo__V1__EchoRequest req;
    slot *slots;
    size_t n_slots;
    /* The running phase. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t outstanding; /* slots with a call in flight; mu */
    int64_t end_ns;
    atomic_uint_fast64_t done; /* calls completed before end_ns */
    atomic_bool failed;
    char why[320]; /* the first failure; mu */
};

static void fail(load *ld, const char *what, const char *msg)
{
    pthread_mutex_lock(&ld->mu);
    if (!atomic_exchange(&ld->failed, true))
        snprintf(ld->why, sizeof ld->why, "%s: %s", what, msg);
    pthread_mutex_unlock(&ld->mu);
}

/* Decodes a response and checks its payload. */
static bool check_response(load *ld, const uint8_t *data, size_t len)
{
    Hvrpc__Echo__V1__EchoResponse *resp =
        hvrpc__echo__v1__echo_response__unpack(NULL, len, data);
    bool ok = resp && resp->payload.len == ld->pl->size;
    if (resp)
        hvrpc__echo__v1__echo_response__free_unpacked(resp, NULL);
    if (!ok)
        fail(ld, "response", "not an EchoResponse with the payload sent");
    return ok;
}

/* A blocking call, as simple guest code makes it: what a generated stub
 * does (hvrpc_client_invoke: the response decoded by the library). */
static bool call_once(load *ld, hvrpc_client *c)
{
    ProtobufCMessage *msg = NULL;
    hvrpc_status st;
    if (hvrpc_client_invoke(c, SERVICE, METHOD, &ld->req.base,
                            &hvrpc__echo__v1__echo_response__descriptor, NULL,
                            &msg, &st) != HVRPC_OK) {
        fail(ld, "call", st.message);
        return false;
    }
    Hvrpc__Echo__V1__EchoResponse *resp = (Hvrpc__Echo__V1__EchoResponse *)msg;
    bool ok = resp->payload.len == ld->pl->size;
    protobuf_c_message_free_unpacked(msg, NULL);
    if (!ok)
        fail(ld, "response", "not an EchoResponse with the payload sent");
    return ok;
}

static int call_first(void *arg)
{
    load *ld = arg;
    return call_once(ld, ld->clients[0]) ? 0 : -1;
}

static void start_async(slot *s);

/* A slot stops: its last call has ended. */
static void slot_end(load *ld)
{
    pthread_mutex_lock(&ld->mu);
    if (--ld->outstanding == 0)
        pthread_cond_signal(&ld->cv);
    pthread_mutex_unlock(&ld->mu);
}

static void on_done(const hvrpc_status *st, const uint8_t *resp, size_t len,
                    void *arg)
{
    slot *s = arg;
    load *ld = s->ld;
    bool ok = false;
    if (st->code == HVRPC_OK)
        ok = check_response(ld, resp, len);
    else
        fail(ld, "call", st->message);
    if (ok && peer_now_ns() < ld->end_ns) {
        atomic_fetch_add(&ld->done, 1);
        start_async(s);
        return;
    }
    slot_end(ld);
}

/* Packs the request anew, as every client under test does per call. */
static void start_async(slot *s)
{
    load *ld = s->ld;
    hvrpc_status st;
    s->len = protobuf_c_message_pack(&ld->req.base, s->buf);
    if (hvrpc_client_call_async(s->c, SERVICE, METHOD, s->buf, s->len, NULL,
                                on_done, s, &st) != HVRPC_OK) {
        fail(ld, "call", st.message);
        slot_end(ld);
    }
}

/* Runs the load for ms; returns the calls completed within it. */
static uint64_t run_phase(load *ld, unsigned ms, peer_samples *samples,
                          int64_t *elapsed)
{
    int64_t t0 = peer_now_ns();
    ld->end_ns = t0 + (int64_t)ms * 1000000;
    atomic_store(&ld->done, 0);
    if (peer_load_timed(ld->pl)) {
        int64_t n = peer_run_timed(call_first, ld, ld->end_ns, samples);
        *elapsed = peer_now_ns() - t0;
        return n < 0 ? 0 : (uint64_t)n;
    }
    if (ld->n_slots && ms) {
        ld->outstanding = ld->n_slots;
        for (size_t i = 0; i < ld->n_slots; i++)
            start_async(&ld->slots[i]);
        pthread_mutex_lock(&ld->mu);
        while (ld->outstanding)
            pthread_cond_wait(&ld->cv, &ld->mu);
        pthread_mutex_unlock(&ld->mu);
    }
    *elapsed = (int64_t)ms * 1000000;
    return atomic_load(&ld->done);
}

static int client_run(load *ld, const char *uri)
{
    const peer_load *pl = ld->pl;
    for (unsigned i = 0; i < pl->conns; i++) {
        hvrpc_status st;
        if (hvrpc_client_connect(uri, NULL, &ld->clients[i], &st) != HVRPC_OK)
            return peer_error("connect %u to %s: %s", i, uri, st.message);
        if (!call_once(ld, ld->clients[i]))
            return peer_error("first call on connection %u: %s", i, ld->why);
    }
    size_t packed = protobuf_c_message_get_packed_size(&ld->req.base);
    for (size_t i = 0; i < ld->n_slots; i++) {
        slot *s = &ld->slots[i];
        s->ld = ld;
        s->c = ld->clients[i / pl->inflight];
        if (!(s->buf = malloc(packed)))
            return peer_error("out of memory");
    }
    int64_t elapsed;
    run_phase(ld, pl->warm_ms, NULL, &elapsed);
    if (atomic_load(&ld->failed))
        return peer_error("%s", ld->why);
    peer_client_warm();

    peer_samples samples;
    if (peer_samples_init(&samples, pl->run_ms) != 0)
        return peer_error("out of memory");
    uint64_t a0 = alloc_count_get();
    uint64_t calls = run_phase(ld, pl->run_ms, &samples, &elapsed);
    int64_t allocs =
        alloc_count_enabled() ? (int64_t)(alloc_count_get() - a0) : -1;
    int rc = 0;
    if (atomic_load(&ld->failed))
        rc = peer_error("%s", ld->why);
    else
        peer_client_result(&samples, calls, elapsed, allocs);
    peer_samples_free(&samples);
    return rc;
}

int bench_hvrpc_client(const char *uri, const peer_load *pl)
{
    load ld;
    memset(&ld, 0, sizeof ld);
    ld.pl = pl;
    pthread_mutex_init(&ld.mu, NULL);
    pthread_cond_init(&ld.cv, NULL);
    hvrpc__echo__v1__echo_request__init(&ld.req);
    ld.req.payload.len = pl->size;
    ld.req.payload.data = calloc(1, pl->size ? pl->size : 1);
    ld.clients = calloc(pl->conns, sizeof *ld.clients);
    ld.n_slots = peer_load_timed(pl) ? 0 : (size_t)pl->conns * pl->inflight;
    ld.slots = calloc(ld.n_slots ? ld.n_slots : 1, sizeof *ld.slots);
    int rc = ld.req.payload.data && ld.clients && ld.slots
                 ? client_run(&ld, uri)
                 : peer_error("out of memory");
    /* Every call has ended (run_phase waits), so the clients go quietly. */
    for (unsigned i = 0; ld.clients && i < pl->conns; i++)
        hvrpc_client_free(ld.clients[i]);
    for (size_t i = 0; i < ld.n_slots; i++)
        free(ld.slots[i].buf);
    free(ld.slots);
    free(ld.clients);
    free(ld.req.payload.data);
    pthread_cond_destroy(&ld.cv);
    pthread_mutex_destroy(&ld.mu);
    return rc;
}
