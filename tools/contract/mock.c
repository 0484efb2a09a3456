/*
 * mock.c - a server answering a contract's service from its interactions,
 * so guest code runs against it with no host and no VM.
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contract_internal.h"
#include "reflection_service.h"

/* How long the mock waits for a stream's next message from the guest. */
#define STREAM_WAIT_MS 30000

struct hvrpc_contract_mock {
    const hvrpc_contract *c;
    hvrpc_server *srv;
    hvrpc_service svc;
    hvrpc_method *methods;
    hvrpc_contract_schema_files *files; /* for reflection */
    char *uri;
    pthread_mutex_t mu;
    size_t *hits;
    char **unexpected;
    size_t n_unexpected, cap_unexpected;
};

/* --- choosing an interaction ---------------------------------------------- */

/* Edit distance of two method names, to name the closest one. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = calloc(lb + 1, sizeof(*row));
    size_t d;

    if (row == NULL)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];

        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);

            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    d = row[lb];
    free(row);
    return d;
}

typedef struct choice {
    long chosen;  /* the interaction to answer with, or -1 */
    long closest; /* when none: the closest, or -1 */
    char *why;    /* how the closest differs (malloc'd), or NULL */
} choice;

/* Compares the first message the guest sent (NULL: none) and its
 * metadata with interaction in. */
static void compare_first(const hvrpc_contract *c, const cinteraction *in,
                          const uint8_t *msg, size_t len, bool have_msg,
                          const hvrpc_metadata *md, size_t n_md, cdiff *d)
{
    const json_t *exp = NULL;

    if (in->kind == HVRPC_UNARY)
        exp = in->request;
    else if (in->n_msgs > 0 && in->msgs[0].dir == CMSG_SEND)
        exp = in->msgs[0].body;
    if (exp != NULL && have_msg) {
        if (in->kind != HVRPC_UNARY)
            d->prefix = "send #1 ";
        contract__match_bytes(c->pool, in->m.input_type, exp, msg, len,
                              in->allow_extra, d, NULL);
        d->prefix = NULL;
    } else if (exp != NULL) {
        contract__mismatch(d, "send #1", "a message",
                           "the end of the guest's messages");
    } else if (have_msg) {
        contract__mismatch(d, "send #1", "no message first", "a message");
    }
    contract__match_metadata(in->metadata, md, n_md, d);
}

static void choose(hvrpc_contract_mock *m, const char *method,
                   const uint8_t *msg, size_t len, bool have_msg,
                   const hvrpc_metadata *md, size_t n_md, choice *ch)
{
    const hvrpc_contract *c = m->c;
    size_t best = SIZE_MAX, best_name = SIZE_MAX;
    long last_match = -1;

    ch->chosen = -1;
    ch->closest = -1;
    ch->why = NULL;
    for (size_t i = 0; i < c->n; i++) {
        const cinteraction *in = &c->in[i];
        cdiff d = {.indent = "  "};

        if (strcmp(in->method, method) != 0)
            continue;
        compare_first(c, in, msg, len, have_msg, md, n_md, &d);
        if (d.count == 0) {
            free(d.text.data);
            pthread_mutex_lock(&m->mu);
            bool unused = m->hits[i] == 0;
            pthread_mutex_unlock(&m->mu);
            if (unused) {
                ch->chosen = (long)i;
                break;
            }
            last_match = (long)i;
            continue;
        }
        if (d.count < best) {
            best = d.count;
            ch->closest = (long)i;
            free(ch->why);
            ch->why = hvrpc_json__take_text(&d.text);
        } else {
            free(d.text.data);
        }
    }
    if (ch->chosen < 0)
        ch->chosen = last_match;
    if (ch->chosen >= 0) {
        free(ch->why);
        ch->why = NULL;
        pthread_mutex_lock(&m->mu);
        m->hits[ch->chosen]++;
        pthread_mutex_unlock(&m->mu);
        return;
    }
    if (ch->closest >= 0)
        return;
    for (size_t i = 0; i < c->n; i++) { /* no interaction of this method */
        size_t dist = distance(c->in[i].method, method);

        if (dist < best_name) {
            best_name = dist;
            ch->closest = (long)i;
        }
    }
}

