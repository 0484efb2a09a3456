/*
 * client_call.c - unary calls: the public call functions, blocking and
 * asynchronous, and how a call ends (client_internal.h). Completion runs
 * on the client's loop thread with no lock held.
 */
#include <string.h>

#include "alloc.h"
#include "client_internal.h"
#include "options.h"

#include "hvrpc/service.h"

/* --- completion (loop thread, no lock held) ------------------------------ */

/* Decodes the response of a typed call. A payload that is not a
 * response_type means the server broke the contract: INTERNAL. */
static hvrpc_code decode_response(const ProtobufCMessageDescriptor *type,
                                  const uint8_t *data, size_t len,
                                  ProtobufCMessage **out, hvrpc_status *st)
{
    hvrpc_status why;
    if (hvrpc_message_unpack(type, data, len, out, &why) == HVRPC_OK)
        return HVRPC_OK;
    return hvrpc_status_set(st, HVRPC_INTERNAL, "malformed response: %s",
                            why.message);
}

static void complete_message(hvrpc__pending *p, const hvrpc_status *st,
                             const uint8_t *payload, size_t len)
{
    hvrpc_status dst = *st;
    ProtobufCMessage *msg = NULL;
    if (st->code == HVRPC_OK)
        decode_response(p->rtype, payload, len, &msg, &dst);
    p->mdone(&dst, msg, p->arg);
}

/* Shows the call to the client's observer, then drops the copy. */
static void observe(hvrpc__pending *p, const hvrpc_status *st,
                    const uint8_t *payload, size_t len)
{
    hvrpc__observed *o = p->obs;
    o->r.status = *st;
    o->r.response = st->code == HVRPC_OK ? payload : NULL;
    o->r.response_len = st->code == HVRPC_OK ? len : 0;
    p->c->opts.observer(&o->r, p->c->opts.observer_arg);
    hvrpc__free(o);
    p->obs = NULL;
}

/* Hands a blocking call its result: the response decoded when the
 * caller wants a message (hvrpc_client_invoke), else a copy it owns. */
static void fill_waiter(hvrpc__waiter *w, const hvrpc_status *st,
                        const uint8_t *payload, size_t len)
{
    w->st = *st;
    if (st->code != HVRPC_OK)
        return;
    if (w->rtype) {
        decode_response(w->rtype, payload, len, &w->msg, &w->st);
    } else if (len) {
        w->resp.data = hvrpc__malloc(len);
        if (w->resp.data) {
            memcpy(w->resp.data, payload, len);
            w->resp.len = len;
        } else {
            hvrpc_status_set(&w->st, HVRPC_RESOURCE_EXHAUSTED,
                             "out of memory for a %zu-byte response", len);
        }
    }
}

/* Ends a call. A blocking call's entry lives in its caller's frame: once
 * woken, the caller returns and it is gone, so it is not freed here. */
void hvrpc__client_complete(hvrpc__pending *p, const hvrpc_status *st,
                            uint8_t *payload, size_t len)
{
    if (p->obs)
        observe(p, st, payload, len);
    if (p->w) {
        hvrpc__waiter *w = p->w;
        fill_waiter(w, st, payload, len);
        sem_post(&w->done); /* p and w may be gone from here on */
        return;
    }
    if (p->mdone)
        complete_message(p, st, payload, len);
    else
        p->done(st, st->code == HVRPC_OK ? payload : NULL,
                st->code == HVRPC_OK ? len : 0, p->arg);
    hvrpc__free(p);
}

void hvrpc__client_complete_status(hvrpc__pending *p, hvrpc_code code,
                                   const char *msg)
{
    hvrpc_status st;
    hvrpc_status_set(&st, code, "%s", msg);
    hvrpc__client_complete(p, &st, NULL, 0);
}

void hvrpc__client_on_deadline(hvrpc__timer *t)
{
    hvrpc__pending *p = HVRPC__CONTAINER_OF(t, hvrpc__pending, timer);
    bool unsent = hvrpc__client_unwait(p->c, p);
    hvrpc__client_complete_status(p, HVRPC_DEADLINE_EXCEEDED,
                                  unsent ? "deadline exceeded while "
                                           "waiting to reconnect"
                                         : "deadline exceeded");
}

