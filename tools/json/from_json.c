/*
 * from_json.c - JSON -> protobuf bytes (proto3 JSON mapping), parsed by
 * jansson, written in field-number order as protoc writes them.
 *
 * Every error names the place in the input as a JSON path ("$.a[2].b").
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "json_internal.h"
#include "print.h"

#define T(x)     GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_##x
#define REPEATED GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED

typedef struct ectx {
    const hvrpc_json_pool *pool;
    hvrpc_status *st;
    hvrpc_code code; /* the first error; OK until then */
    jpath path;
} ectx;

#if defined(__GNUC__)
HVRPC_PRINTF(3, 4)
#endif
static bool err(ectx *c, hvrpc_code code, const char *fmt, ...)
{
    char where[sizeof(c->path.text) + 4];
    va_list ap;

    snprintf(where, sizeof(where), "$%s: ", c->path.text);
    va_start(ap, fmt);
    hvrpc_json__fail_first(&c->code, c->st, code, where, fmt, ap);
    va_end(ap);
    return false;
}

#define bad(c, ...) err(c, HVRPC_INVALID_ARGUMENT, __VA_ARGS__)

static const char *kind_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* A short rendering of a value for messages: the number or the string. */
static void show(const json_t *j, char *buf, size_t size)
{
    if (json_is_integer(j))
        snprintf(buf, size, "%lld", (long long)json_integer_value(j));
    else if (json_is_real(j))
        snprintf(buf, size, "%.17g", json_real_value(j));
    else if (json_is_string(j))
        snprintf(buf, size, "\"%.60s\"", json_string_value(j));
    else
        snprintf(buf, size, "%s", kind_name(j));
}

static bool encode_message(ectx *c, const jtype *t, const json_t *j, jbuf *out,
                           int depth);

/* Integers: a JSON integer, an integral real, or a string holding one.
 * Signed values in [min, max] land in *s; unsigned ones (is_unsigned) in
 * [0, umax] in *u. */
static bool get_integer(ectx *c, const json_t *j, const char *type,
                        bool is_unsigned, int64_t min, int64_t max,
                        uint64_t umax, int64_t *s, uint64_t *u)
{
    char shown[96];

    show(j, shown, sizeof(shown));
    if (json_is_integer(j)) {
        json_int_t v = json_integer_value(j);

        if (is_unsigned) {
            if (v < 0 || (uint64_t)v > umax)
                return bad(c, "%s is out of range for %s", shown, type);
            *u = (uint64_t)v;
        } else {
            if (v < min || v > max)
                return bad(c, "%s is out of range for %s", shown, type);
            *s = v;
        }
        return true;
    }
    if (json_is_real(j)) {
        double d = json_real_value(j);

        if (d != floor(d) || !isfinite(d))
            return bad(c, "%s is not an integer (%s)", shown, type);
        if (is_unsigned) {
            if (d < 0 || d >= 18446744073709551616.0 || (uint64_t)d > umax)
                return bad(c, "%s is out of range for %s", shown, type);
            *u = (uint64_t)d;
        } else {
            if (d < -9223372036854775808.0 || d >= 9223372036854775808.0 ||
                (int64_t)d < min || (int64_t)d > max)
                return bad(c, "%s is out of range for %s", shown, type);
            *s = (int64_t)d;
        }
        return true;
    }
    if (json_is_string(j)) {
        const char *text = json_string_value(j);
        char *end;

        if (text[0] == '\0' || text[0] == ' ' || text[0] == '+' ||
            (text[0] == '-' && is_unsigned))
            return bad(c, "%s is not a valid %s", shown, type);
        errno = 0;
        if (is_unsigned) {
            unsigned long long v = strtoull(text, &end, 10);

            if (*end != '\0')
                return bad(c, "%s is not a valid %s", shown, type);
            if (errno == ERANGE || v > umax)
                return bad(c, "%s is out of range for %s", shown, type);
            *u = v;
        } else {
            long long v = strtoll(text, &end, 10);

            if (*end != '\0')
                return bad(c, "%s is not a valid %s", shown, type);
            if (errno == ERANGE || v < min || v > max)
                return bad(c, "%s is out of range for %s", shown, type);
            *s = v;
        }
        return true;
    }
    return bad(c, "expected %s (a number or a string), got %s", type,
               kind_name(j));
}

