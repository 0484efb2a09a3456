/*
 * from_text.c - protobuf text format -> protobuf bytes, driven by the
 * pool's descriptors: what `protoc --encode` reads, written as protoc
 * writes it (fields in number order, repeated scalars packed where the
 * file says so, map entries with both key and value).
 *
 * Accepted: `name: value` for scalars (the colon is required, as protoc
 * requires it), `name {...}` / `name <...>` / `name: {...}` for messages,
 * repeated fields as repeated entries or as `name: [a, b]` lists (`[{..},
 * {..}]` for messages), maps as repeated `{key: .. value: ..}` entries,
 * an optional `,` or `;` after each field, `#` comments, integers in
 * decimal, hex (0x) and octal (leading 0), floats with exponents, an `f`
 * suffix, `inf` and `nan`, strings in single or double quotes with C
 * escapes (\n \t \\ \' \" \ooo \xHH \uXXXX \UXXXXXXXX), adjacent strings
 * joined, enums by name or number, booleans as true/false/True/False/t/f/
 * 1/0, and an Any in its expanded form `[type.googleapis.com/pkg.Msg] {..}`.
 * Not accepted: extensions and groups (reported as such).
 *
 * Errors are INVALID_ARGUMENT naming the place twice: the line and column
 * of the token (1-based) and the field path, e.g. `line 3, column 9:
 * items[1].count: 3000000000 is out of range for int32`.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"
#include "text_lex.h"

#define T(x)     GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x
#define REPEATED GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED

/* Per field of the message being parsed: its encoded entries so far. */
typedef struct slot {
    jbuf b;
    bool seen;
    size_t count; /* entries, for the [i] of the path */
} slot;

/* --- values ----------------------------------------------------------- */

/* An integer value: [-]NUMBER in [min, max] (signed) or [0, umax]. The
 * token is consumed. */
static bool integer(pctx *c, const char *type, bool neg, bool is_unsigned,
                    int64_t min, int64_t max, uint64_t umax, int64_t *s,
                    uint64_t *u)
{
    token tk = c->tok;
    char buf[64];
    uint64_t m;

    if (tk.kind != TK_NUMBER || tk.is_float)
        return bad(c, "expected an integer (%s), got %s", type,
                   hvrpc_json__tok_shown(&tk, buf, sizeof(buf)));
    if (!hvrpc_json__tok_magnitude(&tk, &m))
        return bad(c, "%s%.*s is out of range for %s", neg ? "-" : "",
                   (int)tk.n, tk.p, type);
    if (is_unsigned) {
        if (neg && m != 0)
            return bad(c, "-%.*s is out of range for %s (it is unsigned)",
                       (int)tk.n, tk.p, type);
        if (m > umax)
            return bad(c, "%.*s is out of range for %s", (int)tk.n, tk.p, type);
        *u = m;
    } else {
        if ((!neg && m > (uint64_t)max) ||
            (neg && m > (uint64_t)(-(min + 1)) + 1))
            return bad(c, "%s%.*s is out of range for %s", neg ? "-" : "",
                       (int)tk.n, tk.p, type);
        *s = neg ? (int64_t)(0 - m) : (int64_t)m;
    }
    return hvrpc_json__tok_next(c);
}

