/*
 * json_conv.c - the transcoder as a filter, for the tests that compare it
 * with protoc:
 *
 *   json_conv PROTOSET TYPE to-json|to-json-defaults|from-json|to-text|
 *                           from-text
 *
 * reads stdin, writes stdout; on failure prints "CODE: message" on stderr
 * and exits with the status code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hvrpc_json.h"

static unsigned char *slurp(FILE *f, size_t *len)
{
    size_t cap = 4096;
    unsigned char *buf = malloc(cap);
    size_t n;

    *len = 0;
    while (buf != NULL && (n = fread(buf + *len, 1, cap - *len, f)) > 0) {
        *len += n;
        if (*len == cap) {
            unsigned char *p = realloc(buf, cap *= 2);
            if (p == NULL)
                free(buf);
            buf = p;
        }
    }
    return buf;
}

int main(int argc, char **argv)
{
    hvrpc_json_pool *pool;
    hvrpc_status st;
    unsigned char *set, *in;
    size_t set_len, in_len;
    FILE *f;
    hvrpc_code code;
    char *text = NULL;
    hvrpc_buf bin = {NULL, 0};

    if (argc != 4) {
        fprintf(stderr, "usage: json_conv PROTOSET TYPE MODE\n");
        return 64;
    }
    f = fopen(argv[1], "rb");
    if (f == NULL) {
        perror(argv[1]);
        return 64;
    }
    set = slurp(f, &set_len);
    fclose(f);
    in = slurp(stdin, &in_len);
    if (set == NULL || in == NULL)
        return 8;
    code = hvrpc_json_pool_create(&pool, &st);
    if (code == HVRPC_OK)
        code = hvrpc_json_pool_add_set(pool, set, set_len, &st);
    if (code == HVRPC_OK) {
        if (strcmp(argv[3], "from-json") == 0) {
            code = hvrpc_json_to_binary(pool, argv[2], (char *)in, in_len, &bin,
                                        &st);
            if (code == HVRPC_OK && bin.len > 0)
                fwrite(bin.data, 1, bin.len, stdout);
        } else if (strcmp(argv[3], "from-text") == 0) {
            code = hvrpc_json_text_to_binary(pool, argv[2], (char *)in, in_len,
                                             &bin, &st);
            if (code == HVRPC_OK && bin.len > 0)
                fwrite(bin.data, 1, bin.len, stdout);
        } else if (strcmp(argv[3], "to-text") == 0) {
            code = hvrpc_json_text_from_binary(pool, argv[2], in, in_len, 0,
                                               &text, &st);
        } else {
            code =
                hvrpc_json_from_binary(pool, argv[2], in, in_len,
                                       strcmp(argv[3], "to-json-defaults") == 0
                                           ? HVRPC_JSON_EMIT_DEFAULTS
                                           : 0,
                                       &text, &st);
        }
    }
    if (text != NULL)
        fputs(text, stdout);
    if (code != HVRPC_OK)
        fprintf(stderr, "%s: %s\n", hvrpc_code_name(code), st.message);
    free(text);
    hvrpc_buf_free(&bin);
    hvrpc_json_pool_free(pool);
    free(set);
    free(in);
    return (int)code;
}
