/*
 * to_json.c - protobuf bytes -> JSON (proto3 JSON mapping), through a
 * jansson tree printed by print.c.
 *
 * The bytes come from a peer: every length and count is bounded by the
 * input, nesting by HVRPC_JSON_MAX_DEPTH.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "json_internal.h"
#include "print.h"

#define T(x) GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x

typedef struct dctx {
    const hvrpc_json_pool *pool;
    unsigned flags;
    hvrpc_status *st;
    bool failed;
    hvrpc_code code; /* the first error */
} dctx;

static json_t *fail(dctx *c, const char *type, const char *what)
{
    if (!c->failed)
        c->code = hvrpc_status_set(c->st, HVRPC_INVALID_ARGUMENT,
                                   "the bytes are not a valid %s message: %s",
                                   type, what);
    c->failed = true;
    return NULL;
}

static json_t *oom(dctx *c)
{
    if (!c->failed)
        c->code = hvrpc_status_set(c->st, HVRPC_RESOURCE_EXHAUSTED,
                                   "out of memory converting to JSON");
    c->failed = true;
    return NULL;
}

static json_t *message_to_json(dctx *c, const jtype *t, const uint8_t *data,
                               size_t len, int depth);

/* One scalar read from the wire: its value, and whether it is the
 * type's default (so proto3 fields without presence can leave it out). */
typedef struct raw {
    uint64_t bits; /* varint, or the fixed 32/64 bits */
    const uint8_t *data;
    size_t len; /* WT_LEN */
} raw;

static json_t *int64_json(int64_t v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return json_string(buf);
}

static json_t *uint64_json(uint64_t v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return json_string(buf);
}

static json_t *double_json(double v)
{
    if (isnan(v))
        return json_string("NaN");
    if (isinf(v))
        return json_string(v > 0 ? "Infinity" : "-Infinity");
    return json_real(v);
}

static json_t *float_json(float v)
{
    char buf[32];

    if (isnan(v) || isinf(v))
        return double_json((double)v);
    /* The float's shortest decimal, as a double that prints the same. */
    hvrpc_json__format_float(v, buf);
    return json_real(strtod(buf, NULL));
}

static json_t *enum_json(dctx *c, const char *type_name, int32_t v)
{
    const jenum_proto *e;

    if (type_name != NULL &&
        strcmp(type_name, ".google.protobuf.NullValue") == 0)
        return json_null();
    e = hvrpc_json__enum(c->pool, type_name);
    for (size_t i = 0; e != NULL && i < e->n_value; i++) {
        if (e->value[i]->number == v && e->value[i]->name != NULL)
            return json_string(e->value[i]->name);
    }
    return json_integer(v);
}

/* Checks that wire type wt fits field type `type`. */
static bool wire_fits(Google__Protobuf__FieldDescriptorProto__Type type, int wt)
{
    switch (type) {
    case T(DOUBLE):
    case T(FIXED64):
    case T(SFIXED64):
        return wt == WT_I64;
    case T(FLOAT):
    case T(FIXED32):
    case T(SFIXED32):
        return wt == WT_I32;
    case T(STRING):
    case T(BYTES):
    case T(MESSAGE):
        return wt == WT_LEN;
    case T(GROUP):
        return wt == WT_SGROUP;
    default:
        return wt == WT_VARINT;
    }
}

/* Reads one value of wire type wt at *pos into *r. */
static bool read_raw(const uint8_t *data, size_t len, size_t *pos, int wt,
                     raw *r)
{
    uint64_t v;

    memset(r, 0, sizeof(*r));
    switch (wt) {
    case WT_VARINT:
        return hvrpc_json__get_varint(data, len, pos, &r->bits);
    case WT_I64:
        if (len - *pos < 8)
            return false;
        for (int i = 7; i >= 0; i--)
            r->bits = r->bits << 8 | data[*pos + (size_t)i];
        *pos += 8;
        return true;
    case WT_I32:
        if (len - *pos < 4)
            return false;
        for (int i = 3; i >= 0; i--)
            r->bits = r->bits << 8 | data[*pos + (size_t)i];
        *pos += 4;
        return true;
    case WT_LEN:
        if (!hvrpc_json__get_varint(data, len, pos, &v) || v > len - *pos)
            return false;
        r->data = data + *pos;
        r->len = (size_t)v;
        *pos += (size_t)v;
        return true;
    default:
        return false;
    }
}

