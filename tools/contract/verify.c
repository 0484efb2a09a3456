/*
 * verify.c - playing a contract against a live service and reporting
 * every difference.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract_internal.h"

/* How long one receive of a stream waits when the interaction sets no
 * timeout of its own. */
#define DEFAULT_WAIT_MS 10000

#define INDENT "     "

/* The interaction's metadata as an array (values of matchers: their
 * $value); *n receives the count. The strings point into the tree. */
static hvrpc_metadata *make_metadata(const cinteraction *in, size_t *n)
{
    size_t size = in->metadata ? json_object_size(in->metadata) : 0;
    hvrpc_metadata *md = calloc(size + 1, sizeof(*md));
    const char *key;
    json_t *v;

    *n = 0;
    if (md == NULL || size == 0)
        return md;
    json_object_foreach(in->metadata, key, v)
    {
        json_t *value = json_is_string(v) ? v : json_object_get(v, "$value");

        if (!json_is_string(value))
            value = json_object_get(v, "$exact");
        if (!json_is_string(value))
            continue;
        md[*n].key = key;
        md[*n].value = json_string_value(value);
        (*n)++;
    }
    return md;
}

static void request_unfit(cdiff *d, const char *what, const char *type,
                          const hvrpc_status *why)
{
    char want[300];

    snprintf(want, sizeof(want), "a %s the schema's %s accepts", what, type);
    contract__mismatch(d, what, want, why->message);
}

static void verify_unary(const hvrpc_contract *c, const cinteraction *in,
                         hvrpc_client *client, cdiff *d)
{
    hvrpc_call_options o = HVRPC_CALL_OPTIONS_INIT;
    hvrpc_buf req = {NULL, 0}, resp = {NULL, 0};
    hvrpc_status st;
    size_t n_md;
    hvrpc_metadata *md = make_metadata(in, &n_md);

    if (contract__to_bytes(c->pool, in->m.input_type, in->request, &req, &st) !=
        HVRPC_OK) {
        request_unfit(d, "request", in->m.input_type, &st);
        free(md);
        return;
    }
    o.timeout_ms = in->timeout_ms;
    o.metadata = md;
    o.n_metadata = n_md;
    hvrpc_client_call(client, c->service, in->method, req.data, req.len, &o,
                      &resp, &st);
    contract__match_status(in, &st, d);
    if (st.code == HVRPC_OK && in->code == HVRPC_OK && in->response != NULL)
        contract__match_bytes(c->pool, in->m.output_type, in->response,
                              resp.data, resp.len, in->allow_extra, d, NULL);
    hvrpc_buf_free(&resp);
    free(req.data);
    free(md);
}

/* True when a "send" follows message i. */
static bool sends_after(const cinteraction *in, size_t i)
{
    for (size_t k = i + 1; k < in->n_msgs; k++) {
        if (in->msgs[k].dir == CMSG_SEND)
            return true;
    }
    return false;
}

