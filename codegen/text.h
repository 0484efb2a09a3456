/*
 * text.h - memory and text for protoc-gen-hvrpc.
 *
 * The plugin is a short-lived program: everything it builds lives in one
 * pool freed at exit, and running out of memory ends it with a message
 * (cg_fatal), so no caller checks for NULL.
 */
#ifndef HVRPC_CODEGEN_TEXT_H
#define HVRPC_CODEGEN_TEXT_H

#include <stddef.h>

#include <hvrpc/version.h>

#if defined(__GNUC__)
#define CG_PRINTF(f, a) HVRPC_PRINTF(f, a)
#else
#define CG_PRINTF(f, a)
#endif

typedef struct cg_pool cg_pool;

/* Prints "protoc-gen-hvrpc: <what>" on stderr and exits 1. For what
 * protoc cannot be told through the response (bad input, no memory). */
_Noreturn void cg_fatal(const char *what);

cg_pool *cg_pool_new(void);
void cg_pool_free(cg_pool *p);
/* Zeroed memory that lives as long as the pool. */
void *cg_alloc(cg_pool *p, size_t size);
char *cg_strdup(cg_pool *p, const char *s);
char *cg_printf(cg_pool *p, const char *fmt, ...) CG_PRINTF(2, 3);

/* A growing, always NUL-terminated text, allocated from a pool. */
typedef struct cg_buf {
    cg_pool *pool;
    char *data;
    size_t len, cap;
} cg_buf;

void cg_buf_init(cg_buf *b, cg_pool *p);
void cg_buf_add(cg_buf *b, const char *s, size_t n);
void cg_buf_puts(cg_buf *b, const char *s);
void cg_buf_addf(cg_buf *b, const char *fmt, ...) CG_PRINTF(2, 3);

/* Appends tmpl with every $name$ replaced by its value in vars, pairs of
 * name and value ending with a NULL name. A name missing from vars is a
 * bug in the plugin: cg_fatal. */
void cg_emit(cg_buf *b, const char *const *vars, const char *tmpl);

/* Appends a declaration "<head>p1, p2, ...<tail>" wrapped to 80 columns
 * much as clang-format does: on one line if it fits, else the parameters
 * aligned after the '(' that ends head, else all of them on the following
 * lines, indented 4 more than indent (head's own indent). */
void cg_emit_params(cg_buf *b, int indent, const char *head,
                    const char *const *params, size_t n, const char *tail);

/* The same for a call in a statement: of the two layouts, the one with
 * fewer lines (aligned on a tie). */
void cg_emit_call(cg_buf *b, int indent, const char *head,
                  const char *const *params, size_t n, const char *tail);

#endif
