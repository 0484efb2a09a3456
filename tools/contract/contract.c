/*
 * contract.c - reading a contract file (docs/CONTRACTS.md) into the form
 * verify and mock play, and the schema helpers they share.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract_internal.h"

/* --- schema helpers ---------------------------------------------------- */

const jservice_proto *contract__service(const hvrpc_json_pool *p,
                                        const char *service)
{
    const jsym *s = hvrpc_json__find(p, service, HVRPC_JSON_SERVICE);

    return s != NULL ? s->d : NULL;
}

hvrpc_method_kind contract__kind(const hvrpc_json_method *m)
{
    return (hvrpc_method_kind)((m->client_streaming ? 1 : 0) |
                               (m->server_streaming ? 2 : 0));
}

static bool builtin_file(const char *name)
{
    return strncmp(name, "google/protobuf/", 16) == 0;
}

hvrpc_code contract__pool_set(const hvrpc_json_pool *p, hvrpc_buf *out,
                              hvrpc_status *st)
{
    Google__Protobuf__FileDescriptorSet set =
        GOOGLE__PROTOBUF__FILE_DESCRIPTOR_SET__INIT;
    size_t n = 0;

    out->data = NULL;
    out->len = 0;
    set.file = calloc(p->n_files + 1, sizeof(*set.file));
    if (set.file == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    for (size_t i = 0; i < p->n_files; i++) {
        if (!builtin_file(p->files[i].fd->name))
            set.file[n++] = p->files[i].fd;
    }
    set.n_file = n;
    out->len = google__protobuf__file_descriptor_set__get_packed_size(&set);
    out->data = malloc(out->len + 1);
    if (out->data == NULL) {
        free(set.file);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    }
    google__protobuf__file_descriptor_set__pack(&set, out->data);
    free(set.file);
    return HVRPC_OK;
}

char *contract__env_var(const char *service)
{
    /* As codegen/naming.c: each dotted piece upper-cased, '_' before a
     * capital that follows a non-capital, pieces joined by '_'. */
    char *out = malloc(2 * strlen(service) + 16);
    size_t o = 0;
    bool was_upper = true;

    if (out == NULL)
        return NULL;
    o += (size_t)sprintf(out, "HVRPC_");
    for (const char *s = service; *s != '\0'; s++) {
        if (*s == '.') {
            if (o > 6 && out[o - 1] != '_' && s[1] != '\0')
                out[o++] = '_';
            was_upper = true;
            continue;
        }
        bool up = isupper((unsigned char)*s);
        if (up && !was_upper)
            out[o++] = '_';
        out[o++] = (char)toupper((unsigned char)*s);
        was_upper = up;
    }
    strcpy(out + o, "_ADDR");
    return out;
}

int contract__code_from_json(const json_t *v)
{
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        return n >= 0 && n <= HVRPC_CODE_MAX ? (int)n : -1;
    }
    if (!json_is_string(v))
        return -1;
    for (int c = 0; c <= HVRPC_CODE_MAX; c++) {
        if (strcmp(json_string_value(v), hvrpc_code_name(c)) == 0)
            return c;
    }
    return -1;
}

/* --- parsing ----------------------------------------------------------- */

static hvrpc_code bad(hvrpc_status *st, const char *where, const char *what)
{
    return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT, "%s: %s", where, what);
}

