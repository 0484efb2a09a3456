/*
 * tests/common/check.h - the few assertions our tests need.
 *
 * CHECK* record a failure (file, line, what) and carry on, so one run shows
 * every broken expectation; a test's main() ends with `return check_done();`
 * which prints a summary and returns non-zero on any failure.
 */
#ifndef HVRPC_TEST_CHECK_H
#define HVRPC_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* Atomic: handlers and callbacks check from their own threads. */
static _Atomic int check_failures;
static _Atomic int check_count;

#define CHECK(cond)                                                            \
    do {                                                                       \
        check_count++;                                                         \
        if (!(cond)) {                                                         \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
        }                                                                      \
    } while (0)

#define CHECK_INT(a, b)                                                        \
    do {                                                                       \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);        \
        check_count++;                                                         \
        if (check_a_ != check_b_) {                                            \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n",          \
                    __FILE__, __LINE__, #a, #b, check_a_, check_b_);           \
        }                                                                      \
    } while (0)

#define CHECK_STR(a, b)                                                        \
    do {                                                                       \
        const char *check_a_ = (a), *check_b_ = (b);                           \
        check_count++;                                                         \
        if (!check_a_ || !check_b_ || strcmp(check_a_, check_b_) != 0) {       \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: %s == %s failed: \"%s\" != \"%s\"\n",      \
                    __FILE__, __LINE__, #a, #b,                                \
                    check_a_ ? check_a_ : "(null)",                            \
                    check_b_ ? check_b_ : "(null)");                           \
        }                                                                      \
    } while (0)

/* True when haystack contains needle; for checking error messages. */
#define CHECK_CONTAINS(haystack, needle)                                       \
    do {                                                                       \
        const char *check_h_ = (haystack), *check_n_ = (needle);               \
        check_count++;                                                         \
        if (!check_h_ || !strstr(check_h_, check_n_)) {                        \
            check_failures++;                                                  \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n",         \
                    __FILE__, __LINE__, check_h_ ? check_h_ : "(null)",        \
                    check_n_);                                                 \
        }                                                                      \
    } while (0)

static inline int check_done(void)
{
    fprintf(stderr, "%d checks, %d failed\n", check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif /* HVRPC_TEST_CHECK_H */