static bool get_double(ectx *c, const json_t *j, const char *type, double *d)
{
    char shown[96];

    show(j, shown, sizeof(shown));
    if (json_is_number(j)) {
        *d = json_number_value(j);
    } else if (json_is_string(j)) {
        const char *text = json_string_value(j);
        char *end;

        if (strcmp(text, "NaN") == 0) {
            *d = NAN;
            return true;
        }
        if (strcmp(text, "Infinity") == 0) {
            *d = INFINITY;
            return true;
        }
        if (strcmp(text, "-Infinity") == 0) {
            *d = -INFINITY;
            return true;
        }
        errno = 0;
        *d = strtod(text, &end);
        if (text[0] == '\0' || *end != '\0' || isnan(*d) || isinf(*d))
            return bad(c, "%s is not a valid %s", shown, type);
        if (errno == ERANGE && fabs(*d) > 1)
            return bad(c, "%s is out of range for %s", shown, type);
    } else {
        return bad(c, "expected %s (a number), got %s", type, kind_name(j));
    }
    /* Out of range for float: what would round to infinity. */
    if (strcmp(type, "float") == 0 && isfinite(*d) &&
        fabs(*d) >= 0x1.ffffffp+127)
        return bad(c, "%s is out of range for float", shown);
    return true;
}

static bool enum_value(ectx *c, const char *type_name, const json_t *j,
                       int32_t *v)
{
    const jenum_proto *e = hvrpc_json__enum(c->pool, type_name);
    char names[120];
    int64_t s;

    if (json_is_integer(j) || json_is_real(j))
        return get_integer(c, j, "enum", false, INT32_MIN, INT32_MAX, 0, &s,
                           NULL) &&
               (*v = (int32_t)s, true);
    if (!json_is_string(j))
        return bad(c,
                   "expected an enum value of %s (a name or a number), got "
                   "%s",
                   type_name + 1, kind_name(j));
    if (e == NULL)
        return err(c, HVRPC_NOT_FOUND, "enum %s is not in the schema",
                   type_name + 1);
    for (size_t i = 0; i < e->n_value; i++) {
        if (strcmp(e->value[i]->name, json_string_value(j)) == 0) {
            *v = e->value[i]->number;
            return true;
        }
    }
    hvrpc_json__enum_names(e, names, sizeof(names));
    return bad(c, "\"%.60s\" is not a value of enum %s (values: %s)",
               json_string_value(j), type_name + 1, names);
}

/* Encodes one value of field f (no tag) into out. *is_default says whether
 * it is the type's default (proto3 fields without presence then write
 * nothing). */
