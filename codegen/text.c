/*
 * text.c - the pool, growing texts, templates and parameter wrapping.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"

#define COLUMNS 80

/* Every allocation is a block chained to the pool, freed all at once. */
typedef struct block {
    struct block *next;
    max_align_t data[]; /* the caller's bytes, suitably aligned */
} block;

struct cg_pool {
    block *blocks;
};

void cg_fatal(const char *what)
{
    fprintf(stderr, "protoc-gen-hvrpc: %s\n", what);
    exit(1);
}

cg_pool *cg_pool_new(void)
{
    cg_pool *p = calloc(1, sizeof *p);
    if (!p)
        cg_fatal("out of memory");
    return p;
}

void cg_pool_free(cg_pool *p)
{
    if (!p)
        return;
    while (p->blocks) {
        block *b = p->blocks;
        p->blocks = b->next;
        free(b);
    }
    free(p);
}

void *cg_alloc(cg_pool *p, size_t size)
{
    if (size > SIZE_MAX - sizeof(block))
        cg_fatal("out of memory");
    block *b = calloc(1, sizeof(block) + size);
    if (!b)
        cg_fatal("out of memory");
    b->next = p->blocks;
    p->blocks = b;
    return b->data;
}

char *cg_strdup(cg_pool *p, const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(cg_alloc(p, n), s, n);
}

#if defined(__GNUC__)
HVRPC_PRINTF(2, 0)
#endif
static char *vprintf_pool(cg_pool *p, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        cg_fatal("cannot format text");
    char *s = cg_alloc(p, (size_t)n + 1);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    return s;
}

char *cg_printf(cg_pool *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vprintf_pool(p, fmt, ap);
    va_end(ap);
    return s;
}

void cg_buf_init(cg_buf *b, cg_pool *p)
{
    b->pool = p;
    b->cap = 256;
    b->data = cg_alloc(p, b->cap);
    b->len = 0;
}

void cg_buf_add(cg_buf *b, const char *s, size_t n)
{
    if (n >= b->cap - b->len) {
        size_t cap = b->cap;
        while (n >= cap - b->len)
            cap *= 2;
        /* The old block stays in the pool until the end: texts are few. */
        char *d = cg_alloc(b->pool, cap);
        memcpy(d, b->data, b->len);
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void cg_buf_puts(cg_buf *b, const char *s)
{
    cg_buf_add(b, s, strlen(s));
}

void cg_buf_addf(cg_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = vprintf_pool(b->pool, fmt, ap);
    va_end(ap);
    cg_buf_puts(b, s);
}

static const char *lookup(const char *const *vars, const char *name, size_t len)
{
    for (; vars[0]; vars += 2)
        if (strlen(vars[0]) == len && memcmp(vars[0], name, len) == 0)
            return vars[1];
    return NULL;
}

void cg_emit(cg_buf *b, const char *const *vars, const char *tmpl)
{
    for (;;) {
        const char *open = strchr(tmpl, '$');
        if (!open) {
            cg_buf_puts(b, tmpl);
            return;
        }
        cg_buf_add(b, tmpl, (size_t)(open - tmpl));
        const char *close = strchr(open + 1, '$');
        if (!close)
            cg_fatal("template with an unclosed $");
        const char *v = lookup(vars, open + 1, (size_t)(close - open - 1));
        if (!v)
            cg_fatal("template names an unknown variable");
        cg_buf_puts(b, v);
        tmpl = close + 1;
    }
}

static void spaces(cg_buf *b, size_t n)
{
    while (n--)
        cg_buf_add(b, " ", 1);
}

/* Packs params onto lines starting at column col, each line ending with
 * "," (or with the first line of tail after the last parameter). False
 * when one of them does not fit on a line of its own; b then holds a part
 * of the output. */
static bool pack(cg_buf *b, size_t col, const char *const *params, size_t n,
                 size_t tail_len)
{
    size_t at = col;
    for (size_t i = 0; i < n; i++) {
        size_t need = strlen(params[i]) + (i + 1 < n ? 1 : tail_len);
        if (col + need > COLUMNS)
            return false;
        if (at > col && at + 1 + need > COLUMNS) {
            cg_buf_puts(b, "\n");
            spaces(b, col);
            at = col;
        }
        if (at > col) {
            cg_buf_puts(b, " ");
            at++;
        }
        cg_buf_puts(b, params[i]);
        if (i + 1 < n)
            cg_buf_puts(b, ",");
        at += need;
    }
    return true;
}

/* Lines pack() needs at column col; 0 when a parameter does not fit. */
static size_t lines_at(size_t col, const char *const *params, size_t n,
                       size_t tail_len)
{
    cg_pool *scratch = cg_pool_new();
    cg_buf b;
    cg_buf_init(&b, scratch);
    size_t lines = 0;
    if (pack(&b, col, params, n, tail_len)) {
        lines = 1;
        for (const char *c = b.data; *c; c++)
            lines += *c == '\n';
    }
    cg_pool_free(scratch);
    return lines;
}

static void emit_params(cg_buf *b, int indent, const char *head,
                        const char *const *params, size_t n, const char *tail,
                        bool fewest_lines)
{
    const char *nl = strchr(tail, '\n');
    size_t tail_len = nl ? (size_t)(nl - tail) : strlen(tail);
    size_t aligned = (size_t)indent + strlen(head);
    size_t below = (size_t)indent + 4;
    /* Lines each layout takes, 0 when it cannot hold the parameters. */
    size_t n_aligned = n ? lines_at(aligned, params, n, tail_len) : 1;
    size_t n_below = n ? lines_at(below, params, n, tail_len) : 0;
    if (n_below)
        n_below++; /* the head's own line */

    spaces(b, (size_t)indent);
    cg_buf_puts(b, head);
    if (n_aligned && (!fewest_lines || !n_below || n_aligned <= n_below)) {
        pack(b, aligned, params, n, tail_len);
    } else if (n_below) {
        cg_buf_puts(b, "\n");
        spaces(b, below);
        pack(b, below, params, n, tail_len);
    } else {
        /* A parameter too long for any layout overflows on one line. */
        for (size_t i = 0; i < n; i++)
            cg_buf_addf(b, "%s%s", i ? ", " : "", params[i]);
    }
    cg_buf_puts(b, tail);
}

void cg_emit_params(cg_buf *b, int indent, const char *head,
                    const char *const *params, size_t n, const char *tail)
{
    emit_params(b, indent, head, params, n, tail, false);
}

void cg_emit_call(cg_buf *b, int indent, const char *head,
                  const char *const *params, size_t n, const char *tail)
{
    emit_params(b, indent, head, params, n, tail, true);
}