static json_t *string_json(dctx *c, const jtype *t, const raw *r)
{
    json_t *s = json_stringn((const char *)r->data, r->len);

    if (s == NULL)
        return fail(c, t->name, "a string field is not valid UTF-8");
    return s;
}

static json_t *bytes_json(dctx *c, const raw *r)
{
    jbuf b = {0};
    json_t *s;

    hvrpc_json__base64(&b, r->data, r->len);
    if (b.oom)
        return oom(c);
    s = json_stringn(b.len > 0 ? (const char *)b.data : "", b.len);
    free(b.data);
    return s;
}

/* A scalar or message value of field f. */
static json_t *value_json(dctx *c, const jtype *t, const jfield_proto *f,
                          const raw *r, int depth)
{
    union {
        uint32_t u;
        float f;
    } f32;
    union {
        uint64_t u;
        double d;
    } f64;
    jtype sub;

    switch (f->type) {
    case T(DOUBLE):
        f64.u = r->bits;
        return double_json(f64.d);
    case T(FLOAT):
        f32.u = (uint32_t)r->bits;
        return float_json(f32.f);
    case T(INT64):
    case T(SFIXED64):
        return int64_json((int64_t)r->bits);
    case T(UINT64):
    case T(FIXED64):
        return uint64_json(r->bits);
    case T(SINT64):
        return int64_json((int64_t)(r->bits >> 1) ^ -(int64_t)(r->bits & 1));
    case T(INT32):
    case T(SFIXED32):
        return json_integer((int32_t)(uint32_t)r->bits);
    case T(UINT32):
    case T(FIXED32):
        return json_integer((uint32_t)r->bits);
    case T(SINT32): {
        uint32_t u = (uint32_t)r->bits;
        return json_integer((int32_t)(u >> 1) ^ -(int32_t)(u & 1));
    }
    case T(BOOL):
        return json_boolean(r->bits != 0);
    case T(ENUM):
        return enum_json(c, f->type_name, (int32_t)(uint32_t)r->bits);
    case T(STRING):
        return string_json(c, t, r);
    case T(BYTES):
        return bytes_json(c, r);
    case T(MESSAGE):
        if (!hvrpc_json__type(c->pool, f->type_name, &sub)) {
            if (!c->failed)
                c->code = hvrpc_status_set(
                    c->st, HVRPC_NOT_FOUND,
                    "type %s (field %s.%s) is not in the schema", f->type_name,
                    t->name, f->name);
            c->failed = true;
            return NULL;
        }
        return message_to_json(c, &sub, r->data, r->len, depth + 1);
    default:
        return fail(c, t->name, "groups are not supported");
    }
}

static bool raw_is_default(const jfield_proto *f, const raw *r)
{
    if (f->type == T(STRING) || f->type == T(BYTES))
        return r->len == 0;
    if (f->type == T(FLOAT))
        return (uint32_t)r->bits == 0;
    return r->bits == 0;
}

/* A map key as JSON object key. */
static char *map_key(dctx *c, const jtype *entry, const jfield_proto *kf,
                     const raw *r)
{
    json_t *k = value_json(c, entry, kf, r, 0);
    char *text = NULL;

    if (k == NULL)
        return NULL;
    if (json_is_string(k))
        text = strdup(json_string_value(k));
    else if (json_is_integer(k) &&
             asprintf(&text, "%lld", (long long)json_integer_value(k)) < 0)
        text = NULL;
    else if (json_is_boolean(k))
        text = strdup(json_is_true(k) ? "true" : "false");
    json_decref(k);
    if (text == NULL)
        oom(c);
    return text;
}

