/*
 * hvrpc_win_compat.h - the few POSIX library functions the tools use that
 * the Windows C runtimes lack. Windows builds force-include it into every
 * target of the project (hvrpc_target_defaults: -include, MSVC /FI); it is
 * never installed and public headers do not need it.
 */
#ifndef HVRPC_WIN_COMPAT_H
#define HVRPC_WIN_COMPAT_H
#ifdef _WIN32

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static inline char *hvrpc_win_strndup(const char *s, size_t n)
{
    size_t len = 0;
    while (len < n && s[len] != '\0')
        len++;
    char *p = (char *)malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}
#define strndup hvrpc_win_strndup

#ifndef gmtime_r
static inline struct tm *hvrpc_win_gmtime_r(const time_t *t, struct tm *out)
{
    return gmtime_s(out, t) == 0 ? out : NULL;
}
#define gmtime_r hvrpc_win_gmtime_r
#endif

#if defined(_MSC_VER)
static inline int hvrpc_win_vasprintf(char **out, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = _vscprintf(fmt, aq);
    va_end(aq);
    *out = NULL;
    if (n < 0 || !(*out = (char *)malloc((size_t)n + 1)))
        return -1;
    return vsnprintf(*out, (size_t)n + 1, fmt, ap);
}
static inline int hvrpc_win_asprintf(char **out, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = hvrpc_win_vasprintf(out, fmt, ap);
    va_end(ap);
    return n;
}
#define asprintf  hvrpc_win_asprintf
#define vasprintf hvrpc_win_vasprintf
#endif

#endif /* _WIN32 */
#endif
