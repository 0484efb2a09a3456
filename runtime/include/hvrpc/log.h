/*
 * hvrpc/log.h - the library never prints: it hands log lines to a callback.
 */
#ifndef HVRPC_LOG_H
#define HVRPC_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum hvrpc_log_level {
    HVRPC_LOG_ERROR = 1,
    HVRPC_LOG_WARN,
    HVRPC_LOG_INFO,
    HVRPC_LOG_DEBUG,
} hvrpc_log_level;

/* Called from library threads, with no library lock held; must not block
 * for long. line has no trailing newline. */
typedef void (*hvrpc_log_fn)(hvrpc_log_level level, const char *line,
                             void *arg);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_LOG_H */
