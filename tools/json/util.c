/*
 * util.c - buffers, wire primitives, number formatting, base64 and JSON
 * paths for libhvrpc_json.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_internal.h"

void hvrpc_json__put(jbuf *b, const void *data, size_t len)
{
    if (b->oom || len == 0)
        return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap == 0 ? 256 : b->cap;
        uint8_t *p;

        while (cap < b->len + len)
            cap *= 2;
        p = realloc(b->data, cap);
        if (p == NULL) {
            b->oom = true;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
}

void hvrpc_json__puts(jbuf *b, const char *s)
{
    hvrpc_json__put(b, s, strlen(s));
}

void hvrpc_json__printf(jbuf *b, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n < sizeof(small)) {
        hvrpc_json__put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (big == NULL) {
        b->oom = true;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    hvrpc_json__put(b, big, (size_t)n);
    free(big);
}

void hvrpc_json__put_varint(jbuf *b, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;

    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    hvrpc_json__put(b, tmp, n);
}

char *hvrpc_json__take_text(jbuf *b)
{
    char *text;

    hvrpc_json__put(b, "", 1);
    if (b->oom) {
        free(b->data);
        b->data = NULL;
        return NULL;
    }
    text = (char *)b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return text;
}

bool hvrpc_json__get_varint(const uint8_t *data, size_t len, size_t *pos,
                            uint64_t *v)
{
    uint64_t r = 0;

    for (unsigned shift = 0; shift < 70; shift += 7) {
        uint8_t byte;

        if (*pos >= len)
            return false;
        byte = data[(*pos)++];
        r |= (uint64_t)(byte & 0x7f) << shift;
        if ((byte & 0x80) == 0) {
            *v = r;
            return true;
        }
    }
    return false;
}

bool hvrpc_json__skip(const uint8_t *data, size_t len, size_t *pos, int wt,
                      uint32_t field, int depth)
{
    uint64_t v;

    switch (wt) {
    case WT_VARINT:
        return hvrpc_json__get_varint(data, len, pos, &v);
    case WT_I64:
        if (len - *pos < 8)
            return false;
        *pos += 8;
        return true;
    case WT_I32:
        if (len - *pos < 4)
            return false;
        *pos += 4;
        return true;
    case WT_LEN:
        if (!hvrpc_json__get_varint(data, len, pos, &v) || v > len - *pos)
            return false;
        *pos += (size_t)v;
        return true;
    case WT_SGROUP:
        if (depth >= HVRPC_JSON_MAX_DEPTH)
            return false;
        for (;;) {
            uint64_t key;

            if (!hvrpc_json__get_varint(data, len, pos, &key))
                return false;
            if ((key & 7) == WT_EGROUP)
                return (key >> 3) == field;
            if (!hvrpc_json__skip(data, len, pos, (int)(key & 7),
                                  (uint32_t)(key >> 3), depth + 1))
                return false;
        }
    default:
        return false;
    }
}

void hvrpc_json__format_double(double v, char *buf)
{
    if (isnan(v)) {
        strcpy(buf, "nan");
        return;
    }
    if (isinf(v)) {
        strcpy(buf, v > 0 ? "inf" : "-inf");
        return;
    }
    snprintf(buf, 32, "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, 32, "%.17g", v);
}

void hvrpc_json__format_float(float v, char *buf)
{
    if (isnan(v)) {
        strcpy(buf, "nan");
        return;
    }
    if (isinf(v)) {
        strcpy(buf, v > 0 ? "inf" : "-inf");
        return;
    }
    snprintf(buf, 32, "%.6g", (double)v);
    if (strtof(buf, NULL) != v)
        snprintf(buf, 32, "%.9g", (double)v);
}

static size_t path_append(jpath *p, const char *s)
{
    size_t mark = p->len;
    size_t n = strlen(s);

    if (p->len + n >= sizeof(p->text) - 4) { /* keep room for "..." */
        if (p->len < sizeof(p->text) - 4) {
            memcpy(p->text + p->len, "...", 4);
            p->len += 3;
        }
        return mark;
    }
    memcpy(p->text + p->len, s, n + 1);
    p->len += n;
    return mark;
}

size_t hvrpc_json__path_push_field(jpath *p, const char *name)
{
    char tmp[96];

    snprintf(tmp, sizeof(tmp), ".%s", name);
    return path_append(p, tmp);
}

size_t hvrpc_json__path_push_index(jpath *p, size_t i)
{
    char tmp[32];

    snprintf(tmp, sizeof(tmp), "[%zu]", i);
    return path_append(p, tmp);
}

size_t hvrpc_json__path_push_key(jpath *p, const char *key)
{
    char tmp[96];

    snprintf(tmp, sizeof(tmp), "[\"%.80s\"]", key);
    return path_append(p, tmp);
}

void hvrpc_json__path_pop(jpath *p, size_t mark)
{
    p->len = mark;
    p->text[mark] = '\0';
}

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void hvrpc_json__base64(jbuf *b, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)data[i] << 16;
        char out[4];

        if (i + 1 < len)
            v |= (uint32_t)data[i + 1] << 8;
        if (i + 2 < len)
            v |= data[i + 2];
        out[0] = b64[v >> 18 & 63];
        out[1] = b64[v >> 12 & 63];
        out[2] = i + 1 < len ? b64[v >> 6 & 63] : '=';
        out[3] = i + 2 < len ? b64[v & 63] : '=';
        hvrpc_json__put(b, out, 4);
    }
}

static int unb64(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+' || c == '-')
        return 62;
    if (c == '/' || c == '_')
        return 63;
    return -1;
}

bool hvrpc_json__unbase64(const char *text, jbuf *out)
{
    size_t n = strlen(text);
    uint32_t acc = 0;
    int bits = 0;
    size_t pad = 0;

    while (n > 0 && text[n - 1] == '=') {
        n--;
        pad++;
    }
    if (pad > 2 || (pad > 0 && (n + pad) % 4 != 0) || n % 4 == 1)
        return false;
    for (size_t i = 0; i < n; i++) {
        int v = unb64(text[i]);

        if (v < 0)
            return false;
        acc = acc << 6 | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            uint8_t byte = (uint8_t)(acc >> (bits - 8));

            bits -= 8;
            hvrpc_json__put(out, &byte, 1);
        }
    }
    return true;
}

bool hvrpc_json__fail_first(hvrpc_code *first, hvrpc_status *st,
                            hvrpc_code code, const char *where, const char *fmt,
                            va_list ap)
{
    char msg[HVRPC_STATUS_MESSAGE_MAX];

    if (*first != HVRPC_OK)
        return false; /* keep the first error: the later ones follow it */
    vsnprintf(msg, sizeof(msg), fmt, ap);
    *first = code;
    hvrpc_status_set(st, code, "%s%s", where, msg);
    return false;
}