/* A map entry's bytes into obj[key] = value. */
static bool map_entry(dctx *c, const jtype *entry, const raw *r, json_t *obj,
                      int depth)
{
    const jfield_proto *kf = hvrpc_json__field_by_number(entry, 1);
    const jfield_proto *vf = hvrpc_json__field_by_number(entry, 2);
    raw kr = {0}, vr = {0};
    bool have_v = false;
    size_t pos = 0;
    json_t *v;
    char *key;

    if (kf == NULL || vf == NULL) {
        fail(c, entry->name, "a map entry type without key and value");
        return false;
    }
    while (pos < r->len) {
        uint64_t tag;
        int wt;

        if (!hvrpc_json__get_varint(r->data, r->len, &pos, &tag)) {
            fail(c, entry->name, "truncated map entry");
            return false;
        }
        wt = (int)(tag & 7);
        if ((tag >> 3) == 1 && wire_fits(kf->type, wt)) {
            if (!read_raw(r->data, r->len, &pos, wt, &kr))
                return fail(c, entry->name, "truncated map key"), false;
        } else if ((tag >> 3) == 2 && wire_fits(vf->type, wt)) {
            if (!read_raw(r->data, r->len, &pos, wt, &vr))
                return fail(c, entry->name, "truncated map value"), false;
            have_v = true;
        } else if (!hvrpc_json__skip(r->data, r->len, &pos, wt,
                                     (uint32_t)(tag >> 3), depth)) {
            fail(c, entry->name, "malformed map entry");
            return false;
        }
    }
    key = map_key(c, entry, kf, &kr);
    if (key == NULL)
        return false;
    if (!have_v && vf->type == T(MESSAGE))
        vr.data = (const uint8_t *)"";
    v = value_json(c, entry, vf, &vr, depth);
    if (v == NULL) {
        free(key);
        return false;
    }
    json_object_set_new(obj, key, v);
    free(key);
    return true;
}

/* The default value of a field, for EMIT_DEFAULTS. */
static json_t *default_json(dctx *c, const jtype *t, const jfield_proto *f)
{
    raw r = {0};

    r.data = (const uint8_t *)"";
    if (f->type == T(MESSAGE))
        return json_null();
    return value_json(c, t, f, &r, 0);
}

/* --- well-known types ------------------------------------------------- */

/* Reads the varint fields 1 and 2 of a Timestamp or Duration. */
static bool seconds_nanos(const uint8_t *data, size_t len, int64_t *s,
                          int32_t *n)
{
    size_t pos = 0;

    *s = 0;
    *n = 0;
    while (pos < len) {
        uint64_t tag;
        raw r;

        if (!hvrpc_json__get_varint(data, len, &pos, &tag) ||
            !read_raw(data, len, &pos, (int)(tag & 7), &r))
            return false;
        if (tag == (1 << 3 | WT_VARINT))
            *s = (int64_t)r.bits;
        else if (tag == (2 << 3 | WT_VARINT))
            *n = (int32_t)(uint32_t)r.bits;
    }
    return true;
}

/* Fraction digits as protobuf writes them: 0, 3, 6 or 9 of them. */
static void put_nanos(char *out, size_t size, int32_t nanos)
{
    if (nanos == 0)
        out[0] = '\0';
    else if (nanos % 1000000 == 0)
        snprintf(out, size, ".%03d", nanos / 1000000);
    else if (nanos % 1000 == 0)
        snprintf(out, size, ".%06d", nanos / 1000);
    else
        snprintf(out, size, ".%09d", nanos);
}

#define MIN_TIMESTAMP (-62135596800LL) /* 0001-01-01T00:00:00Z */
#define MAX_TIMESTAMP 253402300799LL   /* 9999-12-31T23:59:59Z */
#define MAX_DURATION  315576000000LL

