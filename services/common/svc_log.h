/*
 * svc_log.h - the log line of a service library (agent, KVP) that reports
 * through a callback its program gives it: one formatted line, nothing
 * when no callback is set.
 */
#ifndef HVRPC_SVC_LOG_H
#define HVRPC_SVC_LOG_H

#include <hvrpc/status.h>

/* Formats a line (up to 1023 bytes; longer ones are cut) and hands it to
 * fn(line, arg); does nothing when fn is NULL. */
void hvrpc_svc_logf(void (*fn)(const char *line, void *arg), void *arg,
                    const char *fmt, ...) HVRPC_PRINTF(3, 4);

#endif /* HVRPC_SVC_LOG_H */
