/*
 * test_pool.h - what test_json.c and test_text.c share: the pool both run
 * against, loaded from the descriptor set of tests/json/proto that CMake
 * builds (all.protoset). Include after check.h and hvrpc_json.h.
 */
#ifndef HVRPC_TEST_JSON_POOL_H
#define HVRPC_TEST_JSON_POOL_H

#include <stdio.h>
#include <stdlib.h>

/* The whole file at path (*len bytes), or NULL. */
static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long size;

    if (f == NULL)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) > 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size)) != NULL)
        *len = fread(buf, 1, (size_t)size, f);
    fclose(f);
    return buf;
}

/* A pool holding the descriptor set at path; a failure is a failed check
 * (the tests then fail on every type they look up). */
static hvrpc_json_pool *load_pool(const char *path)
{
    hvrpc_json_pool *p = NULL;
    hvrpc_status st;
    size_t len = 0;
    unsigned char *set = read_all(path, &len);

    CHECK(set != NULL);
    CHECK_INT(hvrpc_json_pool_create(&p, &st), HVRPC_OK);
    CHECK_INT(hvrpc_json_pool_add_set(p, set, len, &st), HVRPC_OK);
    free(set);
    return p;
}

#endif /* HVRPC_TEST_JSON_POOL_H */
