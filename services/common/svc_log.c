/* svc_log.c - a service library's log lines (svc_log.h). */
#include <stdarg.h>
#include <stdio.h>

#include "svc_log.h"

void hvrpc_svc_logf(void (*fn)(const char *line, void *arg), void *arg,
                    const char *fmt, ...)
{
    char line[1024];
    va_list ap;

    if (!fn)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fn(line, arg);
}
