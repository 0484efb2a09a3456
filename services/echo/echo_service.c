/*
 * echo_service.c - hvrpc.echo.v1.Echo: the typed layer (what codegen will
 * generate) and the built-in implementation.
 */
#include <stdlib.h>
#include <string.h>

#include "echo_service.h"

/* --- typed layer ---------------------------------------------------------- */

typedef struct typed_reg {
    hvrpc_echo_v1_echo_handlers h;
    void *user_data;
} typed_reg;

/* The decoded request lives as long as the call: it is freed when the
 * handler answers, through this wrapper. */
static void echo_trampoline(hvrpc_call *call, const uint8_t *req, size_t len,
                            void *user_data)
{
    typed_reg *reg = user_data;
    Hvrpc__Echo__V1__EchoRequest *msg =
        hvrpc__echo__v1__echo_request__unpack(NULL, len, req);
    if (!msg) {
        hvrpc_call_fail(call, HVRPC_INVALID_ARGUMENT,
                        "request does not decode as "
                        "hvrpc.echo.v1.EchoRequest");
        return;
    }
    reg->h.echo(call, msg, reg->user_data);
    hvrpc__echo__v1__echo_request__free_unpacked(msg, NULL);
}

static const hvrpc_method echo_methods[] = {
    {"Echo", echo_trampoline},
};

static const hvrpc_service echo_service = {
    HVRPC_ECHO_SERVICE_NAME, echo_methods,
    sizeof echo_methods / sizeof echo_methods[0]};

hvrpc_code hvrpc_echo_v1_echo_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                       const hvrpc_echo_v1_echo_handlers *h,
                                       void *user_data, hvrpc_status *st)
{
    if (!h || !h->echo)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "%s: handler for Echo missing",
                                HVRPC_ECHO_SERVICE_NAME);
    typed_reg *reg = malloc(sizeof *reg);
    if (!reg)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory registering %s",
                                HVRPC_ECHO_SERVICE_NAME);
    reg->h = *h;
    reg->user_data = user_data;
    hvrpc_code c = hvrpc_server_register(srv, ep, &echo_service, reg, free, st);
    if (c != HVRPC_OK)
        free(reg);
    return c;
}

/* --- the built-in implementation --------------------------------------------
 */

/* What a delayed answer needs once the handler has returned. */
typedef struct deferred {
    hvrpc_call *call;
    uint32_t response_size;
    int32_t fail_code;
    char *fail_message;
    size_t payload_len;
    uint8_t payload[]; /* the request payload */
} deferred;

static void answer(hvrpc_call *call, const uint8_t *payload, size_t len,
                   uint32_t response_size, int32_t fail_code,
                   const char *fail_message)
{
    if (fail_code != 0) {
        hvrpc_call_fail(call, hvrpc_code_from_wire(fail_code), "%s",
                        fail_message ? fail_message : "");
        return;
    }
    uint32_t max = hvrpc_server_max_frame(hvrpc_call_server(call));
    if (response_size > max) {
        /* Refused before allocating: a peer must not make us allocate
         * more than one frame can carry. */
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED,
                        "response_size %u exceeds the maximum frame of %u "
                        "bytes",
                        response_size, max);
        return;
    }

    Hvrpc__Echo__V1__EchoResponse resp = HVRPC__ECHO__V1__ECHO_RESPONSE__INIT;
    uint8_t *filler = NULL;
    if (response_size) {
        filler = malloc(response_size);
        if (!filler) {
            hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED,
                            "out of memory for %u response bytes",
                            response_size);
            return;
        }
        for (uint32_t i = 0; i < response_size; i++)
            filler[i] = (uint8_t)('a' + i % 26);
        resp.payload.data = filler;
        resp.payload.len = response_size;
    } else {
        resp.payload.data = (uint8_t *)payload;
        resp.payload.len = len;
    }

    size_t n = hvrpc_call_metadata_count(call);
    Hvrpc__Echo__V1__EchoResponse__MetadataEntry *entries =
        n ? calloc(n, sizeof *entries) : NULL;
    Hvrpc__Echo__V1__EchoResponse__MetadataEntry **ptrs =
        n ? calloc(n, sizeof *ptrs) : NULL;
    if (n && (!entries || !ptrs)) {
        free(entries);
        free(ptrs);
        free(filler);
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED,
                        "out of memory for %zu metadata entries", n);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *k, *v;
        hvrpc_call_metadata_at(call, i, &k, &v);
        hvrpc__echo__v1__echo_response__metadata_entry__init(&entries[i]);
        entries[i].key = (char *)k;
        entries[i].value = (char *)v;
        ptrs[i] = &entries[i];
    }
    resp.n_metadata = n;
    resp.metadata = ptrs;

    char peer[160];
    hvrpc_peer_format(hvrpc_call_peer(call), peer, sizeof peer);
    resp.peer = peer;

    hvrpc_call_reply_message(call, &resp.base);
    free(entries);
    free(ptrs);
    free(filler);
}

static void answer_deferred(void *arg)
{
    deferred *d = arg;
    answer(d->call, d->payload, d->payload_len, d->response_size, d->fail_code,
           d->fail_message);
    free(d->fail_message);
    free(d);
}

static void echo(hvrpc_call *call, const Hvrpc__Echo__V1__EchoRequest *req,
                 void *user_data)
{
    (void)user_data;
    if (!req->delay_ms) {
        answer(call, req->payload.data, req->payload.len, req->response_size,
               req->fail_code, req->fail_message);
        return;
    }
    deferred *d = malloc(sizeof *d + req->payload.len);
    char *msg = strdup(req->fail_message ? req->fail_message : "");
    if (!d || !msg) {
        free(d);
        free(msg);
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED,
                        "out of memory delaying the answer");
        return;
    }
    d->call = call;
    d->response_size = req->response_size;
    d->fail_code = req->fail_code;
    d->fail_message = msg;
    d->payload_len = req->payload.len;
    if (req->payload.len)
        memcpy(d->payload, req->payload.data, req->payload.len);
    hvrpc_status st;
    if (hvrpc_server_schedule(hvrpc_call_server(call), req->delay_ms,
                              answer_deferred, d, &st) != HVRPC_OK) {
        free(d->fail_message);
        free(d);
        hvrpc_call_fail(call, st.code, "%s", st.message);
    }
}

hvrpc_code hvrpc_echo_service_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                       hvrpc_status *st)
{
    static const hvrpc_echo_v1_echo_handlers handlers = {.echo = echo};
    return hvrpc_echo_v1_echo_register(srv, ep, &handlers, NULL, st);
}