static bool encode_value(ectx *c, const jtype *t, const jfield_proto *f,
                         const json_t *j, jbuf *out, bool *is_default,
                         int depth)
{
    int64_t s = 0;
    uint64_t u = 0;
    double d;
    const char *tn = hvrpc_json__type_name(f->type);

    *is_default = false;
    switch (f->type) {
    case T(INT32):
    case T(SINT32):
    case T(SFIXED32):
        if (!get_integer(c, j, tn, false, INT32_MIN, INT32_MAX, 0, &s, NULL))
            return false;
        *is_default = s == 0;
        hvrpc_json__put_signed(out, f->type, s);
        return true;
    case T(INT64):
    case T(SINT64):
    case T(SFIXED64):
        if (!get_integer(c, j, tn, false, INT64_MIN, INT64_MAX, 0, &s, NULL))
            return false;
        *is_default = s == 0;
        hvrpc_json__put_signed(out, f->type, s);
        return true;
    case T(UINT32):
    case T(FIXED32):
        if (!get_integer(c, j, tn, true, 0, 0, UINT32_MAX, NULL, &u))
            return false;
        *is_default = u == 0;
        hvrpc_json__put_unsigned(out, f->type, u);
        return true;
    case T(UINT64):
    case T(FIXED64):
        if (!get_integer(c, j, tn, true, 0, 0, UINT64_MAX, NULL, &u))
            return false;
        *is_default = u == 0;
        hvrpc_json__put_unsigned(out, f->type, u);
        return true;
    case T(DOUBLE):
        if (!get_double(c, j, tn, &d))
            return false;
        *is_default = hvrpc_json__put_double(out, d);
        return true;
    case T(FLOAT): /* get_double refused what is out of float's range */
        if (!get_double(c, j, tn, &d))
            return false;
        *is_default = hvrpc_json__put_float(out, d);
        return true;
    case T(BOOL):
        if (!json_is_boolean(j))
            return bad(c, "expected bool (true or false), got %s",
                       kind_name(j));
        *is_default = json_is_false(j);
        hvrpc_json__put_varint(out, json_is_true(j) ? 1 : 0);
        return true;
    case T(ENUM): {
        int32_t v = 0;

        if (json_is_null(j) && f->type_name != NULL &&
            strcmp(f->type_name, ".google.protobuf.NullValue") == 0)
            v = 0;
        else if (!enum_value(c, f->type_name, j, &v))
            return false;
        *is_default = v == 0;
        hvrpc_json__put_varint(out, (uint64_t)(int64_t)v);
        return true;
    }
    case T(STRING):
        if (!json_is_string(j))
            return bad(c, "expected string, got %s", kind_name(j));
        *is_default = json_string_length(j) == 0;
        hvrpc_json__put_bytes(out, json_string_value(j), json_string_length(j));
        return true;
    case T(BYTES): {
        jbuf raw = {0};

        if (!json_is_string(j))
            return bad(c, "expected bytes (a base64 string), got %s",
                       kind_name(j));
        if (!hvrpc_json__unbase64(json_string_value(j), &raw)) {
            free(raw.data);
            return bad(c, "\"%.60s\" is not valid base64 (bytes)",
                       json_string_value(j));
        }
        *is_default = raw.len == 0;
        hvrpc_json__put_len(out, &raw);
        free(raw.data);
        return true;
    }
    case T(MESSAGE): {
        jtype sub;
        jbuf inner = {0};
        bool ok;

        if (!hvrpc_json__type(c->pool, f->type_name, &sub))
            return err(c, HVRPC_NOT_FOUND, "type %s is not in the schema",
                       f->type_name + 1);
        ok = encode_message(c, &sub, j, &inner, depth + 1);
        if (ok)
            hvrpc_json__put_len(out, &inner);
        free(inner.data);
        return ok;
    }
    default:
        return bad(c, "field %s of %s: groups are not supported", f->name,
                   t->name);
    }
}

