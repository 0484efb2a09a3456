/*
 * text.c - protobuf bytes -> the text format exactly as `protoc --decode`
 * prints it (fields in number order, maps sorted by key, C escapes), and
 * `hvrpc describe`'s .proto-like descriptions.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"

#define T(x)     GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x
#define REPEATED GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED

#define C_KEY   "\033[1;34m"
#define C_RESET "\033[0m"

typedef struct tctx {
    const hvrpc_json_pool *pool;
    unsigned flags;
    hvrpc_status *st;
    hvrpc_code code;
    jbuf out;
} tctx;

static bool tfail(tctx *c, const char *type, const char *what)
{
    if (c->code == HVRPC_OK)
        c->code = hvrpc_status_set(c->st, HVRPC_INVALID_ARGUMENT,
                                   "the bytes are not a valid %s message: %s",
                                   type, what);
    return false;
}

static void indent(tctx *c, int depth)
{
    for (int i = 0; i < depth; i++)
        hvrpc_json__put(&c->out, "  ", 2);
}

/* protobuf's CEscape. */
static void escaped(jbuf *b, const uint8_t *s, size_t len)
{
    hvrpc_json__put(b, "\"", 1);
    for (size_t i = 0; i < len; i++) {
        switch (s[i]) {
        case '\n':
            hvrpc_json__puts(b, "\\n");
            break;
        case '\r':
            hvrpc_json__puts(b, "\\r");
            break;
        case '\t':
            hvrpc_json__puts(b, "\\t");
            break;
        case '"':
            hvrpc_json__puts(b, "\\\"");
            break;
        case '\'':
            hvrpc_json__puts(b, "\\'");
            break;
        case '\\':
            hvrpc_json__puts(b, "\\\\");
            break;
        default:
            if (s[i] < 0x20 || s[i] >= 0x7f)
                hvrpc_json__printf(b, "\\%03o", s[i]);
            else
                hvrpc_json__put(b, &s[i], 1);
        }
    }
    hvrpc_json__put(b, "\"", 1);
}

typedef struct tval {
    uint64_t bits;
    const uint8_t *data;
    size_t len;
} tval;

static bool read_val(const uint8_t *data, size_t len, size_t *pos, int wt,
                     tval *v)
{
    uint64_t n;

    memset(v, 0, sizeof(*v));
    switch (wt) {
    case WT_VARINT:
        return hvrpc_json__get_varint(data, len, pos, &v->bits);
    case WT_I64:
    case WT_I32: {
        size_t size = wt == WT_I64 ? 8 : 4;

        if (len - *pos < size)
            return false;
        for (size_t i = size; i-- > 0;)
            v->bits = v->bits << 8 | data[*pos + i];
        *pos += size;
        return true;
    }
    case WT_LEN:
        if (!hvrpc_json__get_varint(data, len, pos, &n) || n > len - *pos)
            return false;
        v->data = data + *pos;
        v->len = (size_t)n;
        *pos += (size_t)n;
        return true;
    default:
        return false;
    }
}

static bool print_message(tctx *c, const jtype *t, const uint8_t *data,
                          size_t len, int depth);

static void scalar(tctx *c, const jfield_proto *f, const tval *v)
{
    char num[40];
    union {
        uint64_t u;
        double d;
    } d64;
    union {
        uint32_t u;
        float f;
    } f32;

    switch (f->type) {
    case T(DOUBLE):
        d64.u = v->bits;
        hvrpc_json__format_double(d64.d, num);
        hvrpc_json__puts(&c->out, num);
        return;
    case T(FLOAT):
        f32.u = (uint32_t)v->bits;
        hvrpc_json__format_float(f32.f, num);
        hvrpc_json__puts(&c->out, num);
        return;
    case T(INT64):
    case T(SFIXED64):
        hvrpc_json__printf(&c->out, "%" PRId64, (int64_t)v->bits);
        return;
    case T(SINT64):
        hvrpc_json__printf(&c->out, "%" PRId64,
                           (int64_t)(v->bits >> 1) ^ -(int64_t)(v->bits & 1));
        return;
    case T(UINT64):
    case T(FIXED64):
        hvrpc_json__printf(&c->out, "%" PRIu64, v->bits);
        return;
    case T(INT32):
    case T(SFIXED32):
        hvrpc_json__printf(&c->out, "%" PRId32, (int32_t)(uint32_t)v->bits);
        return;
    case T(SINT32): {
        uint32_t u = (uint32_t)v->bits;
        hvrpc_json__printf(&c->out, "%" PRId32,
                           (int32_t)(u >> 1) ^ -(int32_t)(u & 1));
        return;
    }
    case T(UINT32):
    case T(FIXED32):
        hvrpc_json__printf(&c->out, "%" PRIu32, (uint32_t)v->bits);
        return;
    case T(BOOL):
        hvrpc_json__puts(&c->out, v->bits != 0 ? "true" : "false");
        return;
    case T(ENUM): {
        const jenum_proto *e = hvrpc_json__enum(c->pool, f->type_name);
        int32_t n = (int32_t)(uint32_t)v->bits;

        for (size_t i = 0; e != NULL && i < e->n_value; i++) {
            if (e->value[i]->number == n) {
                hvrpc_json__puts(&c->out, e->value[i]->name);
                return;
            }
        }
        hvrpc_json__printf(&c->out, "%" PRId32, n);
        return;
    }
    default: /* string, bytes */
        escaped(&c->out, v->data, v->len);
        return;
    }
}

