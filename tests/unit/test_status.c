/* test_status.c - code names, messages, wire mapping, hvrpc_status. */
#include <string.h>

#include "check.h"
#include "hvrpc/status.h"

int main(void)
{
    /* Every gRPC code has its own name; the values are gRPC's. */
    CHECK_STR(hvrpc_code_name(HVRPC_OK), "OK");
    CHECK_STR(hvrpc_code_name(3), "INVALID_ARGUMENT");
    CHECK_STR(hvrpc_code_name(4), "DEADLINE_EXCEEDED");
    CHECK_STR(hvrpc_code_name(8), "RESOURCE_EXHAUSTED");
    CHECK_STR(hvrpc_code_name(12), "UNIMPLEMENTED");
    CHECK_STR(hvrpc_code_name(14), "UNAVAILABLE");
    CHECK_STR(hvrpc_code_name(16), "UNAUTHENTICATED");
    CHECK_STR(hvrpc_code_name(17), "UNKNOWN_CODE");
    CHECK_STR(hvrpc_code_name(-1), "UNKNOWN_CODE");
    for (int i = 0; i <= HVRPC_CODE_MAX; i++) {
        CHECK(strcmp(hvrpc_code_name(i), "UNKNOWN_CODE") != 0);
        CHECK(hvrpc_strerror(i)[0] != '\0');
        for (int j = 0; j < i; j++)
            CHECK(strcmp(hvrpc_code_name(i), hvrpc_code_name(j)) != 0);
    }
    CHECK_STR(hvrpc_strerror(HVRPC_DEADLINE_EXCEEDED), "deadline exceeded");
    CHECK_STR(hvrpc_strerror(99), "unknown status code");

    /* Codes from the wire are mapped into range. */
    CHECK_INT(hvrpc_code_from_wire(0), HVRPC_OK);
    CHECK_INT(hvrpc_code_from_wire(16), HVRPC_UNAUTHENTICATED);
    CHECK_INT(hvrpc_code_from_wire(17), HVRPC_UNKNOWN);
    CHECK_INT(hvrpc_code_from_wire(-5), HVRPC_UNKNOWN);
    CHECK_INT(hvrpc_code_from_wire(2147483647), HVRPC_UNKNOWN);

    /* hvrpc_status_set returns the code, formats, truncates, takes NULL. */
    hvrpc_status st;
    CHECK_INT(hvrpc_status_set(&st, HVRPC_NOT_FOUND, "no %s %d", "key", 7),
              HVRPC_NOT_FOUND);
    CHECK_INT(st.code, HVRPC_NOT_FOUND);
    CHECK_STR(st.message, "no key 7");
    CHECK_INT(hvrpc_status_set(&st, HVRPC_ABORTED, NULL), HVRPC_ABORTED);
    CHECK_STR(st.message, "aborted");
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    hvrpc_status_set(&st, HVRPC_INTERNAL, "%s", big);
    CHECK_INT(strlen(st.message), HVRPC_STATUS_MESSAGE_MAX - 1);
    CHECK_INT(hvrpc_status_set(NULL, HVRPC_UNAVAILABLE, "x"),
              HVRPC_UNAVAILABLE);
    hvrpc_status_clear(&st);
    CHECK_INT(st.code, HVRPC_OK);
    CHECK_STR(st.message, "");
    hvrpc_status_clear(NULL);
    return check_done();
}