/* Records an unexpected call and returns the one-line message for the
 * guest (malloc'd). */
static char *unexpected(hvrpc_contract_mock *m, const char *method,
                        const json_t *request, const choice *ch)
{
    const hvrpc_contract *c = m->c;
    jbuf full = {0};
    char shown[160];
    char *text, *line;

    hvrpc_json__printf(&full, "contract: unexpected call %s/%s", c->service,
                       method);
    if (request != NULL)
        hvrpc_json__printf(&full, " with %s",
                           contract__show(request, shown, sizeof(shown)));
    if (ch->closest < 0) {
        hvrpc_json__printf(&full, ": the contract has no interactions");
    } else {
        const cinteraction *in = &c->in[ch->closest];

        if (strcmp(in->method, method) != 0)
            hvrpc_json__printf(&full,
                               ": the contract has no interaction of %s; "
                               "closest is %ld \"%s\" (%s)",
                               method, ch->closest + 1, in->name, in->method);
        else
            hvrpc_json__printf(&full,
                               ": no interaction matches; closest is %ld "
                               "\"%s\", which differs:\n%s",
                               ch->closest + 1, in->name,
                               ch->why ? ch->why : "");
    }
    text = hvrpc_json__take_text(&full);
    if (text == NULL)
        return NULL;
    /* Kept without its last newline; the guest's status message is one
     * line: the mismatches joined by "; ". */
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n')
        text[--n] = '\0';
    line = malloc(n + 1);
    if (line != NULL) {
        size_t o = 0;
        bool first = true;

        for (const char *p = text; *p != '\0'; p++) {
            if (*p != '\n') {
                line[o++] = *p;
                continue;
            }
            while (p[1] == ' ')
                p++;
            if (!first)
                line[o++] = ';';
            line[o++] = ' ';
            first = false;
        }
        line[o] = '\0';
    }
    pthread_mutex_lock(&m->mu);
    if (m->n_unexpected == m->cap_unexpected) {
        size_t cap = m->cap_unexpected ? 2 * m->cap_unexpected : 8;
        char **p = realloc(m->unexpected, cap * sizeof(*p));

        if (p != NULL) {
            m->unexpected = p;
            m->cap_unexpected = cap;
        }
    }
    if (m->n_unexpected < m->cap_unexpected)
        m->unexpected[m->n_unexpected++] = text;
    else
        free(text);
    pthread_mutex_unlock(&m->mu);
    return line;
}

/* The status message an interaction fails with. */
static const char *status_message(const cinteraction *in)
{
    const json_t *v = in->message;

    if (contract__is_matcher(v))
        v = json_object_get(v, "$value");
    return json_is_string(v) ? json_string_value(v) : "";
}

/* --- unary ------------------------------------------------------------- */

static void mock_unary(hvrpc_call *call, const uint8_t *req, size_t len,
                       void *ud)
{
    hvrpc_contract_mock *m = ud;
    const char *method = hvrpc_call_method(call);
    size_t n_md = hvrpc_call_metadata_count(call);
    hvrpc_metadata *md = calloc(n_md + 1, sizeof(*md));
    choice ch;

    if (md == NULL) {
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED, NULL);
        return;
    }
    for (size_t i = 0; i < n_md; i++)
        hvrpc_call_metadata_at(call, i, &md[i].key, &md[i].value);
    choose(m, method, req, len, true, md, n_md, &ch);
    free(md);
    if (ch.chosen < 0) {
        hvrpc_json_method jm;
        json_t *shown = NULL;
        char *line;

        if (hvrpc_json_pool_method(m->c->pool, m->c->service, method, &jm,
                                   NULL) == HVRPC_OK)
            contract__to_tree(m->c->pool, jm.input_type, req, len, &shown, NULL,
                              NULL);
        line = unexpected(m, method, shown, &ch);
        json_decref(shown);
        hvrpc_call_fail(call, HVRPC_UNIMPLEMENTED, "%s",
                        line ? line : "contract: unexpected call");
        free(line);
        free(ch.why);
        return;
    }
    const cinteraction *in = &m->c->in[ch.chosen];
    if (in->code != HVRPC_OK) {
        hvrpc_call_fail(call, in->code, "%s", status_message(in));
        return;
    }
    json_t *empty = json_object();
    hvrpc_buf resp;
    hvrpc_status st;
    if (contract__to_bytes(m->c->pool, in->m.output_type,
                           in->response ? in->response : empty, &resp,
                           &st) != HVRPC_OK) {
        hvrpc_call_fail(call, HVRPC_INTERNAL,
                        "contract: interaction %ld's response: %s",
                        ch.chosen + 1, st.message);
    } else {
        hvrpc_call_reply(call, resp.data, resp.len);
        free(resp.data);
    }
    json_decref(empty);
}

