/* tests/bus/bus_util.c - see bus_util.h. */
#include "bus_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static hvrpc_bus_options want_opts;
static int have_opts;
static hvrpc_bus *child_bus;

static void free_bus(void)
{
    /* atexit, after the server child freed its server. */
    hvrpc_bus_free(child_bus);
    child_bus = NULL;
}

static int register_bus(hvrpc_server *srv, hvrpc_endpoint *ep)
{
    hvrpc_status st;

    if (hvrpc_bus_create(have_opts ? &want_opts : NULL, &child_bus, &st) !=
            HVRPC_OK ||
        hvrpc_bus_register(srv, ep, child_bus, &st) != HVRPC_OK) {
        fprintf(stderr, "bus: %s\n", st.message);
        return -1;
    }
    atexit(free_bus);
    return 0;
}

int bus_server_start(server_proc *sp, const char *transport,
                     const hvrpc_bus_options *o)
{
    server_proc_options so = {
        .transport = transport, .workers = 4, .register_more = register_bus};
    char err[256];

    have_opts = o != NULL;
    if (o != NULL)
        want_opts = *o;
    if (server_proc_start(sp, &so, err, sizeof err) != 0) {
        fprintf(stderr, "server: %s\n", err);
        return -1;
    }
    return 0;
}

hvrpc_stream *bus_subscribe(hvrpc_client *c, const char *const *patterns,
                            size_t n, const bus_sub_opts *o, hvrpc_code *code,
                            hvrpc_status *st)
{
    Hvrpc__Bus__V1__SubscribeRequest req =
        HVRPC__BUS__V1__SUBSCRIBE_REQUEST__INIT;
    hvrpc_stream_options so = HVRPC_STREAM_OPTIONS_INIT;
    hvrpc_stream *s = NULL;
    bus_ev *e = NULL;
    hvrpc_code r;

    req.patterns = (char **)patterns;
    req.n_patterns = n;
    if (o != NULL) {
        req.overflow = (Hvrpc__Bus__V1__SubscribeRequest__Overflow)o->overflow;
        req.queue_size = o->queue_size;
        so.window = o->window;
    }
    r = hvrpc__bus__v1__bus__subscribe_open(c, &req, &so, &s, st);
    if (r == HVRPC_OK)
        r = bus_recv(s, &e, 5000, st);
    if (r == HVRPC_OK && e->kind != HVRPC__BUS__V1__EVENT__KIND__SUBSCRIBED) {
        r = HVRPC_INTERNAL;
        hvrpc_status_set(st, r, "first message is not SUBSCRIBED");
    }
    bus_ev_free(e);
    if (code != NULL)
        *code = r;
    if (r != HVRPC_OK) {
        hvrpc_stream_free(s);
        return NULL;
    }
    return s;
}

hvrpc_stream *bus_subscribe1(hvrpc_client *c, const char *pattern)
{
    hvrpc_status st;
    hvrpc_code r;
    hvrpc_stream *s = bus_subscribe(c, &pattern, 1, NULL, &r, &st);

    if (s == NULL)
        fprintf(stderr, "subscribe %s: %s: %s\n", pattern, hvrpc_code_name(r),
                st.message);
    return s;
}

hvrpc_code bus_publish(hvrpc_client *c, const char *topic, const void *payload,
                       size_t len, const char *const *headers, size_t n_headers,
                       uint32_t timeout_ms, bus_resp *resp, hvrpc_status *st)
{
    Hvrpc__Bus__V1__PublishRequest req = HVRPC__BUS__V1__PUBLISH_REQUEST__INIT;
    Hvrpc__Bus__V1__Header h[32];
    Hvrpc__Bus__V1__Header *hp[32];
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    bus_resp *r = NULL;
    hvrpc_code code;

    if (n_headers > 32)
        return hvrpc_status_set(st, HVRPC_INTERNAL, "test: too many headers");
    for (size_t i = 0; i < n_headers; i++) {
        hvrpc__bus__v1__header__init(&h[i]);
        h[i].key = (char *)headers[2 * i];
        h[i].value = (char *)headers[2 * i + 1];
        hp[i] = &h[i];
    }
    req.topic = (char *)topic;
    req.payload.data = (uint8_t *)payload;
    req.payload.len = len;
    req.headers = hp;
    req.n_headers = n_headers;
    o.timeout_ms = timeout_ms;
    code = hvrpc__bus__v1__bus__publish_call(c, &req, &r, &o, st);
    if (code == HVRPC_OK) {
        integ_count_calls(1);
        if (resp != NULL)
            *resp = *r;
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
    return code;
}

hvrpc_code bus_publish_text(hvrpc_client *c, const char *topic,
                            const char *text, bus_resp *resp)
{
    hvrpc_status st;
    hvrpc_code r =
        bus_publish(c, topic, text, strlen(text), NULL, 0, 0, resp, &st);

    if (r != HVRPC_OK)
        fprintf(stderr, "publish %s: %s: %s\n", topic, hvrpc_code_name(r),
                st.message);
    return r;
}

hvrpc_code bus_recv(hvrpc_stream *s, bus_ev **out, int timeout_ms,
                    hvrpc_status *st)
{
    *out = NULL;
    return hvrpc__bus__v1__bus__subscribe_recv(s, out, timeout_ms, st);
}

void bus_ev_free(bus_ev *e)
{
    if (e != NULL)
        protobuf_c_message_free_unpacked(&e->base, NULL);
}

const char *bus_ev_header(const bus_ev *e, const char *key)
{
    for (size_t i = 0; i < e->n_headers; i++) {
        if (strcmp(e->headers[i]->key, key) == 0)
            return e->headers[i]->value;
    }
    return NULL;
}

const char *bus_identity(hvrpc_client *c)
{
    static char id[256];
    echo_req req = ECHO_REQ_INIT;
    echo_resp *resp = NULL;

    id[0] = '\0';
    if (integ_echo(c, &req, NULL, &resp, NULL) == HVRPC_OK) {
        snprintf(id, sizeof id, "%s", resp->peer ? resp->peer : "");
        echo_resp_free(resp);
    }
    return id;
}
