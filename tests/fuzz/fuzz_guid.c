/*
 * fuzz_guid.c - the GUID parser (hvrpc_guid_parse), its inverse and the
 * VmId names.
 *
 * Input: the text (a NUL ends it early). Checks: no read past the string;
 * a failure leaves *out untouched with a message; a success formats to 36
 * lower-case characters that parse back to the same GUID, with and
 * without braces and in upper case; the VSOCK template maps ports both
 * ways; hvrpc_guid_from_name agrees with itself.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "hvrpc/guid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';

    hvrpc_guid g, untouched;
    memset(&g, 0x5A, sizeof g);
    untouched = g;
    hvrpc_status st;
    hvrpc_code c = hvrpc_guid_parse(text, &g, &st);

    hvrpc_guid named;
    if (hvrpc_guid_from_name(text, &named)) {
        hvrpc_guid again;
        FUZZ_ASSERT(hvrpc_guid_from_name(text, &again));
        FUZZ_ASSERT(hvrpc_guid_equal(&named, &again));
    }

    if (c != HVRPC_OK) {
        FUZZ_ASSERT(c == HVRPC_INVALID_ARGUMENT);
        FUZZ_ASSERT(!memcmp(&g, &untouched, sizeof g));
        FUZZ_ASSERT(memchr(st.message, '\0', sizeof st.message) != NULL);
        FUZZ_ASSERT(st.message[0] != '\0');
        free(text);
        return 0;
    }
    FUZZ_ASSERT(strlen(text) == 36 || strlen(text) == 38);

    char out[HVRPC_GUID_STRLEN];
    FUZZ_ASSERT(hvrpc_guid_format(&g, out) == out);
    FUZZ_ASSERT(strlen(out) == 36);
    for (size_t i = 0; i < 36; i++)
        FUZZ_ASSERT(!isupper((unsigned char)out[i]));
    hvrpc_guid back;
    FUZZ_ASSERT(hvrpc_guid_parse(out, &back, &st) == HVRPC_OK);
    FUZZ_ASSERT(hvrpc_guid_equal(&g, &back));

    char braced[HVRPC_GUID_STRLEN + 2];
    braced[0] = '{';
    for (size_t i = 0; i < 36; i++)
        braced[1 + i] = (char)toupper((unsigned char)out[i]);
    braced[37] = '}';
    braced[38] = '\0';
    FUZZ_ASSERT(hvrpc_guid_parse(braced, &back, &st) == HVRPC_OK);
    FUZZ_ASSERT(hvrpc_guid_equal(&g, &back));

    uint32_t port;
    if (hvrpc_guid_to_vsock_port(&g, &port)) {
        hvrpc_guid t = hvrpc_guid_from_vsock_port(port);
        FUZZ_ASSERT(hvrpc_guid_equal(&g, &t));
    }
    free(text);
    return 0;
}
