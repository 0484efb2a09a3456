/*
 * text_lex.c - the tokenizer of the protobuf text format for from_text.c:
 * identifiers, numbers (decimal, hex, octal, floats), quoted strings and
 * punctuation, with `#` comments and white space skipped, each token with
 * its line and column for the error messages; and the decoding of string
 * escapes and integer tokens.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_lex.h"

bool hvrpc_json__tok_fail(pctx *c, const token *tk, const char *fmt, ...)
{
    const char *path = c->path.text[0] == '.' ? c->path.text + 1 : c->path.text;
    char where[sizeof(c->path.text) + 48];
    va_list ap;

    snprintf(where, sizeof(where), "line %d, column %d: %s%s", tk->line,
             tk->col, path, path[0] != '\0' ? ": " : "");
    va_start(ap, fmt);
    hvrpc_json__fail_first(&c->code, c->st, HVRPC_INVALID_ARGUMENT, where, fmt,
                           ap);
    va_end(ap);
    return false;
}

const char *hvrpc_json__tok_shown(const token *tk, char *buf, size_t size)
{
    if (tk->kind == TK_END)
        return "the end of the input";
    snprintf(buf, size, "'%.*s'", tk->n > 40 ? 40 : (int)tk->n, tk->p);
    return buf;
}

/* --- lexer ------------------------------------------------------------ */

static char at(const pctx *c, size_t i)
{
    return c->pos + i < c->len ? c->s[c->pos + i] : '\0';
}

static void step(pctx *c, size_t n)
{
    for (size_t i = 0; i < n && c->pos < c->len; i++, c->pos++) {
        if (c->s[c->pos] == '\n') {
            c->line++;
            c->col = 1;
        } else {
            c->col++;
        }
    }
}

static bool is_ident_char(char ch)
{
    return isalnum((unsigned char)ch) || ch == '_';
}

/* Scans a number at pos into c->tok; false on a malformed one. */
static bool lex_number(pctx *c)
{
    token *tk = &c->tok;
    size_t i = 0;

    tk->base = 10;
    tk->is_float = false;
    if (at(c, 0) == '0' && (at(c, 1) == 'x' || at(c, 1) == 'X')) {
        tk->base = 16;
        for (i = 2; isxdigit((unsigned char)at(c, i)); i++)
            ;
        if (i == 2)
            return bad(c, "'0x' needs hex digits after it");
    } else if (at(c, 0) == '0' && isdigit((unsigned char)at(c, 1))) {
        tk->base = 8;
        for (i = 1; isdigit((unsigned char)at(c, i)); i++) {
            if (at(c, i) > '7')
                return bad(c,
                           "'%c' is not an octal digit (a number that "
                           "starts with 0 is octal)",
                           at(c, i));
        }
    } else {
        while (isdigit((unsigned char)at(c, i)))
            i++;
        if (at(c, i) == '.') {
            tk->is_float = true;
            for (i++; isdigit((unsigned char)at(c, i)); i++)
                ;
        }
        if (at(c, i) == 'e' || at(c, i) == 'E') {
            tk->is_float = true;
            i++;
            if (at(c, i) == '+' || at(c, i) == '-')
                i++;
            if (!isdigit((unsigned char)at(c, i)))
                return bad(c, "an exponent needs digits");
            while (isdigit((unsigned char)at(c, i)))
                i++;
        }
        if (at(c, i) == 'f' || at(c, i) == 'F') {
            tk->is_float = true;
            i++;
        }
    }
    if (is_ident_char(at(c, i)) || at(c, i) == '.')
        return bad(c, "'%c' right after a number: put a space between them",
                   at(c, i));
    tk->n = i;
    return true;
}

/* Scans a quoted string at pos (checked: the escapes are decoded later). */
static bool lex_string(pctx *c)
{
    char quote = at(c, 0);
    size_t i = 1;

    for (;;) {
        char ch = at(c, i);

        if (c->pos + i >= c->len || ch == '\n')
            return bad(c, "unterminated string (strings end on the line "
                          "they start; join lines with \"a\" \"b\")");
        if (ch == quote)
            break;
        i += ch == '\\' ? 2 : 1;
    }
    c->tok.n = i + 1;
    return true;
}