static bool is_default(const jfield_proto *f, const tval *v)
{
    if (f->type == T(STRING) || f->type == T(BYTES))
        return v->len == 0;
    if (f->type == T(FLOAT))
        return (uint32_t)v->bits == 0;
    return v->bits == 0;
}

static void field_name(tctx *c, const jfield_proto *f)
{
    if (c->flags & HVRPC_JSON_COLOR)
        hvrpc_json__puts(&c->out, C_KEY);
    hvrpc_json__puts(&c->out, f->name);
    if (c->flags & HVRPC_JSON_COLOR)
        hvrpc_json__puts(&c->out, C_RESET);
}

static bool print_value(tctx *c, const jtype *t, const jfield_proto *f,
                        const tval *v, int depth)
{
    indent(c, depth);
    field_name(c, f);
    if (f->type == T(MESSAGE)) {
        jtype sub;
        bool ok;

        if (!hvrpc_json__type(c->pool, f->type_name, &sub)) {
            if (c->code == HVRPC_OK)
                c->code = hvrpc_status_set(c->st, HVRPC_NOT_FOUND,
                                           "type %s is not in the schema",
                                           f->type_name + 1);
            return false;
        }
        hvrpc_json__puts(&c->out, " {\n");
        ok = print_message(c, &sub,
                           v->data != NULL ? v->data : (const uint8_t *)"",
                           v->len, depth + 1);
        indent(c, depth);
        hvrpc_json__puts(&c->out, "}\n");
        return ok;
    }
    hvrpc_json__puts(&c->out, ": ");
    scalar(c, f, v);
    hvrpc_json__put(&c->out, "\n", 1);
    return true;
}

/* A map entry, kept for sorting by key. */
typedef struct mentry {
    tval key, value;
    bool has_value;
    const jfield_proto *kf;
} mentry;

static int cmp_entries(const void *a, const void *b)
{
    const mentry *x = a, *y = b;

    switch (x->kf->type) {
    case T(STRING): {
        size_t n = x->key.len < y->key.len ? x->key.len : y->key.len;
        int r = n > 0 ? memcmp(x->key.data, y->key.data, n) : 0;

        return r != 0 ? r
                      : (x->key.len > y->key.len) - (x->key.len < y->key.len);
    }
    case T(INT32):
    case T(SFIXED32):
    case T(INT64):
    case T(SFIXED64): {
        int64_t p = (int64_t)x->key.bits, q = (int64_t)y->key.bits;

        if (x->kf->type == T(INT32) || x->kf->type == T(SFIXED32)) {
            p = (int32_t)(uint32_t)p;
            q = (int32_t)(uint32_t)q;
        }
        return (p > q) - (p < q);
    }
    case T(SINT32):
    case T(SINT64): {
        int64_t p = (int64_t)(x->key.bits >> 1) ^ -(int64_t)(x->key.bits & 1);
        int64_t q = (int64_t)(y->key.bits >> 1) ^ -(int64_t)(y->key.bits & 1);

        return (p > q) - (p < q);
    }
    default:
        return (x->key.bits > y->key.bits) - (x->key.bits < y->key.bits);
    }
}