/* --- streams ----------------------------------------------------------- */

static void mock_stream(hvrpc_stream *s, void *ud)
{
    hvrpc_contract_mock *m = ud;
    const hvrpc_contract *c = m->c;
    const char *method = hvrpc_stream_method(s);
    size_t n_md = hvrpc_stream_metadata_count(s);
    hvrpc_metadata *md = calloc(n_md + 1, sizeof(*md));
    hvrpc_buf first = {NULL, 0};
    hvrpc_status st;
    hvrpc_code code;
    choice ch;

    if (md == NULL) {
        hvrpc_stream_finish(s, HVRPC_RESOURCE_EXHAUSTED, NULL);
        return;
    }
    for (size_t i = 0; i < n_md; i++)
        hvrpc_stream_metadata_at(s, i, &md[i].key, &md[i].value);
    code = hvrpc_stream_recv(s, &first, STREAM_WAIT_MS, &st);
    if (code != HVRPC_OK && code != HVRPC_END) {
        free(md);
        hvrpc_stream_finish(s, code, "%s", st.message);
        return;
    }
    choose(m, method, first.data, first.len, code == HVRPC_OK, md, n_md, &ch);
    free(md);
    if (ch.chosen < 0) {
        hvrpc_json_method jm;
        json_t *shown = NULL;
        char *line;

        if (code == HVRPC_OK &&
            hvrpc_json_pool_method(c->pool, c->service, method, &jm, NULL) ==
                HVRPC_OK)
            contract__to_tree(c->pool, jm.input_type, first.data, first.len,
                              &shown, NULL, NULL);
        line = unexpected(m, method, shown, &ch);
        json_decref(shown);
        hvrpc_stream_finish(s, HVRPC_UNIMPLEMENTED, "%s",
                            line ? line : "contract: unexpected call");
        free(line);
        free(ch.why);
        hvrpc_buf_free(&first);
        return;
    }
    hvrpc_buf_free(&first);

    const cinteraction *in = &c->in[ch.chosen];
    size_t start = in->n_msgs > 0 && in->msgs[0].dir == CMSG_SEND ? 1 : 0;
    size_t sends = start;
    for (size_t i = start; i < in->n_msgs; i++) {
        const cmsg *msg = &in->msgs[i];
        hvrpc_buf b;

        if (msg->dir == CMSG_SEND) {
            cdiff d = {.indent = ""};
            char prefix[40];

            sends++;
            code = hvrpc_stream_recv(s, &b, STREAM_WAIT_MS, &st);
            snprintf(prefix, sizeof(prefix), "send #%zu ", sends);
            d.prefix = prefix;
            if (code == HVRPC_OK)
                contract__match_bytes(c->pool, in->m.input_type, msg->body,
                                      b.data, b.len, in->allow_extra, &d, NULL);
            else
                contract__mismatch(&d, "", "a message",
                                   code == HVRPC_END ? "the end"
                                                     : hvrpc_code_name(code));
            hvrpc_buf_free(&b);
            if (d.count) {
                char *text = hvrpc_json__take_text(&d.text);

                hvrpc_stream_finish(s, HVRPC_FAILED_PRECONDITION,
                                    "contract: interaction %ld \"%s\": %s",
                                    ch.chosen + 1, in->name, text ? text : "");
                free(text);
                return;
            }
            continue;
        }
        if (contract__to_bytes(c->pool, in->m.output_type, msg->body, &b,
                               &st) != HVRPC_OK) {
            hvrpc_stream_finish(s, HVRPC_INTERNAL,
                                "contract: interaction %ld: %s", ch.chosen + 1,
                                st.message);
            return;
        }
        if (in->kind == HVRPC_CLIENT_STREAMING) {
            /* The one response, after the guest's last message. */
            hvrpc_buf extra;
            code = hvrpc_stream_recv(s, &extra, STREAM_WAIT_MS, &st);
            if (code == HVRPC_OK) {
                hvrpc_buf_free(&extra);
                free(b.data);
                hvrpc_stream_finish(s, HVRPC_FAILED_PRECONDITION,
                                    "contract: interaction %ld \"%s\": "
                                    "send #%zu: expected the end of the "
                                    "guest's messages, got a message",
                                    ch.chosen + 1, in->name, sends + 1);
                return;
            }
            if (in->code == HVRPC_OK)
                hvrpc_stream_reply(s, b.data, b.len);
            else
                hvrpc_stream_finish(s, in->code, "%s", status_message(in));
            free(b.data);
            return;
        }
        code = hvrpc_stream_send(s, b.data, b.len, STREAM_WAIT_MS, &st);
        free(b.data);
        if (code != HVRPC_OK) {
            hvrpc_stream_finish(s, code, "%s", st.message);
            return;
        }
    }
    if (in->code == HVRPC_OK)
        hvrpc_stream_finish(s, HVRPC_OK, NULL);
    else
        hvrpc_stream_finish(s, in->code, "%s", status_message(in));
}

