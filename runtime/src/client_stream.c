/*
 * client_stream.c - the client side of streams: opening one (its Request
 * goes through the client's pending map like a call's), the server's
 * frames on it, closing and freeing. Queues, windows and the functions
 * both sides share are in stream.c.
 */
#include <stdio.h>

#include "alloc.h"
#include "client_internal.h"
#include "options.h"
#include "stream_internal.h"

/* --- streams ------------------------------------------------------------- */

void hvrpc__client_stream_forget_locked(hvrpc_stream *s)
{
    if (!s->in_table)
        return;
    hvrpc__free(hvrpc__client_forget_locked(s->client, s->node.id));
    s->in_table = false;
}

void hvrpc__client_stream_abort_locked(hvrpc_stream *s, hvrpc_code code,
                                       const char *msg)
{
    if (s->done)
        return;
    hvrpc__stream_end_locked(s, code, msg);
    if (!s->in_table)
        return;
    /* An hvrpc server (it granted a window) forgets the stream at a reset;
     * a plain ttrpc server only learns that this side has closed. */
    if (s->grant_seen)
        hvrpc__stream_send_control_locked(s, HVRPC__FLAG_RESET, 0);
    else if (!s->out_closed)
        hvrpc__stream_send_close_locked(s);
    s->out_closed = true;
    hvrpc__client_stream_forget_locked(s);
}

/* The server's Response ends the stream with its status; an OK one
 * carries the response of a client-streaming call. */
static void stream_response_locked(hvrpc_stream *s, const uint8_t *data,
                                   uint32_t len, bool oversize)
{
    hvrpc__client_stream_forget_locked(s);
    s->in_closed = true;
    if (oversize) {
        hvrpc__stream_end_locked(s, HVRPC_RESOURCE_EXHAUSTED,
                                 "response exceeds the maximum frame");
        return;
    }
    hvrpc__response_view r;
    if (!hvrpc__response_parse(data, len, &r)) {
        hvrpc__stream_end_locked(s, HVRPC_INTERNAL,
                                 "malformed response: not a ttrpc Response "
                                 "message");
        return;
    }
    hvrpc_status st;
    hvrpc__response_status(&r, &st);
    if (st.code == HVRPC_OK &&
        (r.payload_len || !(s->kind & HVRPC_SERVER_STREAMING)) &&
        !hvrpc__stream_push_locked(s, r.payload, r.payload_len))
        hvrpc_status_set(&st, HVRPC_RESOURCE_EXHAUSTED,
                         "out of memory for the response");
    hvrpc__stream_end_locked(s, st.code,
                             st.code == HVRPC_OK ? "ok" : st.message);
}

void hvrpc__client_stream_frame_locked(hvrpc_stream *s,
                                       const hvrpc__frame_header *h,
                                       const uint8_t *data, bool oversize)
{
    if (h->type == HVRPC__FRAME_WINDOW) {
        if (!oversize)
            hvrpc__stream_on_window_locked(s, h->flags, data, h->length);
        return;
    }
    /* An hvrpc server grants before anything else on the stream: one that
     * has not is a plain ttrpc server, and knows no windows. */
    if (!s->grant_seen)
        s->windowed = false;
    if (h->type == HVRPC__FRAME_RESPONSE) {
        stream_response_locked(s, data, h->length, oversize);
        return;
    }
    hvrpc__stream_on_data_locked(s, h->flags, data, h->length, oversize);
    if (s->in_closed && !s->done) {
        /* The server's clean end of its half ends the call. */
        hvrpc__client_stream_forget_locked(s);
        hvrpc__stream_end_locked(s, HVRPC_OK, "ok");
    }
}