static bool print_map(tctx *c, const jfield_proto *f, const jtype *entry,
                      const uint8_t *data, size_t len, int depth)
{
    const jfield_proto *kf = hvrpc_json__field_by_number(entry, 1);
    const jfield_proto *vf = hvrpc_json__field_by_number(entry, 2);
    mentry *es = NULL;
    size_t n = 0, cap = 0, pos = 0;
    bool ok = true;

    if (kf == NULL || vf == NULL)
        return tfail(c, entry->name, "a map entry without key or value");
    while (pos < len && ok) {
        uint64_t tag;
        tval v;

        if (!hvrpc_json__get_varint(data, len, &pos, &tag) ||
            !read_val(data, len, &pos, (int)(tag & 7), &v)) {
            ok = tfail(c, entry->name, "malformed");
            break;
        }
        if ((tag >> 3) != (uint64_t)f->number || (tag & 7) != WT_LEN)
            continue;
        if (n == cap) {
            mentry *m;

            cap = cap == 0 ? 8 : cap * 2;
            m = realloc(es, cap * sizeof(*es));
            if (m == NULL) {
                ok = false;
                c->out.oom = true;
                break;
            }
            es = m;
        }
        memset(&es[n], 0, sizeof(es[n]));
        es[n].kf = kf;
        es[n].key.data = es[n].value.data = (const uint8_t *)"";
        for (size_t epos = 0; epos < v.len;) {
            uint64_t etag;
            tval ev;

            if (!hvrpc_json__get_varint(v.data, v.len, &epos, &etag) ||
                !read_val(v.data, v.len, &epos, (int)(etag & 7), &ev)) {
                ok = tfail(c, entry->name, "malformed");
                break;
            }
            if (etag >> 3 == 1 &&
                (int)(etag & 7) == hvrpc_json__wire_type(kf->type))
                es[n].key = ev;
            else if (etag >> 3 == 2 &&
                     (int)(etag & 7) == hvrpc_json__wire_type(vf->type)) {
                es[n].value = ev;
                es[n].has_value = true;
            }
        }
        n++;
    }
    if (ok) {
        /* Equal keys: the last one wins, as in a parsed map. */
        if (n > 1)
            qsort(es, n, sizeof(*es), cmp_entries);
        for (size_t i = 0; i < n && ok; i++) {
            if (i + 1 < n && cmp_entries(&es[i], &es[i + 1]) == 0)
                continue;
            indent(c, depth);
            field_name(c, f);
            hvrpc_json__puts(&c->out, " {\n");
            ok = print_value(c, entry, kf, &es[i].key, depth + 1) &&
                 print_value(c, entry, vf, &es[i].value, depth + 1);
            indent(c, depth);
            hvrpc_json__puts(&c->out, "}\n");
        }
    }
    free(es);
    return ok;
}

static int by_number(const void *a, const void *b)
{
    const jfield_proto *x = *(const jfield_proto *const *)a;
    const jfield_proto *y = *(const jfield_proto *const *)b;

    return (x->number > y->number) - (x->number < y->number);
}