static json_t *timestamp_json(dctx *c, const uint8_t *data, size_t len)
{
    int64_t s;
    int32_t n;
    struct tm tm;
    time_t tt;
    char frac[16], text[64];

    if (!seconds_nanos(data, len, &s, &n))
        return fail(c, "google.protobuf.Timestamp", "malformed");
    if (s < MIN_TIMESTAMP || s > MAX_TIMESTAMP || n < 0 || n > 999999999)
        return fail(c, "google.protobuf.Timestamp",
                    "seconds or nanos out of range");
    tt = (time_t)s;
    gmtime_r(&tt, &tm);
    put_nanos(frac, sizeof(frac), n);
    snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d%sZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, frac);
    return json_string(text);
}

static json_t *duration_json(dctx *c, const uint8_t *data, size_t len)
{
    int64_t s;
    int32_t n;
    char frac[16], text[64];

    if (!seconds_nanos(data, len, &s, &n))
        return fail(c, "google.protobuf.Duration", "malformed");
    if (s < -MAX_DURATION || s > MAX_DURATION || n < -999999999 ||
        n > 999999999 || (s > 0 && n < 0) || (s < 0 && n > 0))
        return fail(c, "google.protobuf.Duration",
                    "seconds or nanos out of range");
    put_nanos(frac, sizeof(frac), n < 0 ? -n : n);
    snprintf(text, sizeof(text), "%s%" PRId64 "%ss",
             (s < 0 || n < 0) ? "-" : "", s < 0 ? -s : s, frac);
    return json_string(text);
}

/* FieldMask paths: snake_case -> lowerCamelCase, joined with ','. */
static json_t *field_mask_json(dctx *c, const uint8_t *data, size_t len)
{
    jbuf b = {0};
    size_t pos = 0;
    bool first = true;
    json_t *s;

    while (pos < len) {
        uint64_t tag;
        raw r;

        if (!hvrpc_json__get_varint(data, len, &pos, &tag) ||
            !read_raw(data, len, &pos, (int)(tag & 7), &r))
            return fail(c, "google.protobuf.FieldMask", "malformed");
        if (tag != (1 << 3 | WT_LEN))
            continue;
        if (!first)
            hvrpc_json__put(&b, ",", 1);
        first = false;
        for (size_t i = 0; i < r.len; i++) {
            char ch = (char)r.data[i];

            if (ch == '_' && i + 1 < r.len && r.data[i + 1] >= 'a' &&
                r.data[i + 1] <= 'z') {
                ch = (char)(r.data[++i] - 'a' + 'A');
            }
            hvrpc_json__put(&b, &ch, 1);
        }
    }
    if (b.oom)
        return oom(c);
    s = json_stringn(b.len > 0 ? (const char *)b.data : "", b.len);
    free(b.data);
    if (s == NULL)
        return fail(c, "google.protobuf.FieldMask", "a path is not UTF-8");
    return s;
}

static json_t *any_json(dctx *c, const jtype *t, const uint8_t *data,
                        size_t len, int depth)
{
    size_t pos = 0;
    raw url = {0}, value = {0};
    char *type_url;
    const char *slash;
    jtype sub;
    json_t *inner, *out;

    while (pos < len) {
        uint64_t tag;
        raw r;

        if (!hvrpc_json__get_varint(data, len, &pos, &tag) ||
            !read_raw(data, len, &pos, (int)(tag & 7), &r))
            return fail(c, t->name, "malformed");
        if (tag == (1 << 3 | WT_LEN))
            url = r;
        else if (tag == (2 << 3 | WT_LEN))
            value = r;
    }
    if (url.len == 0 && value.len == 0)
        return json_object();
    type_url = strndup(url.len > 0 ? (const char *)url.data : "", url.len);
    if (type_url == NULL)
        return oom(c);
    slash = strrchr(type_url, '/');
    if (!hvrpc_json__type(c->pool, slash != NULL ? slash + 1 : type_url,
                          &sub)) {
        if (!c->failed)
            c->code = hvrpc_status_set(
                c->st, HVRPC_NOT_FOUND,
                "google.protobuf.Any holds %s, which is not in "
                "the schema",
                type_url);
        c->failed = true;
        free(type_url);
        return NULL;
    }
    inner = message_to_json(c, &sub, value.data != NULL ? value.data : data,
                            value.len, depth + 1);
    if (inner == NULL) {
        free(type_url);
        return NULL;
    }
    out = json_object();
    json_object_set_new(out, "@type", json_string(type_url));
    free(type_url);
    if (json_is_object(inner) && !hvrpc_json__print_special(sub.name)) {
        json_object_update(out, inner);
        json_decref(inner);
    } else {
        json_object_set_new(out, "value", inner);
    }
    return out;
}

