/*
 * naming.c - protoc-c's name conversions (see naming.h).
 */
#include <stdbool.h>
#include <string.h>

#include "naming.h"

/* Plain ASCII tests: protoc-c's isupper() runs in the C locale, and proto
 * identifiers are ASCII. */
static bool is_upper(char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_alnum(char c)
{
    return is_upper(c) || is_lower(c) || (c >= '0' && c <= '9');
}

static char to_upper(char c)
{
    return is_lower(c) ? (char)(c - 'a' + 'A') : c;
}

static char to_lower(char c)
{
    return is_upper(c) ? (char)(c - 'A' + 'a') : c;
}

/* Appends piece[0..len) converted to out, which has room for 2 * len. */
static size_t convert(char *out, const char *piece, size_t len, cg_case how)
{
    size_t o = 0;
    if (how == CG_CAMEL) {
        bool next_upper = true;
        for (size_t i = 0; i < len; i++) {
            if (piece[i] == '_') {
                next_upper = true;
            } else {
                out[o++] = next_upper ? to_upper(piece[i]) : piece[i];
                next_upper = false;
            }
        }
        return o;
    }
    bool was_upper = true; /* no '_' in front of a leading capital */
    for (size_t i = 0; i < len; i++) {
        bool up = is_upper(piece[i]);
        if (up && !was_upper)
            out[o++] = '_';
        out[o++] = how == CG_LOWER ? to_lower(piece[i]) : to_upper(piece[i]);
        was_upper = up;
    }
    return o;
}

char *cg_convert(cg_pool *p, const char *piece, cg_case how)
{
    size_t len = strlen(piece);
    char *out = cg_alloc(p, 2 * len + 1);
    convert(out, piece, len, how);
    return out;
}

/* Converts every non-empty piece of dotted, appending to out at *o, each
 * preceded by sep unless it is the first. */
static void convert_pieces(char *out, size_t *o, const char *dotted,
                           cg_case how, const char *sep)
{
    while (*dotted) {
        const char *dot = strchr(dotted, '.');
        size_t len = dot ? (size_t)(dot - dotted) : strlen(dotted);
        if (len) {
            if (*o) {
                memcpy(out + *o, sep, strlen(sep));
                *o += strlen(sep);
            }
            *o += convert(out + *o, dotted, len, how);
        }
        dotted += len + (dot ? 1 : 0);
    }
}

char *cg_c_name(cg_pool *p, const char *scope, const char *name, cg_case how)
{
    /* Each character becomes at most 2; each '.' at most "__". */
    char *out = cg_alloc(p, 2 * (strlen(scope) + strlen(name)) + 3);
    size_t o = 0;
    convert_pieces(out, &o, scope, how, "__");
    convert_pieces(out, &o, name, how, "__");
    return out;
}

char *cg_env_var(cg_pool *p, const char *full_name)
{
    char *mid = cg_alloc(p, 2 * strlen(full_name) + 1);
    size_t o = 0;
    convert_pieces(mid, &o, full_name, CG_UPPER, "_");
    return cg_printf(p, "HVRPC_%s_ADDR", mid);
}

char *cg_file_ident(cg_pool *p, const char *path)
{
    cg_buf b;
    cg_buf_init(&b, p);
    if (path[0] >= '0' && path[0] <= '9')
        cg_buf_puts(&b, "proto_");
    for (const char *c = path; *c; c++) {
        if (*c == '/')
            cg_buf_puts(&b, "__");
        else
            cg_buf_add(&b, is_alnum(*c) ? c : "_", 1);
    }
    return b.data;
}

char *cg_file_guard(cg_pool *p, const char *path)
{
    cg_buf b;
    cg_buf_init(&b, p);
    cg_buf_puts(&b, "HVRPC_");
    for (const char *c = path; *c; c++) {
        if (is_alnum(*c))
            cg_buf_add(&b, c, 1);
        else
            cg_buf_addf(&b, "_%02x", (unsigned)(unsigned char)*c);
    }
    cg_buf_puts(&b, "__INCLUDED");
    return b.data;
}