static void verify_stream(const hvrpc_contract *c, const cinteraction *in,
                          hvrpc_client *client, cdiff *d)
{
    hvrpc_stream_options o = HVRPC_STREAM_OPTIONS_INIT;
    hvrpc_stream *s = NULL;
    hvrpc_buf first = {NULL, 0};
    hvrpc_status st, final;
    hvrpc_code code;
    size_t n_md, start = 0, receives = 0;
    hvrpc_metadata *md = make_metadata(in, &n_md);
    bool closed = in->kind == HVRPC_SERVER_STREAMING, ended = false;
    int wait = in->timeout_ms ? (int)in->timeout_ms : DEFAULT_WAIT_MS;
    char prefix[64], got[160];

    hvrpc_status_clear(&final);
    o.timeout_ms = in->timeout_ms;
    o.metadata = md;
    o.n_metadata = n_md;
    if (in->kind == HVRPC_SERVER_STREAMING) {
        if (contract__to_bytes(c->pool, in->m.input_type, in->msgs[0].body,
                               &first, &st) != HVRPC_OK) {
            request_unfit(d, "send #1", in->m.input_type, &st);
            free(md);
            return;
        }
        start = 1;
    }
    code = hvrpc_client_stream(client, c->service, in->method, in->kind,
                               first.data, first.len, &o, &s, &st);
    free(first.data);
    if (code != HVRPC_OK) {
        contract__match_status(in, &st, d);
        free(md);
        return;
    }
    for (size_t i = start; i < in->n_msgs && !ended; i++) {
        const cmsg *m = &in->msgs[i];

        if (m->dir == CMSG_SEND) {
            hvrpc_buf b;

            if (contract__to_bytes(c->pool, in->m.input_type, m->body, &b,
                                   &st) != HVRPC_OK) {
                snprintf(prefix, sizeof(prefix), "send #%zu", i + 1);
                request_unfit(d, prefix, in->m.input_type, &st);
                break;
            }
            code = hvrpc_stream_send(s, b.data, b.len, wait, &st);
            free(b.data);
            if (code != HVRPC_OK) {
                snprintf(prefix, sizeof(prefix), "send #%zu", i + 1);
                snprintf(got, sizeof(got), "%s",
                         code == HVRPC_END ? "the stream over"
                                           : hvrpc_code_name(code));
                contract__mismatch(d, prefix, "the message sent", got);
                ended = code != HVRPC_WOULD_BLOCK;
                final = st;
                if (code == HVRPC_END)
                    hvrpc_status_clear(&final);
                break;
            }
            continue;
        }
        if (!closed && !sends_after(in, i) &&
            in->kind == HVRPC_CLIENT_STREAMING) {
            hvrpc_stream_close_send(s, NULL);
            closed = true;
        }
        hvrpc_buf msg;
        receives++;
        code = hvrpc_stream_recv(s, &msg, wait, &st);
        snprintf(prefix, sizeof(prefix), "receive #%zu ", receives);
        if (code == HVRPC_OK) {
            d->prefix = prefix;
            contract__match_bytes(c->pool, in->m.output_type, m->body, msg.data,
                                  msg.len, in->allow_extra, d, NULL);
            d->prefix = NULL;
            hvrpc_buf_free(&msg);
            continue;
        }
        prefix[strlen(prefix) - 1] = '\0';
        snprintf(got, sizeof(got), "%s",
                 code == HVRPC_END           ? "the end of the stream"
                 : code == HVRPC_WOULD_BLOCK ? "nothing in time"
                                             : hvrpc_code_name(code));
        contract__mismatch(d, prefix, "a message", got);
        if (code == HVRPC_WOULD_BLOCK)
            break;
        ended = true;
        if (code == HVRPC_END)
            hvrpc_status_clear(&final);
        else
            final = st;
    }
    if (!closed && !ended)
        hvrpc_stream_close_send(s, NULL);
    while (!ended) {
        hvrpc_buf msg;

        code = hvrpc_stream_recv(s, &msg, wait, &st);
        if (code == HVRPC_OK) {
            json_t *plain = NULL;
            hvrpc_status why;

            receives++;
            snprintf(prefix, sizeof(prefix), "receive #%zu", receives);
            if (contract__to_tree(c->pool, in->m.output_type, msg.data, msg.len,
                                  &plain, NULL, &why) == HVRPC_OK)
                contract__show(plain, got, sizeof(got));
            else
                snprintf(got, sizeof(got), "%zu bytes", msg.len);
            json_decref(plain);
            hvrpc_buf_free(&msg);
            contract__mismatch(d, prefix, "the end of the stream", got);
            continue;
        }
        if (code == HVRPC_WOULD_BLOCK) {
            contract__mismatch(d, "status", hvrpc_code_name(in->code),
                               "no end of the stream in time");
            hvrpc_stream_free(s);
            free(md);
            return;
        }
        if (code == HVRPC_END)
            hvrpc_status_clear(&final);
        else
            final = st;
        ended = true;
    }
    contract__match_status(in, &final, d);
    hvrpc_stream_free(s);
    free(md);
}

hvrpc_code hvrpc_contract_verify(const hvrpc_contract *c, hvrpc_client *client,
                                 char **report, hvrpc_status *st)
{
    jbuf out = {0};
    size_t failed = 0, mismatches = 0;

    if (report != NULL)
        *report = NULL;
    for (size_t i = 0; i < c->n; i++) {
        const cinteraction *in = &c->in[i];
        cdiff d = {.indent = INDENT};

        if (in->kind == HVRPC_UNARY)
            verify_unary(c, in, client, &d);
        else
            verify_stream(c, in, client, &d);
        hvrpc_json__printf(&out, "%-4s %zu %s (%s)\n", d.count ? "FAIL" : "ok",
                           i + 1, in->name, in->method);
        if (d.text.len)
            hvrpc_json__put(&out, d.text.data, d.text.len);
        free(d.text.data);
        failed += d.count != 0;
        mismatches += d.count;
    }
    hvrpc_json__printf(&out,
                       "%zu interaction%s of %s: %zu ok, %zu failed (%zu "
                       "mismatch%s)\n",
                       c->n, c->n == 1 ? "" : "s", c->service, c->n - failed,
                       failed, mismatches, mismatches == 1 ? "" : "es");
    if (out.oom) {
        free(out.data);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    }
    if (report != NULL)
        *report = hvrpc_json__take_text(&out);
    else
        free(out.data);
    if (failed)
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "%zu of %zu interactions do not match the "
                                "contract",
                                failed, c->n);
    hvrpc_status_clear(st);
    return HVRPC_OK;
}

hvrpc_code hvrpc_contract_verify_uri(const hvrpc_contract *c, const char *uri,
                                     const hvrpc_client_options *opts,
                                     char **report, hvrpc_status *st)
{
    hvrpc_client *client;
    hvrpc_code code;

    if (report != NULL)
        *report = NULL;
    code = hvrpc_client_connect(uri, opts, &client, st);
    if (code != HVRPC_OK)
        return code;
    code = hvrpc_contract_verify(c, client, report, st);
    hvrpc_client_free(client);
    return code;
}
