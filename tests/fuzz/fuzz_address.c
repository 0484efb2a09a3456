/*
 * fuzz_address.c - the address URI parser (hvrpc_address_parse) and its
 * inverse (hvrpc_address_format).
 *
 * Input: the URI (a NUL ends it early, as it would in C). Checks: no read
 * past the string, a failure leaves *out untouched and says why in a
 * non-empty message; a success formats to a canonical URI that fits
 * HVRPC_ADDRESS_STRLEN, parses back to the same address and formats to
 * the same text again; formatting into any smaller buffer truncates
 * snprintf-style.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hvrpc/address.h"

static bool same_address(const hvrpc_address *a, const hvrpc_address *b)
{
    if (a->kind != b->kind)
        return false;
    switch (a->kind) {
    case HVRPC_ADDR_UNIX:
        return a->u.unix_sock.abstract == b->u.unix_sock.abstract &&
               !strcmp(a->u.unix_sock.path, b->u.unix_sock.path);
    case HVRPC_ADDR_TCP:
        return a->u.tcp.port == b->u.tcp.port &&
               !strcmp(a->u.tcp.host, b->u.tcp.host);
    case HVRPC_ADDR_VSOCK:
        return a->u.vsock.cid == b->u.vsock.cid &&
               a->u.vsock.port == b->u.vsock.port;
    case HVRPC_ADDR_HYBRID_VSOCK:
        return a->u.hybrid.port == b->u.hybrid.port &&
               !strcmp(a->u.hybrid.path, b->u.hybrid.path);
    case HVRPC_ADDR_HVSOCK:
        return hvrpc_guid_equal(&a->u.hv.vm_id, &b->u.hv.vm_id) &&
               hvrpc_guid_equal(&a->u.hv.service_id, &b->u.hv.service_id);
    case HVRPC_ADDR_MEM:
        return !strcmp(a->u.mem.name, b->u.mem.name);
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *uri = malloc(size + 1);
    if (!uri)
        return 0;
    memcpy(uri, data, size);
    uri[size] = '\0';

    hvrpc_address a, untouched;
    memset(&a, 0xA5, sizeof a);
    untouched = a;
    hvrpc_status st;
    hvrpc_code c = hvrpc_address_parse(uri, &a, &st);
    if (c != HVRPC_OK) {
        FUZZ_ASSERT(c == HVRPC_INVALID_ARGUMENT);
        FUZZ_ASSERT(!memcmp(&a, &untouched, sizeof a));
        FUZZ_ASSERT(memchr(st.message, '\0', sizeof st.message) != NULL);
        FUZZ_ASSERT(st.message[0] != '\0');
        free(uri);
        return 0;
    }

    char text[HVRPC_ADDRESS_STRLEN];
    int n = hvrpc_address_format(&a, text, sizeof text);
    FUZZ_ASSERT(n > 0 && n < HVRPC_ADDRESS_STRLEN);
    FUZZ_ASSERT(strlen(text) == (size_t)n);

    hvrpc_address b;
    c = hvrpc_address_parse(text, &b, &st);
    if (c != HVRPC_OK)
        fuzz_fail("\"%s\" formats as \"%s\", which does not parse: %s", uri,
                  text, st.message);
    if (!same_address(&a, &b))
        fuzz_fail("\"%s\" formats as \"%s\", which parses to another address",
                  uri, text);
    char again[HVRPC_ADDRESS_STRLEN];
    FUZZ_ASSERT(hvrpc_address_format(&b, again, sizeof again) == n);
    FUZZ_ASSERT(!strcmp(text, again));

    /* snprintf-style truncation at every size. */
    for (size_t k = 0; k <= (size_t)n + 1; k++) {
        char small[HVRPC_ADDRESS_STRLEN + 1];
        memset(small, 'X', sizeof small);
        FUZZ_ASSERT(hvrpc_address_format(&a, small, k) == n);
        if (k > 0) {
            size_t kept = k - 1 < (size_t)n ? k - 1 : (size_t)n;
            FUZZ_ASSERT(small[kept] == '\0');
            FUZZ_ASSERT(!memcmp(small, text, kept));
        }
        FUZZ_ASSERT(small[k] == 'X');
    }
    free(uri);
    return 0;
}