/* A float or double: a number, inf, infinity or nan. Consumed. */
static bool real(pctx *c, bool neg, double *d)
{
    token tk = c->tok;
    char buf[128];

    if (tk.kind == TK_IDENT) {
        /* Any case, as protoc: a lower-cased copy of a short word. */
        for (size_t i = 0; i < sizeof(buf); i++)
            buf[i] = i < tk.n && tk.n < 9
                         ? (char)tolower((unsigned char)tk.p[i])
                         : '\0';
        if (strcmp(buf, "inf") == 0 || strcmp(buf, "infinity") == 0)
            *d = INFINITY;
        else if (strcmp(buf, "nan") == 0)
            *d = NAN;
        else
            return bad(c, "expected a number (or inf, nan), got %s",
                       hvrpc_json__tok_shown(&tk, buf, sizeof(buf)));
    } else if (tk.kind != TK_NUMBER) {
        return bad(c, "expected a number, got %s",
                   hvrpc_json__tok_shown(&tk, buf, sizeof(buf)));
    } else if (tk.base != 10) {
        return bad(c,
                   "expected a decimal number, got %.*s (hex and octal "
                   "are for integer fields)",
                   tk.n > 40 ? 40 : (int)tk.n, tk.p);
    } else {
        size_t n = tk.n;

        if (n >= sizeof(buf))
            return bad(c, "a number of %zu characters is too long", n);
        if (tk.p[n - 1] == 'f' || tk.p[n - 1] == 'F')
            n--;
        memcpy(buf, tk.p, n);
        buf[n] = '\0';
        *d = strtod(buf, NULL); /* the lexer checked the syntax */
    }
    if (neg)
        *d = -*d;
    return hvrpc_json__tok_next(c);
}

/* Whether the enum of type_name is closed (proto2: unknown numbers are
 * refused) and its descriptor. */
static const jenum_proto *find_enum(const pctx *c, const char *type_name,
                                    bool *closed)
{
    const jsym *s = hvrpc_json__find(c->pool, type_name + 1, HVRPC_JSON_ENUM);

    *closed = s != NULL && !c->pool->files[s->file].proto3;
    return s != NULL ? s->d : NULL;
}

static bool enum_value(pctx *c, const jfield_proto *f, bool neg, int32_t *v)
{
    bool closed;
    const jenum_proto *e = find_enum(c, f->type_name, &closed);
    token tk = c->tok;
    char names[120];
    int64_t s;

    if (e == NULL)
        return bad(c, "enum %s is not in the schema", f->type_name + 1);
    if (tk.kind == TK_NUMBER) {
        if (!integer(c, "enum", neg, false, INT32_MIN, INT32_MAX, 0, &s, NULL))
            return false;
        *v = (int32_t)s;
        for (size_t i = 0; closed && i < e->n_value; i++) {
            if (e->value[i]->number == *v)
                return true;
        }
        return !closed ||
               hvrpc_json__tok_fail(c, &tk, "%d is not a value of enum %s", *v,
                                    f->type_name + 1);
    }
    if (tk.kind != TK_IDENT || neg)
        return bad(c, "expected a value of enum %s (a name or a number)",
                   f->type_name + 1);
    for (size_t i = 0; i < e->n_value; i++) {
        if (is_word(&tk, e->value[i]->name)) {
            *v = e->value[i]->number;
            return hvrpc_json__tok_next(c);
        }
    }
    hvrpc_json__enum_names(e, names, sizeof(names));
    return bad(c, "'%.*s' is not a value of enum %s (values: %s)",
               tk.n > 60 ? 60 : (int)tk.n, tk.p, f->type_name + 1, names);
}

static bool boolean(pctx *c, bool *v)
{
    const token *tk = &c->tok;
    char buf[64];

    if (is_word(tk, "true") || is_word(tk, "True") || is_word(tk, "t") ||
        (tk->kind == TK_NUMBER && tk->n == 1 && tk->p[0] == '1'))
        *v = true;
    else if (is_word(tk, "false") || is_word(tk, "False") || is_word(tk, "f") ||
             (tk->kind == TK_NUMBER && tk->n == 1 && tk->p[0] == '0'))
        *v = false;
    else
        return bad(c, "expected bool (true or false), got %s",
                   hvrpc_json__tok_shown(tk, buf, sizeof(buf)));
    return hvrpc_json__tok_next(c);
}

/* One scalar value of f (no tag) onto out; *is_default when it is the
 * type's default. */