static hvrpc_code open_stream(hvrpc_client *c, const char *service,
                              const char *method, hvrpc_method_kind kind,
                              const hvrpc__payload *pl,
                              const hvrpc_stream_options *opts,
                              hvrpc_stream **out, hvrpc_status *st)
{
    *out = NULL;
    hvrpc_stream_options none = HVRPC_STREAM_OPTIONS_INIT;
    if (!opts)
        opts = &none;
    hvrpc_code code = hvrpc__check_options_size("stream options", opts->size,
                                                sizeof *opts, st);
    if (code != HVRPC_OK)
        return code;
    if (kind < HVRPC_CLIENT_STREAMING || kind > HVRPC_BIDI_STREAMING)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "kind %d is not a streaming kind", (int)kind);
    if ((kind & HVRPC_CLIENT_STREAMING) && (pl->msg || pl->len))
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "only a server-streaming call has a request "
                                "message: send the others' messages on the "
                                "stream");
    uint32_t window = opts->window ? opts->window : HVRPC_DEFAULT_STREAM_WINDOW;
    if (window < HVRPC_MIN_STREAM_WINDOW || window > HVRPC_MAX_STREAM_WINDOW)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "stream options: window %u is outside %u..%u",
                                window, HVRPC_MIN_STREAM_WINDOW,
                                HVRPC_MAX_STREAM_WINDOW);
    if (opts->flow != HVRPC_FLOW_AUTO && opts->flow != HVRPC_FLOW_OFF)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "stream options: unknown flow mode %d",
                                (int)opts->flow);
    code = hvrpc__client_check_request(service, method, opts->metadata,
                                       opts->n_metadata, st);
    if (code != HVRPC_OK)
        return code;
    if (hvrpc__loop_in_thread(&c->loop))
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "streams are not opened from a completion "
                                "callback of the same client");

    /* The user's metadata, and our window offer. */
    size_t n_md = opts->n_metadata + (opts->flow == HVRPC_FLOW_AUTO);
    hvrpc_metadata *md = hvrpc__calloc(n_md ? n_md : 1, sizeof *md);
    hvrpc_stream *s =
        hvrpc__stream_new(&c->conn, kind, false, window, c->opts.max_frame);
    hvrpc__pending *p = hvrpc__calloc(1, sizeof *p);
    if (!md || !s || !p) {
        hvrpc__free(md);
        hvrpc__free(p);
        if (s)
            hvrpc__stream_destroy(s);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a stream");
    }
    char wtext[16];
    snprintf(wtext, sizeof wtext, "%u", window);
    for (size_t i = 0; i < opts->n_metadata; i++)
        md[i] = opts->metadata[i];
    if (opts->flow == HVRPC_FLOW_AUTO)
        md[opts->n_metadata] = (hvrpc_metadata){HVRPC_STREAM_WINDOW_KEY, wtext};
    s->client = c;
    s->windowed = opts->flow == HVRPC_FLOW_AUTO;
    s->in_closed = false;
    s->out_closed = !(kind & HVRPC_CLIENT_STREAMING);
    p->stream = s;
    hvrpc__request_extras x = {opts->timeout_ms, md, n_md,
                               kind & HVRPC_CLIENT_STREAMING
                                   ? HVRPC__FLAG_REMOTE_OPEN
                                   : HVRPC__FLAG_REMOTE_CLOSED};
    code = hvrpc__client_start_request(c, service, method, pl, &x, p, st);
    hvrpc__free(md);
    if (code != HVRPC_OK) {
        hvrpc__free(p);
        hvrpc__stream_destroy(s);
        return code;
    }
    *out = s;
    return HVRPC_OK;
}

hvrpc_code hvrpc_client_stream(hvrpc_client *c, const char *service,
                               const char *method, hvrpc_method_kind kind,
                               const void *request, size_t request_len,
                               const hvrpc_stream_options *opts,
                               hvrpc_stream **out, hvrpc_status *st)
{
    hvrpc__payload pl = {.data = request, .len = request_len};
    return open_stream(c, service, method, kind, &pl, opts, out, st);
}

hvrpc_code hvrpc_client_stream_message(hvrpc_client *c, const char *service,
                                       const char *method,
                                       hvrpc_method_kind kind,
                                       const ProtobufCMessage *request,
                                       const hvrpc_stream_options *opts,
                                       hvrpc_stream **out, hvrpc_status *st)
{
    hvrpc__payload pl = {.msg = request};
    return open_stream(c, service, method, kind, &pl, opts, out, st);
}

hvrpc_code hvrpc_stream_close_send(hvrpc_stream *s, hvrpc_status *st)
{
    if (s->server)
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "a server ends its side with "
                                "hvrpc_stream_finish");
    pthread_mutex_lock(&s->conn->mu);
    if (!s->out_closed) {
        s->out_closed = true;
        if (!s->done)
            hvrpc__stream_send_close_locked(s);
    }
    pthread_mutex_unlock(&s->conn->mu);
    return HVRPC_OK;
}

void hvrpc_stream_free(hvrpc_stream *s)
{
    if (!s || s->server)
        return;
    pthread_mutex_lock(&s->conn->mu);
    if (!s->done) {
        s->cancelled = true;
        hvrpc__client_stream_abort_locked(s, HVRPC_CANCELLED,
                                          "the stream was freed");
    }
    hvrpc__client_stream_forget_locked(s);
    pthread_mutex_unlock(&s->conn->mu);
    hvrpc__stream_destroy(s);
}
