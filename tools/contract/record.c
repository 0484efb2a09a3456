/*
 * record.c - turning the calls a client really made into a contract.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract_internal.h"

struct hvrpc_contract_recorder {
    const hvrpc_json_pool *pool;
    char *service; /* NULL until the first call when not given */
    pthread_mutex_t mu;
    json_t *interactions; /* array */
    size_t skipped;
};

struct hvrpc_contract_stream_rec {
    hvrpc_contract_recorder *r;
    hvrpc_json_method m;
    json_t *in;   /* the interaction being built */
    json_t *msgs; /* its "messages" */
    bool bad;     /* a message did not decode: skip it */
};

hvrpc_code hvrpc_contract_recorder_create(const hvrpc_json_pool *schema,
                                          const char *service,
                                          hvrpc_contract_recorder **out,
                                          hvrpc_status *st)
{
    hvrpc_contract_recorder *r;

    *out = NULL;
    if (service != NULL && contract__service(schema, service) == NULL)
        return hvrpc_status_set(st, HVRPC_NOT_FOUND,
                                "the schema has no service %s", service);
    r = calloc(1, sizeof(*r));
    if (r == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    pthread_mutex_init(&r->mu, NULL);
    r->pool = schema;
    r->service = service != NULL ? strdup(service) : NULL;
    r->interactions = json_array();
    if ((service != NULL && r->service == NULL) || r->interactions == NULL) {
        hvrpc_contract_recorder_free(r);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    }
    *out = r;
    return HVRPC_OK;
}

static void observer(const hvrpc_call_record *call, void *arg)
{
    hvrpc_contract_recorder_add_call(arg, call);
}

void hvrpc_contract_recorder_attach(hvrpc_contract_recorder *r,
                                    hvrpc_client_options *o)
{
    o->observer = observer;
    o->observer_arg = r;
}

/* Takes the service on the first call; false for another service. */
static bool same_service(hvrpc_contract_recorder *r, const char *service)
{
    if (r->service == NULL && contract__service(r->pool, service) != NULL)
        r->service = strdup(service);
    return r->service != NULL && strcmp(r->service, service) == 0;
}

static json_t *metadata_object(const hvrpc_metadata *md, size_t n)
{
    json_t *o = NULL;

    for (size_t i = 0; i < n; i++) {
        /* The runtime's own flow-control offer is not the guest's. */
        if (strcmp(md[i].key, HVRPC_STREAM_WINDOW_KEY) == 0)
            continue;
        if (o == NULL)
            o = json_object();
        if (o != NULL)
            json_object_set_new(o, md[i].key, json_string(md[i].value));
    }
    return o;
}

static json_t *status_object(const hvrpc_status *st)
{
    json_t *o = json_object();

    json_object_set_new(o, "code", json_string(hvrpc_code_name(st->code)));
    json_object_set_new(o, "message", json_string(st->message));
    return o;
}

void hvrpc_contract_recorder_add_call(hvrpc_contract_recorder *r,
                                      const hvrpc_call_record *call)
{
    hvrpc_json_method m;
    json_t *in, *req = NULL, *resp = NULL, *md;
    bool ok;

    pthread_mutex_lock(&r->mu);
    ok = same_service(r, call->service) &&
         hvrpc_json_pool_method(r->pool, call->service, call->method, &m,
                                NULL) == HVRPC_OK &&
         !m.client_streaming && !m.server_streaming;
    pthread_mutex_unlock(&r->mu);
    if (ok)
        ok = contract__to_tree(r->pool, m.input_type, call->request,
                               call->request_len, &req, NULL, NULL) == HVRPC_OK;
    if (ok && call->status.code == HVRPC_OK)
        ok = contract__to_tree(r->pool, m.output_type, call->response,
                               call->response_len, &resp, NULL,
                               NULL) == HVRPC_OK;
    in = ok ? json_object() : NULL;
    if (in != NULL) {
        json_object_set_new(in, "method", json_string(call->method));
        md = metadata_object(call->metadata, call->n_metadata);
        if (md != NULL)
            json_object_set_new(in, "metadata", md);
        if (call->timeout_ms)
            json_object_set_new(in, "timeoutMs",
                                json_integer(call->timeout_ms));
        json_object_set_new(in, "request", req);
        req = NULL;
        if (call->status.code == HVRPC_OK) {
            json_object_set_new(in, "response", resp);
            resp = NULL;
        } else {
            json_object_set_new(in, "status", status_object(&call->status));
        }
    }
    json_decref(req);
    json_decref(resp);
    pthread_mutex_lock(&r->mu);
    if (in == NULL || json_array_append_new(r->interactions, in) != 0)
        r->skipped++;
    pthread_mutex_unlock(&r->mu);
}

hvrpc_contract_stream_rec *
hvrpc_contract_recorder_stream_begin(hvrpc_contract_recorder *r,
                                     const char *method,
                                     const hvrpc_metadata *md, size_t n_md)
{
    hvrpc_contract_stream_rec *s = calloc(1, sizeof(*s));
    json_t *mdo;
    bool ok;

    if (s == NULL)
        goto skip;
    s->r = r;
    pthread_mutex_lock(&r->mu);
    ok = r->service != NULL &&
         hvrpc_json_pool_method(r->pool, r->service, method, &s->m, NULL) ==
             HVRPC_OK;
    pthread_mutex_unlock(&r->mu);
    s->in = json_object();
    s->msgs = json_array();
    if (!ok || s->in == NULL || s->msgs == NULL) {
        json_decref(s->in);
        json_decref(s->msgs);
        free(s);
        goto skip;
    }
    json_object_set_new(s->in, "method", json_string(method));
    mdo = metadata_object(md, n_md);
    if (mdo != NULL)
        json_object_set_new(s->in, "metadata", mdo);
    json_object_set(s->in, "messages", s->msgs);
    return s;
skip:
    pthread_mutex_lock(&r->mu);
    r->skipped++;
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

void hvrpc_contract_recorder_stream_message(hvrpc_contract_stream_rec *s,
                                            bool to_server, const uint8_t *data,
                                            size_t len)
{
    json_t *tree = NULL, *entry;

    if (s == NULL)
        return;
    if (contract__to_tree(s->r->pool,
                          to_server ? s->m.input_type : s->m.output_type, data,
                          len, &tree, NULL, NULL) != HVRPC_OK) {
        s->bad = true;
        return;
    }
    entry = json_object();
    json_object_set_new(entry, to_server ? "send" : "receive", tree);
    pthread_mutex_lock(&s->r->mu);
    json_array_append_new(s->msgs, entry);
    pthread_mutex_unlock(&s->r->mu);
}

void hvrpc_contract_recorder_stream_end(hvrpc_contract_stream_rec *s,
                                        const hvrpc_status *final)
{
    if (s == NULL)
        return;
    if (final->code != HVRPC_OK)
        json_object_set_new(s->in, "status", status_object(final));
    pthread_mutex_lock(&s->r->mu);
    if (s->bad || json_array_append(s->r->interactions, s->in) != 0)
        s->r->skipped++;
    pthread_mutex_unlock(&s->r->mu);
    json_decref(s->in);
    json_decref(s->msgs);
    free(s);
}

size_t hvrpc_contract_recorder_count(hvrpc_contract_recorder *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = json_array_size(r->interactions);
    pthread_mutex_unlock(&r->mu);
    return n;
}

size_t hvrpc_contract_recorder_skipped(hvrpc_contract_recorder *r)
{
    pthread_mutex_lock(&r->mu);
    size_t n = r->skipped;
    pthread_mutex_unlock(&r->mu);
    return n;
}

hvrpc_code hvrpc_contract_recorder_json(hvrpc_contract_recorder *r, char **out,
                                        hvrpc_status *st)
{
    hvrpc_json_service_options so;
    json_t *root = json_object(), *ep;
    hvrpc_buf set = {NULL, 0};
    jbuf b64 = {0};
    hvrpc_code code;

    *out = NULL;
    if (root == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    pthread_mutex_lock(&r->mu);
    if (r->service == NULL) {
        pthread_mutex_unlock(&r->mu);
        json_decref(root);
        return hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "nothing was recorded: no call reached a "
                                "service of the schema");
    }
    json_object_set_new(root, "hvrpcContract",
                        json_integer(HVRPC_CONTRACT_VERSION));
    json_object_set_new(root, "service", json_string(r->service));
    if (hvrpc_json_pool_service_options(r->pool, r->service, &so, NULL) ==
            HVRPC_OK &&
        (so.vsock_port != 0 || so.service_guid != NULL)) {
        char guid[64];

        ep = json_object();
        if (so.vsock_port != 0)
            json_object_set_new(ep, "vsockPort", json_integer(so.vsock_port));
        if (so.service_guid != NULL)
            snprintf(guid, sizeof(guid), "%s", so.service_guid);
        else
            snprintf(guid, sizeof(guid), "%08x-facb-11e6-bd58-64006a7986d3",
                     (unsigned)so.vsock_port);
        json_object_set_new(ep, "serviceGuid", json_string(guid));
        json_object_set_new(root, "endpoint", ep);
    }
    json_object_set_new(root, "interactions", json_deep_copy(r->interactions));
    pthread_mutex_unlock(&r->mu);
    code = contract__pool_set(r->pool, &set, st);
    if (code != HVRPC_OK) {
        json_decref(root);
        return code;
    }
    hvrpc_json__base64(&b64, set.data, set.len);
    hvrpc_json__put(&b64, "", 1);
    free(set.data);
    if (b64.oom) {
        free(b64.data);
        json_decref(root);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    }
    ep = json_object();
    json_object_set_new(ep, "descriptorSet", json_string((char *)b64.data));
    json_object_set_new(root, "schema", ep);
    free(b64.data);
    *out = json_dumps(root, JSON_INDENT(2));
    json_decref(root);
    if (*out == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    return HVRPC_OK;
}

hvrpc_code hvrpc_contract_recorder_write(hvrpc_contract_recorder *r,
                                         const char *path, hvrpc_status *st)
{
    char *text;
    char tmp[4096];
    FILE *f;
    hvrpc_code code = hvrpc_contract_recorder_json(r, &text, st);

    if (code != HVRPC_OK)
        return code;
    /* Written beside the target and renamed: never half a contract. */
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    f = fopen(tmp, "wb");
    if (f == NULL) {
        free(text);
        return hvrpc_status_set(st, HVRPC_PERMISSION_DENIED,
                                "%s: cannot write it", tmp);
    }
    bool ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok = fclose(f) == 0 && ok;
    free(text);
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return hvrpc_status_set(st, HVRPC_DATA_LOSS, "%s: writing failed",
                                path);
    }
    return HVRPC_OK;
}

void hvrpc_contract_recorder_free(hvrpc_contract_recorder *r)
{
    if (r == NULL)
        return;
    json_decref(r->interactions);
    free(r->service);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