static bool scalar(pctx *c, const jfield_proto *f, jbuf *out, bool *is_default)
{
    const char *tn = hvrpc_json__type_name(f->type);
    bool neg = false, ok = true;
    int64_t s = 0;
    uint64_t u = 0;
    double d = 0;
    char buf[64];

    if (f->type != T(STRING) && f->type != T(BYTES) && accept(c, '-', &ok)) {
        if (!ok)
            return false;
        neg = true;
    }
    switch (f->type) {
    case T(INT32):
    case T(SINT32):
    case T(SFIXED32):
    case T(INT64):
    case T(SINT64):
    case T(SFIXED64): {
        bool wide = f->type == T(INT64) || f->type == T(SINT64) ||
                    f->type == T(SFIXED64);

        if (!integer(c, tn, neg, false, wide ? INT64_MIN : INT32_MIN,
                     wide ? INT64_MAX : INT32_MAX, 0, &s, NULL))
            return false;
        *is_default = s == 0;
        hvrpc_json__put_signed(out, f->type, s);
        return true;
    }
    case T(UINT32):
    case T(FIXED32):
    case T(UINT64):
    case T(FIXED64): {
        bool wide = f->type == T(UINT64) || f->type == T(FIXED64);

        if (!integer(c, tn, neg, true, 0, 0, wide ? UINT64_MAX : UINT32_MAX,
                     NULL, &u))
            return false;
        *is_default = u == 0;
        hvrpc_json__put_unsigned(out, f->type, u);
        return true;
    }
    case T(DOUBLE):
    case T(FLOAT):
        /* As protoc: beyond float's range is infinity, not an error. */
        if (!real(c, neg, &d))
            return false;
        *is_default = f->type == T(DOUBLE) ? hvrpc_json__put_double(out, d)
                                           : hvrpc_json__put_float(out, d);
        return true;
    case T(BOOL): {
        bool v = false;

        if (neg)
            return bad(c, "expected bool (true or false) after '-'");
        if (!boolean(c, &v))
            return false;
        *is_default = !v;
        hvrpc_json__put_varint(out, v ? 1 : 0);
        return true;
    }
    case T(ENUM): {
        int32_t v = 0;

        if (!enum_value(c, f, neg, &v))
            return false;
        *is_default = v == 0;
        hvrpc_json__put_varint(out, (uint64_t)(int64_t)v);
        return true;
    }
    case T(STRING):
    case T(BYTES): {
        jbuf raw = {0};

        if (c->tok.kind != TK_STRING)
            return bad(c, "expected a quoted string (%s), got %s", tn,
                       hvrpc_json__tok_shown(&c->tok, buf, sizeof(buf)));
        while (ok && c->tok.kind == TK_STRING) {
            ok = hvrpc_json__tok_string(c, &c->tok, &raw) &&
                 hvrpc_json__tok_next(c);
        }
        *is_default = raw.len == 0;
        hvrpc_json__put_len(out, &raw);
        free(raw.data);
        return ok;
    }
    default:
        return bad(c, "field %s: groups are not supported", f->name);
    }
}

/* --- messages --------------------------------------------------------- */

static bool fields(pctx *c, const jtype *t, char close, jbuf *out, int depth);

/* `{...}` or `<...>` of message type type_name onto out, with its length. */
static bool message(pctx *c, const char *type_name, jbuf *out, int depth)
{
    jtype sub;
    jbuf inner = {0};
    char buf[64];
    char close;
    bool ok;

    if (!hvrpc_json__type(c->pool, type_name, &sub))
        return bad(c, "type %s is not in the schema", type_name + 1);
    if (!is_punct(c, '{') && !is_punct(c, '<'))
        return bad(c, "expected '{' (or '<') to open a %s, got %s", sub.name,
                   hvrpc_json__tok_shown(&c->tok, buf, sizeof(buf)));
    close = c->tok.p[0] == '{' ? '}' : '>';
    ok = hvrpc_json__tok_next(c) && fields(c, &sub, close, &inner, depth + 1);
    if (ok)
        hvrpc_json__put_len(out, &inner);
    free(inner.data);
    return ok;
}