static hvrpc_code parse_stream(hvrpc_contract *c, cinteraction *in,
                               const json_t *msgs, const char *where,
                               hvrpc_status *st)
{
    char path[128];
    size_t i, sends = 0, receives = 0;
    json_t *m;

    if (!json_is_array(msgs))
        return bad(st, where,
                   "a streaming method takes \"messages\": [{\"send\": {...}} "
                   "or {\"receive\": {...}}, ...]");
    in->n_msgs = json_array_size(msgs);
    in->msgs = calloc(in->n_msgs + 1, sizeof(*in->msgs));
    if (in->msgs == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    json_array_foreach(msgs, i, m)
    {
        json_t *send = json_object_get(m, "send");
        json_t *recv = json_object_get(m, "receive");
        hvrpc_code code;

        snprintf(path, sizeof(path), "%s.messages[%zu]", where, i);
        if (!json_is_object(m) || json_object_size(m) != 1 ||
            (send == NULL) == (recv == NULL))
            return bad(st, path,
                       "expected {\"send\": MESSAGE} or {\"receive\": "
                       "MESSAGE}");
        in->msgs[i].dir = send != NULL ? CMSG_SEND : CMSG_RECEIVE;
        in->msgs[i].body = send != NULL ? send : recv;
        if (!json_is_object(in->msgs[i].body))
            return bad(st, path, "a message is a JSON object");
        code = contract__check_matchers(in->msgs[i].body, path, st);
        if (code != HVRPC_OK)
            return code;
        if (send != NULL)
            sends++;
        else
            receives++;
        if (in->kind == HVRPC_CLIENT_STREAMING && recv == NULL && receives)
            return bad(st, path,
                       "a client-streaming call's one response comes last");
    }
    if (in->kind == HVRPC_SERVER_STREAMING &&
        (sends != 1 || in->msgs[0].dir != CMSG_SEND))
        return bad(st, where,
                   "a server-streaming call starts with exactly one "
                   "\"send\" (its request)");
    if (in->kind == HVRPC_CLIENT_STREAMING && receives > 1)
        return bad(st, where,
                   "a client-streaming call has at most one \"receive\" "
                   "(its response)");
    (void)c;
    return HVRPC_OK;
}

static hvrpc_code parse_interaction(hvrpc_contract *c, size_t idx,
                                    const json_t *j, bool allow_extra,
                                    hvrpc_status *st)
{
    cinteraction *in = &c->in[idx];
    char where[64], name[300];
    json_t *v;
    hvrpc_status why;
    hvrpc_code code;

    snprintf(where, sizeof(where), "interactions[%zu]", idx);
    if (!json_is_object(j))
        return bad(st, where, "an interaction is a JSON object");
    v = json_object_get(j, "method");
    if (!json_is_string(v))
        return bad(st, where, "\"method\" (a string) is required");
    in->method = json_string_value(v);
    if (hvrpc_json_pool_method(c->pool, c->service, in->method, &in->m, &why) !=
        HVRPC_OK)
        return hvrpc_status_set(st, HVRPC_NOT_FOUND, "%s: %s", where,
                                why.message);
    in->kind = contract__kind(&in->m);
    v = json_object_get(j, "name");
    if (v != NULL && !json_is_string(v))
        return bad(st, where, "\"name\" is a string");
    if (v != NULL)
        snprintf(name, sizeof(name), "%s", json_string_value(v));
    else
        snprintf(name, sizeof(name), "%s #%zu", in->method, idx + 1);
    in->name = strdup(name);
    if (in->name == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);

    in->metadata = json_object_get(j, "metadata");
    if (in->metadata != NULL) {
        const char *key;
        json_t *mv;

        if (!json_is_object(in->metadata))
            return bad(st, where, "\"metadata\" is an object of strings");
        json_object_foreach(in->metadata, key, mv)
        {
            if (!json_is_string(mv) && !contract__is_matcher(mv))
                return bad(st, where,
                           "\"metadata\" values are strings (or matchers)");
        }
    }
    v = json_object_get(j, "timeoutMs");
    if (v != NULL && (!json_is_integer(v) || json_integer_value(v) < 0 ||
                      json_integer_value(v) > UINT32_MAX))
        return bad(st, where, "\"timeoutMs\" is a number of milliseconds");
    in->timeout_ms = v != NULL ? (uint32_t)json_integer_value(v) : 0;
    v = json_object_get(j, "allowExtraFields");
    in->allow_extra = v != NULL ? json_is_true(v) : allow_extra;

    in->code = HVRPC_OK;
    v = json_object_get(j, "status");
    if (v != NULL) {
        int cd;

        if (!json_is_object(v))
            return bad(st, where,
                       "\"status\" is {\"code\": NAME or number, "
                       "\"message\": ...}");
        cd = contract__code_from_json(json_object_get(v, "code"));
        if (cd < 0)
            return bad(st, where,
                       "\"status\".\"code\" is a status name (\"NOT_FOUND\") "
                       "or number 0-16");
        in->code = (hvrpc_code)cd;
        in->message = json_object_get(v, "message");
        if (in->message != NULL && !json_is_string(in->message) &&
            !contract__is_matcher(in->message))
            return bad(st, where, "\"status\".\"message\" is a string");
    }

    if (in->kind == HVRPC_UNARY) {
        if (json_object_get(j, "messages") != NULL)
            return bad(st, where,
                       "\"messages\" is for streaming methods; a unary one "
                       "takes \"request\" and \"response\"");
        in->request = json_object_get(j, "request");
        in->response = json_object_get(j, "response");
        if (in->request == NULL) {
            in->request = json_object();
            if (in->request == NULL ||
                json_object_set_new((json_t *)j, "request", in->request) != 0)
                return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
        }
        if (!json_is_object(in->request) ||
            (in->response != NULL && !json_is_object(in->response)))
            return bad(st, where,
                       "\"request\" and \"response\" are JSON objects");
        code = contract__check_matchers(in->request, "request", st);
        if (code == HVRPC_OK && in->response != NULL)
            code = contract__check_matchers(in->response, "response", st);
        return code;
    }
    if (json_object_get(j, "request") != NULL ||
        json_object_get(j, "response") != NULL)
        return bad(st, where,
                   "a streaming method takes \"messages\", not "
                   "\"request\"/\"response\"");
    return parse_stream(c, in, json_object_get(j, "messages"), where, st);
}

static hvrpc_code load_embedded_schema(hvrpc_contract *c, const json_t *schema,
                                       hvrpc_status *st)
{
    json_t *set = json_object_get(schema, "descriptorSet");
    jbuf bytes = {0};
    hvrpc_code code;

    if (!json_is_string(set))
        return bad(st, "schema",
                   "expected {\"descriptorSet\": BASE64} (a serialized "
                   "google.protobuf.FileDescriptorSet)");
    if (!hvrpc_json__unbase64(json_string_value(set), &bytes))
        return bad(st, "schema.descriptorSet", "not base64");
    code = hvrpc_json_pool_create(&c->own_pool, st);
    if (code == HVRPC_OK)
        code = hvrpc_json_pool_add_set(c->own_pool, bytes.data, bytes.len, st);
    free(bytes.data);
    c->pool = c->own_pool;
    return code;
}

hvrpc_code hvrpc_contract_parse(const char *json, size_t len,
                                const hvrpc_json_pool *schema,
                                hvrpc_contract **out, hvrpc_status *st)
{
    hvrpc_contract *c;
    json_error_t err;
    json_t *v, *list;
    hvrpc_code code = HVRPC_OK;
    bool allow_extra;
    size_t i;

    *out = NULL;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    c->root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &err);
    if (c->root == NULL) {
        free(c);
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "not JSON: line %d column %d: %s", err.line,
                                err.column, err.text);
    }
    v = json_object_get(c->root, "hvrpcContract");
    if (!json_is_object(c->root) || !json_is_integer(v)) {
        code = bad(st, "$",
                   "not a contract: \"hvrpcContract\": VERSION is missing");
        goto fail;
    }
    if (json_integer_value(v) < 1 ||
        json_integer_value(v) > HVRPC_CONTRACT_VERSION) {
        code = hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "contract format %" JSON_INTEGER_FORMAT
                                " is not known here (this hvrpc reads 1 to "
                                "%d)",
                                json_integer_value(v), HVRPC_CONTRACT_VERSION);
        goto fail;
    }
    v = json_object_get(c->root, "service");
    if (!json_is_string(v)) {
        code = bad(st, "$", "\"service\" (the full proto name) is required");
        goto fail;
    }
    c->service = json_string_value(v);
    if (schema != NULL) {
        c->pool = schema;
    } else if ((v = json_object_get(c->root, "schema")) != NULL) {
        code = load_embedded_schema(c, v, st);
        if (code != HVRPC_OK)
            goto fail;
    } else {
        code = hvrpc_status_set(st, HVRPC_FAILED_PRECONDITION,
                                "the contract embeds no schema: give one "
                                "(--proto or --protoset)");
        goto fail;
    }
    if (contract__service(c->pool, c->service) == NULL) {
        code = hvrpc_status_set(st, HVRPC_NOT_FOUND,
                                "the schema has no service %s", c->service);
        goto fail;
    }
    allow_extra = json_is_true(json_object_get(c->root, "allowExtraFields"));
    list = json_object_get(c->root, "interactions");
    if (!json_is_array(list)) {
        code = bad(st, "$", "\"interactions\" (an array) is required");
        goto fail;
    }
    c->n = json_array_size(list);
    c->in = calloc(c->n + 1, sizeof(*c->in));
    if (c->in == NULL) {
        code = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
        goto fail;
    }
    json_array_foreach(list, i, v)
    {
        code = parse_interaction(c, i, v, allow_extra, st);
        if (code != HVRPC_OK)
            goto fail;
    }
    *out = c;
    return HVRPC_OK;