bool hvrpc_json__tok_next(pctx *c)
{
    token *tk = &c->tok;
    char ch;

    step(c, tk->n);
    for (;;) {
        ch = at(c, 0);
        if (c->pos >= c->len) {
            break;
        } else if (ch == '#') {
            while (c->pos < c->len && at(c, 0) != '\n')
                step(c, 1);
        } else if (isspace((unsigned char)ch)) {
            step(c, 1);
        } else {
            break;
        }
    }
    tk->p = c->s + c->pos;
    tk->n = 0;
    tk->line = c->line;
    tk->col = c->col;
    if (c->pos >= c->len) {
        tk->kind = TK_END;
        return true;
    }
    if (isalpha((unsigned char)ch) || ch == '_') {
        tk->kind = TK_IDENT;
        while (is_ident_char(at(c, tk->n)))
            tk->n++;
        return true;
    }
    if (isdigit((unsigned char)ch) ||
        (ch == '.' && isdigit((unsigned char)at(c, 1)))) {
        tk->kind = TK_NUMBER;
        return lex_number(c);
    }
    if (ch == '"' || ch == '\'') {
        tk->kind = TK_STRING;
        return lex_string(c);
    }
    if (strchr(":{}<>[],;-/.", ch) != NULL) {
        tk->kind = TK_PUNCT;
        tk->n = 1;
        return true;
    }
    tk->kind = TK_END; /* stops the parser; the error says why */
    if (isprint((unsigned char)ch))
        return bad(c, "unexpected character '%c'", ch);
    return bad(c, "unexpected byte 0x%02x", (unsigned)(unsigned char)ch);
}

/* --- what tokens hold ----------------------------------------------- */

static bool hex_digit(char ch, unsigned *v)
{
    if (ch >= '0' && ch <= '9')
        *v = (unsigned)(ch - '0');
    else if (ch >= 'a' && ch <= 'f')
        *v = (unsigned)(ch - 'a' + 10);
    else if (ch >= 'A' && ch <= 'F')
        *v = (unsigned)(ch - 'A' + 10);
    else
        return false;
    return true;
}

static void put_utf8(jbuf *b, uint32_t cp)
{
    uint8_t u[4];
    size_t n;

    if (cp < 0x80) {
        u[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        u[0] = (uint8_t)(0xc0 | cp >> 6);
        u[1] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        u[0] = (uint8_t)(0xe0 | cp >> 12);
        u[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[2] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        u[0] = (uint8_t)(0xf0 | cp >> 18);
        u[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
        u[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
        u[3] = (uint8_t)(0x80 | (cp & 0x3f));
        n = 4;
    }
    hvrpc_json__put(b, u, n);
}

bool hvrpc_json__tok_string(pctx *c, const token *tk, jbuf *out)
{
    static const char from[] = "abfnrtv\\'\"?";
    static const char to[] = "\a\b\f\n\r\t\v\\'\"?";
    const char *s = tk->p + 1, *end = tk->p + tk->n - 1;

    while (s < end) {
        const char *e;
        unsigned v = 0, d;
        int n = 0;

        if (*s != '\\') {
            hvrpc_json__put(out, s++, 1);
            continue;
        }
        s++; /* the lexer saw to it that an escape has its character */
        if (*s != '\0' && (e = strchr(from, *s)) != NULL) {
            hvrpc_json__put(out, &to[e - from], 1);
            s++;
        } else if (*s >= '0' && *s <= '7') {
            for (; n < 3 && s < end && *s >= '0' && *s <= '7'; n++)
                v = v * 8 + (unsigned)(*s++ - '0');
            if (v > 0xff)
                return hvrpc_json__tok_fail(
                    c, tk, "octal escape \\%o is over \\377", v);
            hvrpc_json__put(out, &(uint8_t){(uint8_t)v}, 1);
        } else if (*s == 'x' || *s == 'X') {
            for (s++; n < 2 && s < end && hex_digit(*s, &d); n++, s++)
                v = v * 16 + d;
            if (n == 0)
                return hvrpc_json__tok_fail(c, tk,
                                            "'\\x' needs hex digits after it");
            hvrpc_json__put(out, &(uint8_t){(uint8_t)v}, 1);
        } else if (*s == 'u' || *s == 'U') {
            int want = *s == 'u' ? 4 : 8;

            for (s++; n < want && s < end && hex_digit(*s, &d); n++, s++)
                v = v * 16 + d;
            if (n < want)
                return hvrpc_json__tok_fail(c, tk, "'\\%c' needs %d hex digits",
                                            want == 4 ? 'u' : 'U', want);
            if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
                return hvrpc_json__tok_fail(
                    c, tk, "\\%c%0*x is not a Unicode code point",
                    want == 4 ? 'u' : 'U', want, v);
            put_utf8(out, v);
        } else {
            return hvrpc_json__tok_fail(c, tk, "unknown escape '\\%c'", *s);
        }
    }
    return true;
}

bool hvrpc_json__tok_magnitude(const token *tk, uint64_t *v)
{
    size_t i = tk->base == 16 ? 2 : 0;
    unsigned d = 0;

    *v = 0;
    for (; i < tk->n; i++) {
        hex_digit(tk->p[i], &d);
        if (*v > (UINT64_MAX - d) / (unsigned)tk->base)
            return false;
        *v = *v * (unsigned)tk->base + d;
    }
    return true;
}