static json_t *list_value_json(dctx *c, const uint8_t *data, size_t len,
                               int depth);
static json_t *struct_json(dctx *c, const uint8_t *data, size_t len, int depth);

static json_t *value_wkt_json(dctx *c, const uint8_t *data, size_t len,
                              int depth)
{
    size_t pos = 0;
    uint64_t kind = 0;
    raw last = {0};
    union {
        uint64_t u;
        double d;
    } f64;

    if (depth > HVRPC_JSON_MAX_DEPTH)
        return fail(c, "google.protobuf.Value", "nested too deeply");
    while (pos < len) {
        uint64_t tag;

        if (!hvrpc_json__get_varint(data, len, &pos, &tag) ||
            !read_raw(data, len, &pos, (int)(tag & 7), &last))
            return fail(c, "google.protobuf.Value", "malformed");
        kind = tag >> 3;
    }
    switch (kind) {
    case 0: /* no kind set: C++ refuses; write null */
    case 1:
        return json_null();
    case 2:
        f64.u = last.bits;
        return double_json(f64.d);
    case 3:
        return json_stringn(last.len > 0 ? (const char *)last.data : "",
                            last.len);
    case 4:
        return json_boolean(last.bits != 0);
    case 5:
        return struct_json(c, last.data, last.len, depth + 1);
    case 6:
        return list_value_json(c, last.data, last.len, depth + 1);
    default:
        return fail(c, "google.protobuf.Value", "unknown kind");
    }
}

static json_t *list_value_json(dctx *c, const uint8_t *data, size_t len,
                               int depth)
{
    json_t *arr = json_array();
    size_t pos = 0;

    while (arr != NULL && pos < len) {
        uint64_t tag;
        raw r;
        json_t *v;

        if (!hvrpc_json__get_varint(data, len, &pos, &tag) ||
            !read_raw(data, len, &pos, (int)(tag & 7), &r)) {
            json_decref(arr);
            return fail(c, "google.protobuf.ListValue", "malformed");
        }
        if (tag != (1 << 3 | WT_LEN))
            continue;
        v = value_wkt_json(c, r.data, r.len, depth + 1);
        if (v == NULL) {
            json_decref(arr);
            return NULL;
        }
        json_array_append_new(arr, v);
    }
    return arr;
}

static json_t *struct_json(dctx *c, const uint8_t *data, size_t len, int depth)
{
    json_t *obj = json_object();
    size_t pos = 0;

    while (obj != NULL && pos < len) {
        uint64_t tag;
        raw r, k = {0}, v = {0};
        size_t epos = 0;
        char *key;
        json_t *val;

        if (!hvrpc_json__get_varint(data, len, &pos, &tag) ||
            !read_raw(data, len, &pos, (int)(tag & 7), &r))
            goto bad;
        if (tag != (1 << 3 | WT_LEN))
            continue;
        while (epos < r.len) {
            uint64_t etag;
            raw er;

            if (!hvrpc_json__get_varint(r.data, r.len, &epos, &etag) ||
                !read_raw(r.data, r.len, &epos, (int)(etag & 7), &er))
                goto bad;
            if (etag == (1 << 3 | WT_LEN))
                k = er;
            else if (etag == (2 << 3 | WT_LEN))
                v = er;
        }
        key = strndup(k.len > 0 ? (const char *)k.data : "", k.len);
        if (key == NULL) {
            json_decref(obj);
            return oom(c);
        }
        val = value_wkt_json(c, v.data, v.len, depth + 1);
        if (val == NULL) {
            free(key);
            json_decref(obj);
            return NULL;
        }
        json_object_set_new(obj, key, val);
        free(key);
    }
    return obj;
bad:
    json_decref(obj);
    return fail(c, "google.protobuf.Struct", "malformed");
}