fail:
    hvrpc_contract_free(c);
    return code;
}

hvrpc_code hvrpc_contract_load(const char *path, const hvrpc_json_pool *schema,
                               hvrpc_contract **out, hvrpc_status *st)
{
    FILE *f = fopen(path, "rb");
    jbuf b = {0};
    char chunk[65536];
    size_t n;
    hvrpc_code code;

    *out = NULL;
    if (f == NULL)
        return hvrpc_status_set(st, HVRPC_NOT_FOUND, "%s: cannot open it",
                                path);
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        hvrpc_json__put(&b, chunk, n);
    fclose(f);
    if (b.oom) {
        free(b.data);
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    }
    code = hvrpc_contract_parse(b.data ? (const char *)b.data : "", b.len,
                                schema, out, st);
    free(b.data);
    if (code != HVRPC_OK) {
        char msg[HVRPC_STATUS_MESSAGE_MAX];

        snprintf(msg, sizeof(msg), "%s", st ? st->message : "");
        hvrpc_status_set(st, code, "%s: %s", path, msg);
    }
    return code;
}

void hvrpc_contract_free(hvrpc_contract *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->in[i].name);
        free(c->in[i].msgs);
    }
    free(c->in);
    hvrpc_json_pool_free(c->own_pool);
    json_decref(c->root);
    free(c);
}

const char *hvrpc_contract_service(const hvrpc_contract *c)
{
    return c->service;
}

size_t hvrpc_contract_interaction_count(const hvrpc_contract *c)
{
    return c->n;
}

const char *hvrpc_contract_interaction_name(const hvrpc_contract *c, size_t i)
{
    return i < c->n ? c->in[i].name : NULL;
}

size_t hvrpc_contract_schema_methods(const hvrpc_json_pool *schema,
                                     const char *service, const char **names,
                                     size_t max)
{
    const jservice_proto *sd = contract__service(schema, service);
    size_t n = sd != NULL ? sd->n_method : 0;

    for (size_t i = 0; i < n && i < max; i++)
        names[i] = sd->method[i]->name;
    return n;
}

const hvrpc_json_pool *hvrpc_contract_schema(const hvrpc_contract *c)
{
    return c->pool;
}