/* One value of field f (after its name and colon) into its slot. */
static bool value(pctx *c, const jtype *t, const jfield_proto *f, slot *sl,
                  int depth)
{
    bool packed = f->label == REPEATED && hvrpc_json__packed(t, f);
    size_t mark = f->label == REPEATED
                      ? hvrpc_json__path_push_index(&c->path, sl->count)
                      : c->path.len;
    jbuf v = {0};
    bool ok, is_default = false;

    if (f->type == T(MESSAGE))
        ok = message(c, f->type_name, &v, depth);
    else
        ok = scalar(c, f, &v, &is_default);
    /* Map entries keep a default key or value; proto3 scalars without
     * presence do not. */
    if (ok && (!is_default || f->label == REPEATED ||
               hvrpc_json__has_presence(t, f) ||
               (t->d->options != NULL && t->d->options->map_entry))) {
        if (!packed)
            hvrpc_json__put_tag(&sl->b, (uint32_t)f->number,
                                hvrpc_json__wire_type(f->type));
        hvrpc_json__put_buf(&sl->b, &v);
    }
    free(v.data);
    sl->count++;
    if (ok)
        hvrpc_json__path_pop(&c->path, mark);
    return ok;
}

/* `[a, b]`: the list form of a repeated field (the '[' is next). */
static bool list(pctx *c, const jtype *t, const jfield_proto *f, slot *sl,
                 int depth)
{
    char buf[64];
    bool ok = hvrpc_json__tok_next(c);

    if (ok && accept(c, ']', &ok))
        return ok;
    while (ok) {
        ok = value(c, t, f, sl, depth);
        if (!ok || accept(c, ']', &ok))
            return ok;
        if (!accept(c, ',', &ok))
            return bad(c, "expected ',' or ']' in the list, got %s",
                       hvrpc_json__tok_shown(&c->tok, buf, sizeof(buf)));
    }
    return false;
}

/* The field of t named by the token, or NULL. */
static const jfield_proto *field_named(const jtype *t, const token *tk)
{
    for (size_t i = 0; i < t->d->n_field; i++) {
        if (is_word(tk, t->d->field[i]->name))
            return t->d->field[i];
    }
    return NULL;
}

/* `[type.googleapis.com/pkg.Msg] {...}` in an Any: fields 1 and 2. */
static bool any_expanded(pctx *c, const jtype *t, slot *slots, int depth)
{
    jbuf url = {0}, inner = {0};
    token start = c->tok;
    const char *slash;
    bool ok = hvrpc_json__tok_next(c);
    char type[300];

    while (ok && !is_punct(c, ']')) {
        if (c->tok.kind == TK_END || c->tok.kind == TK_STRING ||
            url.len > 250) {
            free(url.data);
            return bad(c, "expected a type URL and ']' after '['");
        }
        hvrpc_json__put(&url, c->tok.p, c->tok.n);
        ok = hvrpc_json__tok_next(c);
    }
    hvrpc_json__put(&url, "", 1);
    slash = url.data != NULL ? strrchr((char *)url.data, '/') : NULL;
    if (ok && (slash == NULL || t->d->n_field < 2 || slots[0].seen ||
               slots[1].seen)) {
        ok = hvrpc_json__tok_fail(c, &start,
                                  slash == NULL
                                      ? "expected [type.googleapis.com/"
                                        "pkg.Message] (a type URL)"
                                      : "the Any is given twice");
    }
    if (ok) {
        snprintf(type, sizeof(type), ".%s", slash + 1);
        ok = hvrpc_json__tok_next(c); /* the ']' */
        if (ok && accept(c, ':', &ok) && !ok)
            ok = false;
        ok = ok && message(c, type, &inner, depth);
    }
    if (ok) {
        /* message() wrote the length first: skip it, keep the bytes. */
        size_t pos = 0;
        uint64_t n;

        hvrpc_json__get_varint(inner.data, inner.len, &pos, &n);
        hvrpc_json__put_tag(&slots[0].b, 1, WT_LEN);
        hvrpc_json__put_bytes(&slots[0].b, url.data, url.len - 1);
        if (n > 0) {
            hvrpc_json__put_tag(&slots[1].b, 2, WT_LEN);
            hvrpc_json__put(&slots[1].b, inner.data, inner.len);
        }
        slots[0].seen = slots[1].seen = true;
    }
    free(url.data);
    free(inner.data);
    return ok;
}

