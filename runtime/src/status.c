/* status.c - code names, default messages and hvrpc_status. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "hvrpc/status.h"

static const char *const code_names[] = {
#define HVRPC__CODE_NAME(name, value, msg) [value] = #name,
    HVRPC_CODE_MAP(HVRPC__CODE_NAME)
#undef HVRPC__CODE_NAME
};

static const char *const code_messages[] = {
#define HVRPC__CODE_MSG(name, value, msg) [value] = msg,
    HVRPC_CODE_MAP(HVRPC__CODE_MSG)
#undef HVRPC__CODE_MSG
};

const char *hvrpc_code_name(int code)
{
    if (code < 0 || code > HVRPC_CODE_MAX)
        return "UNKNOWN_CODE";
    return code_names[code];
}

const char *hvrpc_strerror(int code)
{
    if (code < 0 || code > HVRPC_CODE_MAX)
        return "unknown status code";
    return code_messages[code];
}

hvrpc_code hvrpc_code_from_wire(int wire_code)
{
    if (wire_code < 0 || wire_code > HVRPC_CODE_MAX)
        return HVRPC_UNKNOWN;
    return (hvrpc_code)wire_code;
}

hvrpc_code hvrpc_status_set(hvrpc_status *st, hvrpc_code code, const char *fmt,
                            ...)
{
    if (!st)
        return code;
    st->code = code;
    if (!fmt) {
        snprintf(st->message, sizeof st->message, "%s", hvrpc_strerror(code));
        return code;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(st->message, sizeof st->message, fmt, ap);
    va_end(ap);
    return code;
}

void hvrpc_status_clear(hvrpc_status *st)
{
    if (!st)
        return;
    st->code = HVRPC_OK;
    st->message[0] = '\0';
}
