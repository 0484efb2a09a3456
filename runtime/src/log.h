/* log.h - internal logging through the user's callback. */
#ifndef HVRPC__LOG_H
#define HVRPC__LOG_H

#include "hvrpc/log.h"
#include "hvrpc/version.h"

typedef struct hvrpc__logger {
    hvrpc_log_fn fn;
    void *arg;
} hvrpc__logger;

void hvrpc__log(const hvrpc__logger *lg, hvrpc_log_level level, const char *fmt,
                ...)
#if defined(__GNUC__)
    HVRPC_PRINTF(3, 4)
#endif
        ;

#endif