/* One `name: value` (or `name {...}`, `name: [...]`) of message t. */
static bool field(pctx *c, const jtype *t, slot *slots, int depth)
{
    const jfield_proto *f = field_named(t, &c->tok);
    token name = c->tok;
    char buf[64], list_text[160];
    size_t idx = 0, mark;
    bool ok, colon;

    if (name.kind != TK_IDENT)
        return bad(c, "expected a field name of %s, got %s", t->name,
                   hvrpc_json__tok_shown(&name, buf, sizeof(buf)));
    if (f == NULL) {
        hvrpc_json__field_names(t, false, list_text, sizeof(list_text));
        return bad(c, "unknown field '%.*s' in %s (fields: %s)",
                   name.n > 60 ? 60 : (int)name.n, name.p, t->name, list_text);
    }
    while (t->d->field[idx] != f)
        idx++;
    mark = hvrpc_json__path_push_field(&c->path, f->name);
    if (f->label != REPEATED && slots[idx].seen)
        return hvrpc_json__tok_fail(
            c, &name, "field %s is given twice (it is not repeated)", f->name);
    for (size_t i = 0; f->has_oneof_index && i < t->d->n_field; i++) {
        const jfield_proto *g = t->d->field[i];

        if (i != idx && slots[i].seen && g->has_oneof_index &&
            g->oneof_index == f->oneof_index)
            return hvrpc_json__tok_fail(
                c, &name,
                "fields %s and %s are members of the same oneof: "
                "give one",
                g->name, f->name);
    }
    if (f->type == T(GROUP))
        return hvrpc_json__tok_fail(
            c, &name, "field %s: groups are not supported", f->name);
    slots[idx].seen = true;
    ok = hvrpc_json__tok_next(c);
    colon = ok && accept(c, ':', &ok);
    if (!ok)
        return false;
    if (!colon && f->type != T(MESSAGE))
        return bad(c, "expected ':' after %s (a %s), got %s", f->name,
                   hvrpc_json__type_name(f->type),
                   hvrpc_json__tok_shown(&c->tok, buf, sizeof(buf)));
    if (is_punct(c, '[')) {
        if (f->label != REPEATED)
            return bad(c,
                       "a list ('[') is only for repeated fields; %s is "
                       "not repeated",
                       f->name);
        ok = list(c, t, f, &slots[idx], depth);
    } else {
        ok = value(c, t, f, &slots[idx], depth);
    }
    if (ok)
        hvrpc_json__path_pop(&c->path, mark);
    return ok;
}

/* A map entry writes its key and value even when they are absent. */
static void map_entry_defaults(const jtype *t, slot *slots)
{
    for (size_t i = 0; i < t->d->n_field; i++) {
        const jfield_proto *f = t->d->field[i];

        if (slots[i].seen || (f->number != 1 && f->number != 2))
            continue;
        hvrpc_json__put_tag(&slots[i].b, (uint32_t)f->number,
                            hvrpc_json__wire_type(f->type));
        if (hvrpc_json__wire_type(f->type) == WT_I64)
            hvrpc_json__put_fixed(&slots[i].b, 0, 8);
        else if (hvrpc_json__wire_type(f->type) == WT_I32)
            hvrpc_json__put_fixed(&slots[i].b, 0, 4);
        else
            hvrpc_json__put_varint(&slots[i].b, 0);
    }
}

