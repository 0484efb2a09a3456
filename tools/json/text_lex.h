/*
 * text_lex.h - the tokenizer of the protobuf text format (text_lex.c), as
 * the parser of from_text.c reads it: one token of lookahead with its line
 * and column, and the first error kept, reported at a token.
 */
#ifndef HVRPC_JSON_TEXT_LEX_H
#define HVRPC_JSON_TEXT_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "json_internal.h"

typedef enum tkind { TK_END, TK_IDENT, TK_NUMBER, TK_STRING, TK_PUNCT } tkind;

typedef struct token {
    tkind kind;
    const char *p; /* the token's text (a string: with its quotes) */
    size_t n;
    int line, col; /* 1-based */
    int base;      /* TK_NUMBER: 8, 10 or 16 */
    bool is_float; /* TK_NUMBER: a '.', an exponent or an 'f' suffix */
} token;

typedef struct pctx {
    const hvrpc_json_pool *pool;
    hvrpc_status *st;
    hvrpc_code code; /* the first error; OK until then */
    const char *s;   /* the input, len bytes, not NUL-terminated */
    size_t len, pos;
    int line, col; /* of pos */
    token tok;     /* the next token, not yet consumed */
    jpath path;
} pctx;

/* Records the first error (INVALID_ARGUMENT) as "line L, column C: path:
 * message" at token tk; returns false. */
#if defined(__GNUC__)
HVRPC_PRINTF(3, 4)
#endif
bool hvrpc_json__tok_fail(pctx *c, const token *tk, const char *fmt, ...);

/* An error at the next token. */
#define bad(c, ...) hvrpc_json__tok_fail(c, &(c)->tok, __VA_ARGS__)

/* How a token reads in a message: 'text' or what it is (buf: its room). */
const char *hvrpc_json__tok_shown(const token *tk, char *buf, size_t size);

/* Moves to the next token. False on a lexical error (reported). */
bool hvrpc_json__tok_next(pctx *c);

/* Decodes the string token tk (quotes included, escapes checked) onto out;
 * false (reported) on a bad escape. */
bool hvrpc_json__tok_string(pctx *c, const token *tk, jbuf *out);

/* The magnitude of an integer token; false when it does not fit 64 bits. */
bool hvrpc_json__tok_magnitude(const token *tk, uint64_t *v);

static inline bool is_punct(const pctx *c, char ch)
{
    return c->tok.kind == TK_PUNCT && c->tok.p[0] == ch;
}

static inline bool is_word(const token *tk, const char *w)
{
    return tk->kind == TK_IDENT && strlen(w) == tk->n &&
           memcmp(tk->p, w, tk->n) == 0;
}

/* Consumes ch when it is next (*ok: whether moving on worked). */
static inline bool accept(pctx *c, char ch, bool *ok)
{
    if (!is_punct(c, ch))
        return false;
    *ok = hvrpc_json__tok_next(c);
    return true;
}

#endif /* HVRPC_JSON_TEXT_LEX_H */