/* A map key (always a JSON string) as the key field's value. */
static bool encode_map_key(ectx *c, const jtype *entry, const jfield_proto *kf,
                           const char *key, jbuf *out)
{
    json_t *k;
    bool is_default, ok;

    if (kf->type == T(BOOL)) {
        if (strcmp(key, "true") != 0 && strcmp(key, "false") != 0)
            return bad(c, "map key \"%.60s\" is not a bool (true or false)",
                       key);
        k = json_boolean(strcmp(key, "true") == 0);
    } else {
        k = json_string(key);
    }
    if (k == NULL)
        return err(c, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
    hvrpc_json__put_tag(out, 1, hvrpc_json__wire_type(kf->type));
    ok = encode_value(c, entry, kf, k, out, &is_default, 0);
    json_decref(k);
    return ok;
}

static bool encode_field(ectx *c, const jtype *t, const jfield_proto *f,
                         const json_t *j, jbuf *out, int depth)
{
    jtype entry;
    bool is_default;
    bool is_value = f->type == T(MESSAGE) && f->type_name != NULL &&
                    strcmp(f->type_name, ".google.protobuf.Value") == 0;

    if (hvrpc_json__is_map(c->pool, f, &entry)) {
        const jfield_proto *kf = hvrpc_json__field_by_number(&entry, 1);
        const jfield_proto *vf = hvrpc_json__field_by_number(&entry, 2);
        const char *key;
        json_t *v;

        if (!json_is_object(j))
            return bad(c, "expected a map (an object), got %s", kind_name(j));
        if (kf == NULL || vf == NULL)
            return bad(c, "map entry %s has no key or value", entry.name);
        json_object_foreach((json_t *)j, key, v)
        {
            size_t mark = hvrpc_json__path_push_key(&c->path, key);
            jbuf e = {0};
            bool ok = encode_map_key(c, &entry, kf, key, &e);

            if (ok && json_is_null(v) && vf->type == T(MESSAGE) &&
                strcmp(vf->type_name, ".google.protobuf.Value") != 0)
                ok = bad(c, "a map value cannot be null");
            if (ok) {
                hvrpc_json__put_tag(&e, 2, hvrpc_json__wire_type(vf->type));
                ok = encode_value(c, &entry, vf, v, &e, &is_default, depth);
            }
            if (ok) {
                hvrpc_json__put_tag(out, (uint32_t)f->number, WT_LEN);
                hvrpc_json__put_len(out, &e);
            }
            free(e.data);
            if (!ok)
                return false;
            hvrpc_json__path_pop(&c->path, mark);
        }
        return true;
    }
    if (f->label == REPEATED) {
        bool packed = hvrpc_json__packed(t, f);
        jbuf p = {0};
        size_t i;
        json_t *v;

        if (!json_is_array(j))
            return bad(c, "expected a list (an array) for repeated %s, got %s",
                       hvrpc_json__type_name(f->type), kind_name(j));
        json_array_foreach(j, i, v)
        {
            size_t mark = hvrpc_json__path_push_index(&c->path, i);

            if (json_is_null(v) && !is_value) {
                free(p.data);
                return bad(c, "a list element cannot be null");
            }
            if (!packed)
                hvrpc_json__put_tag(out, (uint32_t)f->number,
                                    hvrpc_json__wire_type(f->type));
            if (!encode_value(c, t, f, v, packed ? &p : out, &is_default,
                              depth)) {
                free(p.data);
                return false;
            }
            hvrpc_json__path_pop(&c->path, mark);
        }
        if (packed)
            hvrpc_json__put_packed(out, (uint32_t)f->number, &p);
        free(p.data);
        return true;
    }
    {
        jbuf v = {0};
        bool ok = encode_value(c, t, f, j, &v, &is_default, depth);

        if (ok && (!is_default || hvrpc_json__has_presence(t, f))) {
            hvrpc_json__put_tag(out, (uint32_t)f->number,
                                hvrpc_json__wire_type(f->type));
            hvrpc_json__put_buf(out, &v);
        }
        free(v.data);
        return ok;
    }
}

/* --- well-known types ------------------------------------------------- */

static bool digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (s[i] - '0');
    }
    return true;
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* ".123" -> nanos; *p moves past the fraction. */
static bool fraction(const char **p, int32_t *nanos)
{
    int n = 0;

    *nanos = 0;
    if (**p != '.')
        return true;
    (*p)++;
    while (**p >= '0' && **p <= '9') {
        if (n == 9)
            return false;
        *nanos = *nanos * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (n == 0)
        return false;
    for (; n < 9; n++)
        *nanos *= 10;
    return true;
}

static void put_seconds_nanos(jbuf *out, int64_t s, int32_t n)
{
    if (s != 0) {
        hvrpc_json__put_tag(out, 1, WT_VARINT);
        hvrpc_json__put_varint(out, (uint64_t)s);
    }
    if (n != 0) {
        hvrpc_json__put_tag(out, 2, WT_VARINT);
        hvrpc_json__put_varint(out, (uint64_t)(int64_t)n);
    }
}

static bool timestamp(ectx *c, const json_t *j, jbuf *out)
{
    const char *s = json_string_value(j);
    int y, mo, d, h, mi, sec, oh = 0, om = 0;
    int32_t nanos;
    int64_t secs;

    if (!json_is_string(j))
        return bad(c,
                   "expected a Timestamp (an RFC 3339 string such as "
                   "\"2024-05-01T12:00:00Z\"), got %s",
                   kind_name(j));
    if (strlen(s) < 20 || !digits(s, 4, &y) || s[4] != '-' ||
        !digits(s + 5, 2, &mo) || s[7] != '-' || !digits(s + 8, 2, &d) ||
        (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        goto invalid;
    s += 19;
    if (!fraction(&s, &nanos))
        goto invalid;
    if (*s == 'Z' || *s == 'z') {
        s++;
    } else if ((*s == '+' || *s == '-') && digits(s + 1, 2, &oh) &&
               s[3] == ':' && digits(s + 4, 2, &om)) {
        if (*s == '-') {
            oh = -oh;
            om = -om;
        }
        s += 6;
    } else {
        goto invalid;
    }
    if (*s != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
        mi > 59 || sec > 59 || y < 1)
        goto invalid;
    secs = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
           (oh * 3600 + om * 60);
    if (secs < -62135596800LL || secs > 253402300799LL)
        return bad(c,
                   "\"%.60s\" is out of range for Timestamp (years 1 to "
                   "9999)",
                   json_string_value(j));
    put_seconds_nanos(out, secs, nanos);
    return true;
invalid:
    return bad(c,
               "\"%.60s\" is not a Timestamp (RFC 3339, e.g. "
               "\"2024-05-01T12:00:00.5Z\")",
               json_string_value(j));
}

static bool duration(ectx *c, const json_t *j, jbuf *out)
{
    const char *s = json_string_value(j);
    bool neg = false;
    int64_t secs = 0;
    int32_t nanos;
    int n = 0;

    if (!json_is_string(j))
        return bad(c,
                   "expected a Duration (a string such as \"1.5s\"), got "
                   "%s",
                   kind_name(j));
    if (*s == '-') {
        neg = true;
        s++;
    }
    while (*s >= '0' && *s <= '9') {
        if (++n > 12)
            goto range;
        secs = secs * 10 + (*s++ - '0');
    }
    if (n == 0 || !fraction(&s, &nanos) || s[0] != 's' || s[1] != '\0')
        return bad(c,
                   "\"%.60s\" is not a Duration (seconds with up to 9 "
                   "decimals and an 's', e.g. \"1.5s\")",
                   json_string_value(j));
    if (secs > 315576000000LL)
        goto range;
    if (neg) {
        secs = -secs;
        nanos = -nanos;
    }
    put_seconds_nanos(out, secs, nanos);
    return true;
range:
    return bad(c,
               "\"%.60s\" is out of range for Duration (at most "
               "315576000000s)",
               json_string_value(j));
}

static bool field_mask(ectx *c, const json_t *j, jbuf *out)
{
    const char *s = json_string_value(j);

    if (!json_is_string(j))
        return bad(c,
                   "expected a FieldMask (a string such as \"a.b,c\"), "
                   "got %s",
                   kind_name(j));
    while (*s != '\0') {
        const char *end = strchr(s, ',');
        jbuf path = {0};

        if (end == NULL)
            end = s + strlen(s);
        for (const char *p = s; p < end; p++) {
            char ch = *p;

            if (ch >= 'A' && ch <= 'Z') {
                hvrpc_json__put(&path, "_", 1);
                ch = (char)(ch - 'A' + 'a');
            } else if (ch == '_') {
                free(path.data);
                return bad(c, "FieldMask path \"%.*s\" is not lowerCamelCase",
                           (int)(end - s), s);
            }
            hvrpc_json__put(&path, &ch, 1);
        }
        hvrpc_json__put_tag(out, 1, WT_LEN);
        hvrpc_json__put_len(out, &path);
        free(path.data);
        s = *end == ',' ? end + 1 : end;
    }
    return true;
}

static bool value_wkt(ectx *c, const json_t *j, jbuf *out, int depth);

static bool list_value(ectx *c, const json_t *j, jbuf *out, int depth)
{
    size_t i;
    json_t *v;

    if (!json_is_array(j))
        return bad(c, "expected a ListValue (an array), got %s", kind_name(j));
    json_array_foreach(j, i, v)
    {
        size_t mark = hvrpc_json__path_push_index(&c->path, i);
        jbuf e = {0};
        bool ok = value_wkt(c, v, &e, depth + 1);

        if (ok) {
            hvrpc_json__put_tag(out, 1, WT_LEN);
            hvrpc_json__put_len(out, &e);
        }
        free(e.data);
        if (!ok)
            return false;
        hvrpc_json__path_pop(&c->path, mark);
    }
    return true;
}

static bool struct_wkt(ectx *c, const json_t *j, jbuf *out, int depth)
{
    const char *key;
    json_t *v;

    if (!json_is_object(j))
        return bad(c, "expected a Struct (an object), got %s", kind_name(j));
    json_object_foreach((json_t *)j, key, v)
    {
        size_t mark = hvrpc_json__path_push_field(&c->path, key);
        jbuf e = {0}, val = {0};
        bool ok;

        hvrpc_json__put_tag(&e, 1, WT_LEN);
        hvrpc_json__put_bytes(&e, key, strlen(key));
        ok = value_wkt(c, v, &val, depth + 1);
        if (ok) {
            hvrpc_json__put_tag(&e, 2, WT_LEN);
            hvrpc_json__put_len(&e, &val);
            hvrpc_json__put_tag(out, 1, WT_LEN);
            hvrpc_json__put_len(out, &e);
        }
        free(e.data);
        free(val.data);
        if (!ok)
            return false;
        hvrpc_json__path_pop(&c->path, mark);
    }
    return true;
}

static bool value_wkt(ectx *c, const json_t *j, jbuf *out, int depth)
{
    jbuf inner = {0};
    bool ok = true;

    if (depth > HVRPC_JSON_MAX_DEPTH)
        return bad(c, "nested deeper than %d levels", HVRPC_JSON_MAX_DEPTH);
    switch (json_typeof(j)) {
    case JSON_NULL:
        hvrpc_json__put_tag(out, 1, WT_VARINT);
        hvrpc_json__put_varint(out, 0);
        return true;
    case JSON_INTEGER:
    case JSON_REAL:
        hvrpc_json__put_tag(out, 2, WT_I64);
        hvrpc_json__put_double(out, json_number_value(j));
        return true;
    case JSON_STRING:
        hvrpc_json__put_tag(out, 3, WT_LEN);
        hvrpc_json__put_bytes(out, json_string_value(j), json_string_length(j));
        return true;
    case JSON_TRUE:
    case JSON_FALSE:
        hvrpc_json__put_tag(out, 4, WT_VARINT);
        hvrpc_json__put_varint(out, json_is_true(j) ? 1 : 0);
        return true;
    case JSON_OBJECT:
        ok = struct_wkt(c, j, &inner, depth);
        hvrpc_json__put_tag(out, 5, WT_LEN);
        break;
    case JSON_ARRAY:
        ok = list_value(c, j, &inner, depth);
        hvrpc_json__put_tag(out, 6, WT_LEN);
        break;
    }
    if (ok)
        hvrpc_json__put_len(out, &inner);
    free(inner.data);
    return ok;
}

static bool any_wkt(ectx *c, const jtype *t, const json_t *j, jbuf *out,
                    int depth)
{
    const json_t *type_j = json_object_get(j, "@type");
    const char *url, *slash;
    jtype sub;
    jbuf inner = {0};
    bool ok;

    if (!json_is_object(j))
        return bad(c, "expected an Any (an object with \"@type\"), got %s",
                   kind_name(j));
    if (json_object_size(j) == 0)
        return true;
    if (!json_is_string(type_j))
        return bad(c, "an Any needs \"@type\" (e.g. "
                      "\"type.googleapis.com/pkg.Message\")");
    url = json_string_value(type_j);
    slash = strrchr(url, '/');
    if (!hvrpc_json__type(c->pool, slash != NULL ? slash + 1 : url, &sub))
        return err(c, HVRPC_NOT_FOUND, "@type %.80s is not in the schema", url);
    if (hvrpc_json__print_special(sub.name)) {
        const json_t *v = json_object_get(j, "value");
        size_t mark;

        if (v == NULL)
            return bad(c, "an Any holding %s needs \"value\"", sub.name);
        mark = hvrpc_json__path_push_field(&c->path, "value");
        ok = encode_message(c, &sub, v, &inner, depth + 1);
        hvrpc_json__path_pop(&c->path, mark);
    } else {
        json_t *copy = json_copy((json_t *)j);

        if (copy == NULL)
            return err(c, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
        json_object_del(copy, "@type");
        ok = encode_message(c, &sub, copy, &inner, depth + 1);
        json_decref(copy);
    }
    if (ok) {
        hvrpc_json__put_tag(out, 1, WT_LEN);
        hvrpc_json__put_bytes(out, url, strlen(url));
        if (inner.len > 0) {
            hvrpc_json__put_tag(out, 2, WT_LEN);
            hvrpc_json__put_len(out, &inner);
        }
    }
    free(inner.data);
    (void)t;
    return ok;
}

/* *handled false when t has no special JSON form. */
static bool wkt(ectx *c, const jtype *t, const json_t *j, jbuf *out, int depth,
                bool *handled)
{
    const char *n = t->name;

    *handled = true;
    if (strcmp(n, "google.protobuf.Timestamp") == 0)
        return timestamp(c, j, out);
    if (strcmp(n, "google.protobuf.Duration") == 0)
        return duration(c, j, out);
    if (strcmp(n, "google.protobuf.FieldMask") == 0)
        return field_mask(c, j, out);
    if (strcmp(n, "google.protobuf.Struct") == 0)
        return struct_wkt(c, j, out, depth);
    if (strcmp(n, "google.protobuf.Value") == 0)
        return value_wkt(c, j, out, depth);
    if (strcmp(n, "google.protobuf.ListValue") == 0)
        return list_value(c, j, out, depth);
    if (strcmp(n, "google.protobuf.Any") == 0)
        return any_wkt(c, t, j, out, depth);
    if (hvrpc_json__print_special(n) && t->d->n_field == 1) {
        /* A wrapper: the bare value is its field "value". */
        return encode_field(c, t, t->d->field[0], j, out, depth);
    }
    *handled = false;
    return true;
}

static const jfield_proto *field_by_name(const jtype *t, const char *key)
{
    for (size_t i = 0; i < t->d->n_field; i++) {
        const jfield_proto *f = t->d->field[i];
        char buf[256];

        if (strlen(f->name) < sizeof(buf) &&
            strcmp(hvrpc_json__json_name(f, buf), key) == 0)
            return f;
    }
    for (size_t i = 0; i < t->d->n_field; i++) {
        if (strcmp(t->d->field[i]->name, key) == 0)
            return t->d->field[i];
    }
    return NULL;
}

static int by_number(const void *a, const void *b)
{
    const jfield_proto *x = *(const jfield_proto *const *)a;
    const jfield_proto *y = *(const jfield_proto *const *)b;

    return (x->number > y->number) - (x->number < y->number);
}

static bool encode_message(ectx *c, const jtype *t, const json_t *j, jbuf *out,
                           int depth)
{
    size_t n = t->d->n_field;
    const json_t **vals;
    const char **keys;
    const jfield_proto **order;
    const char *key;
    json_t *v;
    bool handled, ok = true;

    if (depth > HVRPC_JSON_MAX_DEPTH)
        return bad(c, "nested deeper than %d messages", HVRPC_JSON_MAX_DEPTH);
    ok = wkt(c, t, j, out, depth, &handled);
    if (handled)
        return ok;
    if (!json_is_object(j))
        return bad(c, "expected an object for message %s, got %s", t->name,
                   kind_name(j));
    vals = calloc(n + 1, sizeof(*vals));
    keys = calloc(n + 1, sizeof(*keys));
    order = calloc(n + 1, sizeof(*order));
    if (vals == NULL || keys == NULL || order == NULL) {
        ok = err(c, HVRPC_RESOURCE_EXHAUSTED, "out of memory");
        goto done;
    }
    json_object_foreach((json_t *)j, key, v)
    {
        const jfield_proto *f = field_by_name(t, key);
        size_t idx = 0;

        if (f == NULL) {
            char fields[120];
            size_t mark = hvrpc_json__path_push_field(&c->path, key);

            hvrpc_json__field_names(t, true, fields, sizeof(fields));
            hvrpc_json__path_pop(&c->path, mark);
            ok = bad(c, "unknown field \"%.60s\" in %s (fields: %s)", key,
                     t->name, fields);
            goto done;
        }
        while (t->d->field[idx] != f)
            idx++;
        if (keys[idx] != NULL) {
            ok = bad(c, "field %s is given twice (as \"%s\" and \"%s\")",
                     f->name, keys[idx], key);
            goto done;
        }
        if (f->has_oneof_index && !json_is_null(v)) {
            for (size_t i = 0; i < n; i++) {
                const jfield_proto *g = t->d->field[i];

                if (i != idx && keys[i] != NULL && !json_is_null(vals[i]) &&
                    g->has_oneof_index && g->oneof_index == f->oneof_index) {
                    ok = bad(c,
                             "fields \"%s\" and \"%s\" are members of the "
                             "same oneof: give one",
                             keys[i], key);
                    goto done;
                }
            }
        }
        keys[idx] = key;
        vals[idx] = v;
    }
    for (size_t i = 0; i < n; i++)
        order[i] = t->d->field[i];
    qsort(order, n, sizeof(*order), by_number);
    for (size_t i = 0; i < n && ok; i++) {
        const jfield_proto *f = order[i];
        size_t idx = 0;
        size_t mark;

        while (t->d->field[idx] != f)
            idx++;
        if (vals[idx] == NULL)
            continue;
        mark = hvrpc_json__path_push_field(&c->path, keys[idx]);
        if (json_is_null(vals[idx])) {
            /* null is "absent", except where it is a value itself. */
            if (f->label != REPEATED && f->type == T(MESSAGE) &&
                strcmp(f->type_name, ".google.protobuf.Value") == 0) {
                jbuf e = {0};

                value_wkt(c, vals[idx], &e, depth + 1);
                hvrpc_json__put_tag(out, (uint32_t)f->number, WT_LEN);
                hvrpc_json__put_len(out, &e);
                free(e.data);
            } else if (f->label != REPEATED && f->type == T(ENUM) &&
                       strcmp(f->type_name, ".google.protobuf.NullValue") ==
                           0) {
                hvrpc_json__put_tag(out, (uint32_t)f->number, WT_VARINT);
                hvrpc_json__put_varint(out, 0);
            }
        } else {
            ok = encode_field(c, t, f, vals[idx], out, depth);
        }
        if (ok)
            hvrpc_json__path_pop(&c->path, mark);
    }
done:
    free(vals);
    free(keys);
    free(order);
    return ok;
}

hvrpc_code hvrpc_json_to_binary(const hvrpc_json_pool *p, const char *type,
                                const char *json, size_t len, hvrpc_buf *out,
                                hvrpc_status *st)
{
    ectx c = {0};
    json_error_t jerr;
    json_t *j;
    jtype t;
    jbuf b = {0};

    out->data = NULL;
    out->len = 0;
    c.pool = p;
    c.st = st;
    if (!hvrpc_json__type(p, type, &t))
        return hvrpc_status_set(st, HVRPC_NOT_FOUND,
                                "message type %s is not in the schema", type);
    j = json_loadb(json, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                                "not valid JSON: line %d column %d: %s%s",
                                jerr.line, jerr.column, jerr.text,
                                strstr(jerr.text, "too big") != NULL
                                    ? " (write 64-bit numbers as strings)"
                                    : "");
    encode_message(&c, &t, j, &b, 0);
    json_decref(j);
    return hvrpc_json__hand_over(&b, c.code, type, out, st);
}