/* The well-known types with a JSON form of their own; NULL when t is not
 * one of them (*handled false). */
static json_t *wkt_json(dctx *c, const jtype *t, const uint8_t *data,
                        size_t len, int depth, bool *handled)
{
    const char *n = t->name;

    *handled = true;
    if (strcmp(n, "google.protobuf.Timestamp") == 0)
        return timestamp_json(c, data, len);
    if (strcmp(n, "google.protobuf.Duration") == 0)
        return duration_json(c, data, len);
    if (strcmp(n, "google.protobuf.FieldMask") == 0)
        return field_mask_json(c, data, len);
    if (strcmp(n, "google.protobuf.Struct") == 0)
        return struct_json(c, data, len, depth);
    if (strcmp(n, "google.protobuf.Value") == 0)
        return value_wkt_json(c, data, len, depth);
    if (strcmp(n, "google.protobuf.ListValue") == 0)
        return list_value_json(c, data, len, depth);
    if (strcmp(n, "google.protobuf.Any") == 0)
        return any_json(c, t, data, len, depth);
    if (strncmp(n, "google.protobuf.", 16) == 0 && strlen(n) > 21 &&
        strcmp(n + strlen(n) - 5, "Value") == 0 && t->d->n_field == 1) {
        /* A wrapper: the bare value (its default when absent). */
        const jfield_proto *f = t->d->field[0];
        json_t *obj = message_to_json(c, t, data, len, -depth - 1);
        json_t *v;

        if (obj == NULL)
            return NULL;
        v = json_object_get(obj, "value");
        v = v != NULL ? json_incref(v) : default_json(c, t, f);
        json_decref(obj);
        return v;
    }
    *handled = false;
    return NULL;
}

/* depth < 0: the generic form of a well-known type, fields named by
 * their .proto names (used for the wrappers). */