void hvrpc__client_on_response(hvrpc__pending *p, const uint8_t *data,
                               uint32_t len)
{
    hvrpc__response_view r;
    if (!hvrpc__response_parse(data, len, &r)) {
        hvrpc__client_complete_status(p, HVRPC_INTERNAL,
                                      "malformed response: not a ttrpc "
                                      "Response message");
        return;
    }
    hvrpc_status st;
    hvrpc__response_status(&r, &st);
    /* The payload stays in the frame reader's buffer during completion. */
    hvrpc__client_complete(p, &st, (uint8_t *)r.payload, r.payload_len);
}

/* Copies what a call sends, in one allocation, for the observer. */
static hvrpc__observed *observed_new(const char *service, const char *method,
                                     const hvrpc__payload *pl,
                                     const hvrpc_call_options *opts)
{
    size_t req_len =
        pl->msg ? protobuf_c_message_get_packed_size(pl->msg) : pl->len;
    size_t n = sizeof(hvrpc__observed) + strlen(service) + strlen(method) + 2 +
               req_len + opts->n_metadata * sizeof(hvrpc_metadata);
    for (size_t i = 0; i < opts->n_metadata; i++)
        n +=
            strlen(opts->metadata[i].key) + strlen(opts->metadata[i].value) + 2;
    hvrpc__observed *o = hvrpc__calloc(1, n);
    if (!o)
        return NULL;
    /* The metadata array first (aligned after the struct), then bytes. */
    hvrpc_metadata *md = (hvrpc_metadata *)(o + 1);
    char *at = (char *)(md + opts->n_metadata);
    o->r.metadata = md;
    o->r.n_metadata = opts->n_metadata;
    o->r.timeout_ms = opts->timeout_ms;
    for (size_t i = 0; i < opts->n_metadata; i++) {
        md[i].key = strcpy(at, opts->metadata[i].key);
        at += strlen(at) + 1;
        md[i].value = strcpy(at, opts->metadata[i].value);
        at += strlen(at) + 1;
    }
    o->r.service = strcpy(at, service);
    at += strlen(at) + 1;
    o->r.method = strcpy(at, method);
    at += strlen(at) + 1;
    if (pl->msg)
        protobuf_c_message_pack(pl->msg, (uint8_t *)at);
    else if (req_len)
        memcpy(at, pl->data, req_len);
    o->r.request = (const uint8_t *)at;
    o->r.request_len = req_len;
    return o;
}

static hvrpc_code start_call(hvrpc_client *c, const char *service,
                             const char *method, const hvrpc__payload *pl,
                             const hvrpc_call_options *opts, hvrpc__pending *p,
                             hvrpc_status *st)
{
    hvrpc_call_options none = HVRPC_CALL_OPTIONS_INIT;
    if (!opts)
        opts = &none;
    hvrpc_code code =
        hvrpc__check_options_size("call options", opts->size, sizeof *opts, st);
    if (code != HVRPC_OK)
        return code;
    code = hvrpc__client_check_request(service, method, opts->metadata,
                                       opts->n_metadata, st);
    if (code != HVRPC_OK)
        return code;
    hvrpc__request_extras x = {opts->timeout_ms, opts->metadata,
                               opts->n_metadata, 0};
    if (c->opts.observer) {
        p->obs = observed_new(service, method, pl, opts);
        if (!p->obs)
            return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                    "out of memory recording the call for "
                                    "the client's observer");
    }
    code = hvrpc__client_start_request(c, service, method, pl, &x, p, st);
    if (code != HVRPC_OK) {
        hvrpc__free(p->obs);
        p->obs = NULL;
    }
    return code;
}

/* An asynchronous call: its pending entry allocated, as *how says how
 * it completes, and freed here when the call cannot start. */
static hvrpc_code start_async(hvrpc_client *c, const char *service,
                              const char *method, const hvrpc__payload *pl,
                              const hvrpc_call_options *opts,
                              const hvrpc__pending *how, hvrpc_status *st)
{
    hvrpc__pending *p = hvrpc__malloc(sizeof *p);
    if (!p)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory for a call");
    *p = *how;
    hvrpc_code code = start_call(c, service, method, pl, opts, p, st);
    if (code != HVRPC_OK)
        hvrpc__free(p);
    return code;
}

