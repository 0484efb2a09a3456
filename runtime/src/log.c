/* log.c - formats a line and hands it to the user's callback, if any. */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

void hvrpc__log(const hvrpc__logger *lg, hvrpc_log_level level, const char *fmt,
                ...)
{
    if (!lg || !lg->fn)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    lg->fn(level, line, lg->arg);
}