static json_t *message_to_json(dctx *c, const jtype *t, const uint8_t *data,
                               size_t len, int depth)
{
    bool raw_names = depth < 0;
    size_t n = t->d->n_field;
    json_t **slots;
    bool *nondefault;
    json_t *obj;
    size_t pos = 0;

    if (raw_names)
        depth = -depth;
    if (depth > HVRPC_JSON_MAX_DEPTH)
        return fail(c, t->name, "nested deeper than 100 messages");
    if (!raw_names) {
        bool handled;
        json_t *w = wkt_json(c, t, data, len, depth, &handled);

        if (handled)
            return w;
    }
    slots = calloc(n + 1, sizeof(*slots));
    nondefault = calloc(n + 1, sizeof(*nondefault));
    if (slots == NULL || nondefault == NULL) {
        free(slots);
        free(nondefault);
        return oom(c);
    }
    while (pos < len && !c->failed) {
        uint64_t tag;
        const jfield_proto *f;
        size_t idx;
        int wt;
        raw r;
        jtype entry;

        if (!hvrpc_json__get_varint(data, len, &pos, &tag) || (tag >> 3) == 0 ||
            (tag >> 3) > 536870911) {
            fail(c, t->name, "a bad field tag");
            break;
        }
        wt = (int)(tag & 7);
        f = hvrpc_json__field_by_number(t, (uint32_t)(tag >> 3));
        if (f == NULL) {
            if (!hvrpc_json__skip(data, len, &pos, wt, (uint32_t)(tag >> 3),
                                  depth))
                fail(c, t->name, "a malformed unknown field");
            continue;
        }
        idx = 0;
        while (t->d->field[idx] != f)
            idx++;
        if (hvrpc_json__is_map(c->pool, f, &entry)) {
            if (wt != WT_LEN || !read_raw(data, len, &pos, wt, &r)) {
                fail(c, t->name, "a malformed map entry");
                break;
            }
            if (slots[idx] == NULL)
                slots[idx] = json_object();
            if (slots[idx] == NULL) {
                oom(c);
                break;
            }
            nondefault[idx] = true;
            map_entry(c, &entry, &r, slots[idx], depth);
            continue;
        }
        if (f->label ==
            GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED) {
            if (slots[idx] == NULL)
                slots[idx] = json_array();
            if (slots[idx] == NULL) {
                oom(c);
                break;
            }
            nondefault[idx] = true;
            if (wt == WT_LEN && hvrpc_json__packable(f->type)) {
                raw packed;
                size_t ppos = 0;
                int ewt = f->type == T(DOUBLE) || f->type == T(FIXED64) ||
                                  f->type == T(SFIXED64)
                              ? WT_I64
                          : f->type == T(FLOAT) || f->type == T(FIXED32) ||
                                  f->type == T(SFIXED32)
                              ? WT_I32
                              : WT_VARINT;

                if (!read_raw(data, len, &pos, wt, &packed)) {
                    fail(c, t->name, "a truncated packed field");
                    break;
                }
                while (ppos < packed.len && !c->failed) {
                    json_t *v;

                    if (!read_raw(packed.data, packed.len, &ppos, ewt, &r)) {
                        fail(c, t->name, "a truncated packed field");
                        break;
                    }
                    v = value_json(c, t, f, &r, depth);
                    if (v != NULL)
                        json_array_append_new(slots[idx], v);
                }
                continue;
            }
        }
        if (!wire_fits(f->type, wt)) {
            fail(c, t->name, "a field has the wrong wire type");
            break;
        }
        if (!read_raw(data, len, &pos, wt, &r)) {
            fail(c, t->name, "a truncated field");
            break;
        }
        json_t *v = value_json(c, t, f, &r, depth);
        if (v == NULL)
            break;
        if (json_is_array(slots[idx])) {
            json_array_append_new(slots[idx], v);
        } else {
            json_decref(slots[idx]);
            slots[idx] = v;
            nondefault[idx] =
                !raw_is_default(f, &r) || hvrpc_json__has_presence(t, f);
        }
    }
    obj = c->failed ? NULL : json_object();
    for (size_t i = 0; i < n; i++) {
        const jfield_proto *f = t->d->field[i];
        char buf[256];
        const char *name;
        json_t *v = slots[i];

        if (obj == NULL) {
            json_decref(v);
            continue;
        }
        if (raw_names || (c->flags & HVRPC_JSON_ORIGINAL_NAMES) ||
            strlen(f->name) >= sizeof(buf))
            name = f->name;
        else
            name = hvrpc_json__json_name(f, buf);
        if (v != NULL && nondefault[i]) {
            json_object_set_new(obj, name, v);
            continue;
        }
        json_decref(v);
        if (!(c->flags & HVRPC_JSON_EMIT_DEFAULTS) || raw_names ||
            (hvrpc_json__has_presence(t, f) &&
             f->label !=
                 GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED))
            continue;
        if (f->label ==
            GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED) {
            jtype entry;
            json_object_set_new(obj, name,
                                hvrpc_json__is_map(c->pool, f, &entry)
                                    ? json_object()
                                    : json_array());
        } else {
            v = default_json(c, t, f);
            if (v != NULL)
                json_object_set_new(obj, name, v);
        }
    }
    free(slots);
    free(nondefault);
    if (c->failed) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}

hvrpc_code hvrpc_json_from_binary(const hvrpc_json_pool *p, const char *type,
                                  const uint8_t *data, size_t len,
                                  unsigned flags, char **out, hvrpc_status *st)
{
    dctx c = {p, flags, st, false, HVRPC_OK};
    jtype t;
    json_t *j;

    *out = NULL;
    if (!hvrpc_json__type(p, type, &t))
        return hvrpc_status_set(st, HVRPC_NOT_FOUND,
                                "message type %s is not in the schema", type);
    j = message_to_json(&c, &t, data != NULL ? data : (const uint8_t *)"", len,
                        0);
    if (j == NULL)
        return c.failed ? c.code
                        : hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED, NULL);
    *out = hvrpc_json__print(j, flags);
    json_decref(j);
    if (*out == NULL)
        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,
                                "out of memory printing JSON");
    return HVRPC_OK;
}
