/*
 * echo_service.c - the built-in hvrpc.echo.v1.Echo, on the generated
 * typed layer (hvrpc/echo/v1/echo.hvrpc.h).
 */
#include <stdlib.h>

#include "echo_service.h"

static void answer(hvrpc_call *call, const Hvrpc__Echo__V1__EchoRequest *req)
{
    if (req->fail_code != 0) {
        hvrpc_call_fail(call, hvrpc_code_from_wire(req->fail_code), "%s",
                        req->fail_message ? req->fail_message : "");
        return;
    }
    uint32_t response_size = req->response_size;
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
        resp.payload = req->payload;
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

    hvrpc__echo__v1__echo__echo_reply(call, &resp);
    free(entries);
    free(ptrs);
    free(filler);
}

/* A delayed answer. The decoded request stays valid until the call is
 * answered, so the answer reads it then. */
typedef struct deferred {
    hvrpc_call *call;
    const Hvrpc__Echo__V1__EchoRequest *req;
} deferred;

static void answer_deferred(void *arg)
{
    deferred *d = arg;
    answer(d->call, d->req);
    free(d);
}

static void echo(hvrpc_call *call, const Hvrpc__Echo__V1__EchoRequest *req,
                 void *user_data)
{
    (void)user_data;
    if (!req->delay_ms) {
        answer(call, req);
        return;
    }
    deferred *d = malloc(sizeof *d);
    if (!d) {
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED,
                        "out of memory delaying the answer");
        return;
    }
    d->call = call;
    d->req = req;
    hvrpc_status st;
    if (hvrpc_server_schedule(hvrpc_call_server(call), req->delay_ms,
                              answer_deferred, d, &st) != HVRPC_OK) {
        free(d);
        hvrpc_call_fail(call, st.code, "%s", st.message);
    }
}

hvrpc_code hvrpc_echo_service_register(hvrpc_server *srv, hvrpc_endpoint *ep,
                                       hvrpc_status *st)
{
    static const hvrpc__echo__v1__echo_handlers handlers = {.echo = echo};
    return hvrpc__echo__v1__echo_register(srv, ep, &handlers, NULL, st);
}