static bool print_message(tctx *c, const jtype *t, const uint8_t *data,
                          size_t len, int depth)
{
    size_t n = t->d->n_field;
    const jfield_proto **order;
    bool ok = true;

    if (depth > HVRPC_JSON_MAX_DEPTH)
        return tfail(c, t->name, "nested deeper than 100 messages");
    /* Check the whole message once, so the passes below can trust it. */
    for (size_t pos = 0; pos < len;) {
        uint64_t tag;

        if (!hvrpc_json__get_varint(data, len, &pos, &tag) || (tag >> 3) == 0 ||
            !hvrpc_json__skip(data, len, &pos, (int)(tag & 7),
                              (uint32_t)(tag >> 3), depth))
            return tfail(c, t->name, "malformed");
    }
    order = calloc(n + 1, sizeof(*order));
    if (order == NULL) {
        c->out.oom = true;
        return false;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = t->d->field[i];
    qsort(order, n, sizeof(*order), by_number);
    for (size_t i = 0; i < n && ok; i++) {
        const jfield_proto *f = order[i];
        jtype entry;
        tval last;
        bool have = false;
        int ewt = hvrpc_json__wire_type(f->type);

        if (hvrpc_json__is_map(c->pool, f, &entry)) {
            ok = print_map(c, f, &entry, data, len, depth);
            continue;
        }
        for (size_t pos = 0; pos < len && ok;) {
            uint64_t tag;
            tval v;
            int wt;

            hvrpc_json__get_varint(data, len, &pos, &tag);
            wt = (int)(tag & 7);
            if ((tag >> 3) != (uint64_t)f->number || wt == WT_SGROUP) {
                hvrpc_json__skip(data, len, &pos, wt, (uint32_t)(tag >> 3),
                                 depth);
                continue;
            }
            read_val(data, len, &pos, wt, &v);
            if (f->label == REPEATED && wt == WT_LEN && ewt != WT_LEN) {
                for (size_t pp = 0; pp < v.len && ok;) {
                    tval e;

                    if (!read_val(v.data, v.len, &pp, ewt, &e))
                        ok = tfail(c, t->name, "a truncated packed field");
                    else
                        ok = print_value(c, t, f, &e, depth);
                }
                continue;
            }
            if (wt != ewt) {
                ok = tfail(c, t->name, "a field has the wrong wire type");
                break;
            }
            if (f->label == REPEATED) {
                ok = print_value(c, t, f, &v, depth);
            } else {
                last = v;
                have = true;
            }
        }
        if (ok && have &&
            (hvrpc_json__has_presence(t, f) || !is_default(f, &last)))
            ok = print_value(c, t, f, &last, depth);
    }
    free(order);
    return ok;
}

hvrpc_code hvrpc_json_text_from_binary(const hvrpc_json_pool *p,
                                       const char *type, const uint8_t *data,
                                       size_t len, unsigned flags, char **out,
                                       hvrpc_status *st)
{
    tctx c = {p, flags, st, HVRPC_OK, {0}};
    jtype t;

    *out = NULL;
    if (!hvrpc_json__type(p, type, &t))
        return hvrpc_status_set(st, HVRPC_NOT_FOUND,
                                "message type %s is not in the schema", type);
    if (!print_message(&c, &t, data != NULL ? data : (const uint8_t *)"", len,
                       0)) {
        free(c.out.data);
        return c.code != HVRPC_OK
                   ? c.code
                   : hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    }
    *out = hvrpc_json__take_text(&c.out);
    if (*out == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    return HVRPC_OK;
}

/* --- describe --------------------------------------------------------- */

static const char *strip(const char *name)
{
    return name != NULL && name[0] == '.' ? name + 1 : name;
}

static void describe_field(const hvrpc_json_pool *p, jbuf *b, const jtype *t,
                           const jfield_proto *f, int depth)
{
    jtype entry;

    for (int i = 0; i < depth; i++)
        hvrpc_json__puts(b, "  ");
    if (hvrpc_json__is_map(p, f, &entry)) {
        const jfield_proto *kf = hvrpc_json__field_by_number(&entry, 1);
        const jfield_proto *vf = hvrpc_json__field_by_number(&entry, 2);

        hvrpc_json__printf(b, "map<%s, %s>",
                           kf != NULL ? hvrpc_json__type_name(kf->type) : "?",
                           vf == NULL ? "?"
                           : vf->type_name != NULL
                               ? strip(vf->type_name)
                               : hvrpc_json__type_name(vf->type));
    } else {
        if (f->label == REPEATED)
            hvrpc_json__puts(b, "repeated ");
        else if (f->has_proto3_optional && f->proto3_optional)
            hvrpc_json__puts(b, "optional ");
        else if (
            !t->proto3 &&
            f->label ==
                GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REQUIRED)
            hvrpc_json__puts(b, "required ");
        else if (!t->proto3)
            hvrpc_json__puts(b, "optional ");
        hvrpc_json__puts(b, f->type_name != NULL
                                ? strip(f->type_name)
                                : hvrpc_json__type_name(f->type));
    }
    hvrpc_json__printf(b, " %s = %d;", f->name, f->number);
    if (f->has_oneof_index && !(f->has_proto3_optional && f->proto3_optional) &&
        (size_t)f->oneof_index < t->d->n_oneof_decl)
        hvrpc_json__printf(b, "  // oneof %s",
                           t->d->oneof_decl[f->oneof_index]->name);
    else if (f->json_name != NULL && f->name != NULL &&
             strcmp(f->json_name, f->name) != 0)
        hvrpc_json__printf(b, "  // JSON: \"%s\"", f->json_name);
    hvrpc_json__puts(b, "\n");
}

static void describe_enum(jbuf *b, const jenum_proto *e, int depth)
{
    for (int i = 0; i < depth; i++)
        hvrpc_json__puts(b, "  ");
    hvrpc_json__printf(b, "enum %s {\n", e->name);
    for (size_t i = 0; i < e->n_value; i++) {
        for (int j = 0; j <= depth; j++)
            hvrpc_json__puts(b, "  ");
        hvrpc_json__printf(b, "%s = %d;\n", e->value[i]->name,
                           e->value[i]->number);
    }
    for (int i = 0; i < depth; i++)
        hvrpc_json__puts(b, "  ");
    hvrpc_json__puts(b, "}\n");
}

static void describe_message(const hvrpc_json_pool *p, jbuf *b,
                             const char *full, const jmsg_proto *m, int depth)
{
    jtype t;

    hvrpc_json__type(p, full, &t);
    for (int i = 0; i < depth; i++)
        hvrpc_json__puts(b, "  ");
    hvrpc_json__printf(b, "message %s {\n", m->name);
    for (size_t i = 0; i < m->n_field; i++)
        describe_field(p, b, &t, m->field[i], depth + 1);
    for (size_t i = 0; i < m->n_nested_type; i++) {
        char *sub;

        if (m->nested_type[i]->options != NULL &&
            m->nested_type[i]->options->has_map_entry &&
            m->nested_type[i]->options->map_entry)
            continue;
        if (asprintf(&sub, "%s.%s", full, m->nested_type[i]->name) < 0)
            continue;
        describe_message(p, b, sub, m->nested_type[i], depth + 1);
        free(sub);
    }
    for (size_t i = 0; i < m->n_enum_type; i++)
        describe_enum(b, m->enum_type[i], depth + 1);
    for (int i = 0; i < depth; i++)
        hvrpc_json__puts(b, "  ");
    hvrpc_json__puts(b, "}\n");
}

static void describe_method(jbuf *b, const jmethod_proto *m, int depth)
{
    for (int i = 0; i < depth; i++)
        hvrpc_json__puts(b, "  ");
    hvrpc_json__printf(
        b, "rpc %s(%s%s) returns (%s%s);\n", m->name,
        m->has_client_streaming && m->client_streaming ? "stream " : "",
        strip(m->input_type),
        m->has_server_streaming && m->server_streaming ? "stream " : "",
        strip(m->output_type));
}

hvrpc_code hvrpc_json_describe(const hvrpc_json_pool *p, const char *symbol,
                               char **out, hvrpc_status *st)
{
    const jsym *s = hvrpc_json__find(p, symbol, HVRPC_JSON_NONE);
    const char *file;
    jbuf b = {0};

    *out = NULL;
    if (s == NULL)
        return hvrpc_status_set(st, HVRPC_NOT_FOUND,
                                "no symbol %s in the schema", symbol);
    file = p->files[s->file].fd->name;
    switch (s->kind) {
    case HVRPC_JSON_SERVICE: {
        const jservice_proto *sd = s->d;
        hvrpc_json_service_options o;

        hvrpc_json__printf(&b, "%s is a service (%s):\n", s->name, file);
        hvrpc_json__printf(&b, "service %s {\n", sd->name);
        if (hvrpc_json_pool_service_options(p, s->name, &o, NULL) == HVRPC_OK) {
            if (o.vsock_port != 0)
                hvrpc_json__printf(&b, "  option (hvrpc.vsock_port) = %u;\n",
                                   o.vsock_port);
            if (o.service_guid != NULL)
                hvrpc_json__printf(&b,
                                   "  option (hvrpc.service_guid) = \"%s\";\n",
                                   o.service_guid);
            if (o.friendly_name != NULL)
                hvrpc_json__printf(&b,
                                   "  option (hvrpc.friendly_name) = \"%s\";\n",
                                   o.friendly_name);
        }
        for (size_t i = 0; i < sd->n_method; i++)
            describe_method(&b, sd->method[i], 1);
        hvrpc_json__puts(&b, "}\n");
        break;
    }
    case HVRPC_JSON_METHOD:
        hvrpc_json__printf(&b, "%s is a method (%s):\n", s->name, file);
        describe_method(&b, s->d, 0);
        break;
    case HVRPC_JSON_MESSAGE:
        hvrpc_json__printf(&b, "%s is a message (%s):\n", s->name, file);
        describe_message(p, &b, s->name, s->d, 0);
        break;
    case HVRPC_JSON_ENUM:
        hvrpc_json__printf(&b, "%s is an enum (%s):\n", s->name, file);
        describe_enum(&b, s->d, 0);
        break;
    case HVRPC_JSON_FIELD: {
        char *parent = strdup(s->name);
        jtype t;

        if (parent != NULL)
            *strrchr(parent, '.') = '\0';
        hvrpc_json__printf(&b, "%s is a field of %s (%s):\n", s->name,
                           parent != NULL ? parent : "?", file);
        if (parent != NULL && hvrpc_json__type(p, parent, &t))
            describe_field(p, &b, &t, s->d, 0);
        free(parent);
        break;
    }
    case HVRPC_JSON_ENUM_VALUE: {
        const Google__Protobuf__EnumValueDescriptorProto *v = s->d;
        const jenum_proto *e = s->parent;

        hvrpc_json__printf(&b, "%s is a value of enum %s (%s):\n%s = %d;\n",
                           s->name, e->name, file, v->name, v->number);
        break;
    }
    default:
        break;
    }
    *out = hvrpc_json__take_text(&b);
    if (*out == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    return HVRPC_OK;
}