/* --- the server -------------------------------------------------------- */

struct hvrpc_contract_schema_files {
    uint8_t **files; /* packed FileDescriptorProtos */
    size_t n;
};

hvrpc_code hvrpc_contract_serve_schema(hvrpc_server *srv, hvrpc_endpoint *ep,
                                       const hvrpc_json_pool *schema,
                                       hvrpc_contract_schema_files **keep,
                                       hvrpc_status *st)
{
    hvrpc_contract_schema_files *k = calloc(1, sizeof(*k));
    hvrpc_code code = HVRPC_OK;

    *keep = k;
    if (k != NULL)
        k->files = calloc(schema->n_files + 1, sizeof(*k->files));
    if (k == NULL || k->files == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    for (size_t i = 0; i < schema->n_files && code == HVRPC_OK; i++) {
        const jfile_proto *fd = schema->files[i].fd;
        size_t len =
            google__protobuf__file_descriptor_proto__get_packed_size(fd);
        uint8_t *data = malloc(len + 1);

        if (data == NULL)
            return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
        google__protobuf__file_descriptor_proto__pack(fd, data);
        k->files[k->n++] = data;
        code = hvrpc_server_add_file_descriptor(srv, data, len, st);
    }
    if (code == HVRPC_OK)
        code = hvrpc_reflection_register(srv, ep, st);
    return code;
}

void hvrpc_contract_schema_files_free(hvrpc_contract_schema_files *k)
{
    if (k == NULL)
        return;
    for (size_t i = 0; i < k->n; i++)
        free(k->files[i]);
    free(k->files);
    free(k);
}

static hvrpc_code build_service(hvrpc_contract_mock *m, hvrpc_status *st)
{
    const jservice_proto *sd = contract__service(m->c->pool, m->c->service);

    m->methods = calloc(sd->n_method + 1, sizeof(*m->methods));
    if (m->methods == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    for (size_t i = 0; i < sd->n_method; i++) {
        const jmethod_proto *md = sd->method[i];
        hvrpc_method_kind kind =
            (hvrpc_method_kind)((md->client_streaming ? 1 : 0) |
                                (md->server_streaming ? 2 : 0));

        m->methods[i].name = md->name;
        m->methods[i].kind = kind;
        if (kind == HVRPC_UNARY)
            m->methods[i].handler = mock_unary;
        else
            m->methods[i].stream = mock_stream;
    }
    m->svc.name = m->c->service;
    m->svc.methods = m->methods;
    m->svc.n_methods = sd->n_method;
    return HVRPC_OK;
}

hvrpc_code hvrpc_contract_mock_start(const hvrpc_contract *c,
                                     const char *listen_uri,
                                     hvrpc_contract_mock **out,
                                     hvrpc_status *st)
{
    hvrpc_contract_mock *m = calloc(1, sizeof(*m));
    char uri[PATH_MAX + 32];
    hvrpc_endpoint *ep;
    hvrpc_code code;

    *out = NULL;
    if (m == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    pthread_mutex_init(&m->mu, NULL);
    m->c = c;
    m->hits = calloc(c->n + 1, sizeof(*m->hits));
    if (m->hits == NULL) {
        code = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
        goto fail;
    }
    if (listen_uri == NULL) {
        /* In memory: no socket file, reachable only from this process
         * (where the guest code under test runs). A name of its own, so
         * several mocks may run at once. */
        static atomic_uint next_mock;
        snprintf(uri, sizeof(uri), "mem://hvrpc-contract-mock-%ld-%u",
                 (long)getpid(), atomic_fetch_add(&next_mock, 1));
        listen_uri = uri;
    }
    code = build_service(m, st);
    if (code == HVRPC_OK)
        code = hvrpc_server_create(NULL, &m->srv, st);
    if (code == HVRPC_OK)
        code = hvrpc_server_listen(m->srv, listen_uri, &ep, st);
    if (code == HVRPC_OK)
        code = hvrpc_server_register(m->srv, ep, &m->svc, m, NULL, st);
    if (code == HVRPC_OK)
        code = hvrpc_contract_serve_schema(m->srv, ep, c->pool, &m->files, st);
    if (code == HVRPC_OK) {
        char text[PATH_MAX + 64];

        hvrpc_address_format(hvrpc_endpoint_address(ep), text, sizeof(text));
        m->uri = strdup(text);
        if (m->uri == NULL)
            code = hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    }
    if (code == HVRPC_OK)
        code = hvrpc_server_start(m->srv, st);
    if (code != HVRPC_OK)
        goto fail;
    *out = m;
    return HVRPC_OK;
fail:
    hvrpc_contract_mock_free(m);
    return code;
}

const char *hvrpc_contract_mock_uri(const hvrpc_contract_mock *m)
{
    return m->uri;
}

hvrpc_code hvrpc_contract_mock_setenv(const hvrpc_contract_mock *m,
                                      hvrpc_status *st)
{
    char *name = contract__env_var(m->c->service);
    int rc;

    if (name == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    rc = setenv(name, m->uri, 1);
    free(name);
    if (rc != 0)
        return hvrpc_status_set(st, HVRPC_INTERNAL, "setenv failed");
    return HVRPC_OK;
}

size_t hvrpc_contract_mock_unexpected_count(hvrpc_contract_mock *m)
{
    pthread_mutex_lock(&m->mu);
    size_t n = m->n_unexpected;
    pthread_mutex_unlock(&m->mu);
    return n;
}

char *hvrpc_contract_mock_unexpected(hvrpc_contract_mock *m, size_t i)
{
    char *text = NULL;

    pthread_mutex_lock(&m->mu);
    if (i < m->n_unexpected)
        text = strdup(m->unexpected[i]);
    pthread_mutex_unlock(&m->mu);
    return text;
}

size_t hvrpc_contract_mock_hits(hvrpc_contract_mock *m, size_t i)
{
    size_t n = 0;

    pthread_mutex_lock(&m->mu);
    if (i < m->c->n)
        n = m->hits[i];
    pthread_mutex_unlock(&m->mu);
    return n;
}

void hvrpc_contract_mock_free(hvrpc_contract_mock *m)
{
    if (m == NULL)
        return;
    hvrpc_server_free(m->srv); /* releases the name or socket file */
    hvrpc_contract_schema_files_free(m->files);
    for (size_t i = 0; i < m->n_unexpected; i++)
        free(m->unexpected[i]);
    free(m->unexpected);
    free(m->methods);
    free(m->hits);
    free(m->uri);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