static int by_number(const void *a, const void *b)
{
    const jfield_proto *x = *(const jfield_proto *const *)a;
    const jfield_proto *y = *(const jfield_proto *const *)b;

    return (x->number > y->number) - (x->number < y->number);
}

/* The fields of message t up to close ('}', '>', or '\0' for the end of
 * the input, which is then consumed), written in number order onto out. */
static bool fields(pctx *c, const jtype *t, char close, jbuf *out, int depth)
{
    size_t n = t->d->n_field;
    slot *slots;
    const jfield_proto **order;
    bool ok = true;
    char buf[64];

    if (depth > HVRPC_JSON_MAX_DEPTH)
        return bad(c, "nested deeper than %d messages", HVRPC_JSON_MAX_DEPTH);
    slots = calloc(n + 1, sizeof(*slots));
    order = calloc(n + 1, sizeof(*order));
    if (slots == NULL || order == NULL) {
        free(slots);
        free(order);
        c->code = hvrpc_status_set(c->st, HVRPC_RESOURCE_EXHAUSTED,
                                   "out of memory parsing %s", t->name);
        return false;
    }
    while (ok) {
        if (close != '\0' && is_punct(c, close)) {
            ok = hvrpc_json__tok_next(c);
            break;
        }
        if (c->tok.kind == TK_END) {
            if (close != '\0')
                ok = bad(c, "expected '%c' to close %s before the end", close,
                         t->name);
            break;
        }
        if (is_punct(c, '[')) {
            if (strcmp(t->name, "google.protobuf.Any") != 0)
                ok = bad(c, "extensions ('[...]') are not supported");
            else
                ok = any_expanded(c, t, slots, depth);
        } else if (c->tok.kind != TK_IDENT) {
            char what[8] = "";

            if (close != '\0')
                snprintf(what, sizeof(what), " or '%c'", close);
            ok = bad(c, "expected a field name of %s%s, got %s", t->name, what,
                     hvrpc_json__tok_shown(&c->tok, buf, sizeof(buf)));
        } else {
            ok = field(c, t, slots, depth);
        }
        if (ok && !accept(c, ',', &ok) && ok)
            accept(c, ';', &ok);
    }
    if (ok && t->d->options != NULL && t->d->options->map_entry)
        map_entry_defaults(t, slots);
    for (size_t i = 0; i < n; i++)
        order[i] = t->d->field[i];
    qsort(order, n, sizeof(*order), by_number);
    for (size_t i = 0; ok && i < n; i++) {
        size_t idx = 0;

        while (t->d->field[idx] != order[i])
            idx++;
        if (order[i]->label == REPEATED && hvrpc_json__packed(t, order[i]))
            hvrpc_json__put_packed(out, (uint32_t)order[i]->number,
                                   &slots[idx].b);
        else
            hvrpc_json__put_buf(out, &slots[idx].b);
    }
    for (size_t i = 0; i < n; i++)
        free(slots[i].b.data);
    free(slots);
    free(order);
    return ok;
}

hvrpc_code hvrpc_json_text_to_binary(const hvrpc_json_pool *p, const char *type,
                                     const char *text, size_t len,
                                     hvrpc_buf *out, hvrpc_status *st)
{
    pctx c = {.pool = p, .st = st, .s = text, .len = len, .line = 1, .col = 1};
    jtype t;
    jbuf b = {0};

    out->data = NULL;
    out->len = 0;
    if (!hvrpc_json__type(p, type, &t))
        return hvrpc_status_set(st, HVRPC_NOT_FOUND,
                                "message type %s is not in the schema", type);
    if (hvrpc_json__tok_next(&c))
        fields(&c, &t, '\0', &b, 0);
    return hvrpc_json__hand_over(&b, c.code, type, out, st);
}