hvrpc_code hvrpc_client_call_async(hvrpc_client *c, const char *service,
                                   const char *method, const void *request,
                                   size_t request_len,
                                   const hvrpc_call_options *opts,
                                   hvrpc_done_fn done, void *arg,
                                   hvrpc_status *st)
{
    if (!done)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "a completion callback is required");
    hvrpc__pending how = {.done = done, .arg = arg};
    hvrpc__payload pl = {.data = request, .len = request_len};
    return start_async(c, service, method, &pl, opts, &how, st);
}

/* A blocking call: its pending entry and waiter on this stack. With
 * rtype, *msg receives the decoded response, else *resp the bytes. */
static hvrpc_code call_blocking(hvrpc_client *c, const char *service,
                                const char *method, const hvrpc__payload *pl,
                                const hvrpc_call_options *opts,
                                const ProtobufCMessageDescriptor *rtype,
                                ProtobufCMessage **msg, hvrpc_buf *resp,
                                hvrpc_status *st)
{
    if (resp) {
        resp->data = NULL;
        resp->len = 0;
    }
    if (hvrpc__loop_in_thread(&c->loop))
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "a blocking call from a completion callback "
                                "of the same client would deadlock");
    hvrpc__pending p;
    memset(&p, 0, sizeof p);
    hvrpc__waiter w;
    memset(&w, 0, sizeof w);
    sem_init(&w.done, 0, 0);
    w.rtype = rtype;
    p.w = &w;
    /* The caller's memory stays put until this returns: a large piece of
     * the request is written from where it lies. */
    hvrpc__payload lend = *pl;
    lend.lend_any = true;
    hvrpc_code code = start_call(c, service, method, &lend, opts, &p, st);
    if (code == HVRPC_OK) {
        if (!hvrpc__client_lead(c, &p, &w))
            while (sem_wait(&w.done) != 0)
                ; /* EINTR */
        if (p.lent)
            hvrpc__client_unlend(c, &p);
        code = w.st.code;
        if (st)
            *st = w.st;
        if (msg)
            *msg = w.msg;
        if (resp && code == HVRPC_OK)
            *resp = w.resp;
        else
            hvrpc__free(w.resp.data);
    }
    sem_destroy(&w.done);
    return code;
}

hvrpc_code hvrpc_client_call(hvrpc_client *c, const char *service,
                             const char *method, const void *request,
                             size_t request_len, const hvrpc_call_options *opts,
                             hvrpc_buf *resp, hvrpc_status *st)
{
    hvrpc__payload pl = {.data = request, .len = request_len};
    return call_blocking(c, service, method, &pl, opts, NULL, NULL, resp, st);
}

hvrpc_code hvrpc_client_call_message(hvrpc_client *c, const char *service,
                                     const char *method,
                                     const ProtobufCMessage *request,
                                     const hvrpc_call_options *opts,
                                     hvrpc_buf *resp, hvrpc_status *st)
{
    hvrpc__payload pl = {.msg = request};
    return call_blocking(c, service, method, &pl, opts, NULL, NULL, resp, st);
}

hvrpc_code hvrpc_client_invoke(hvrpc_client *c, const char *service,
                               const char *method,
                               const ProtobufCMessage *request,
                               const ProtobufCMessageDescriptor *response_type,
                               const hvrpc_call_options *opts,
                               ProtobufCMessage **resp, hvrpc_status *st)
{
    *resp = NULL;
    if (!request || !response_type)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "request and response type are required");
    hvrpc__payload pl = {.msg = request};
    return call_blocking(c, service, method, &pl, opts, response_type, resp,
                         NULL, st);
}

hvrpc_code
hvrpc_client_invoke_async(hvrpc_client *c, const char *service,
                          const char *method, const ProtobufCMessage *request,
                          const ProtobufCMessageDescriptor *response_type,
                          const hvrpc_call_options *opts,
                          hvrpc_message_done_fn done, void *arg,
                          hvrpc_status *st)
{
    if (!request || !response_type || !done)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "request, response type and completion "
                                "callback are required");
    hvrpc__pending how = {.mdone = done, .rtype = response_type, .arg = arg};
    hvrpc__payload pl = {.msg = request};
    return start_async(c, service, method, &pl, opts, &how, st);
}
