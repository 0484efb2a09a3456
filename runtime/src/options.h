/* options.h - the checks server and client options share. */
#ifndef HVRPC__OPTIONS_H
#define HVRPC__OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "hvrpc/status.h"

/* An options struct carries its size (set by its _init function), so a
 * caller built against an older, smaller struct is caught instead of read
 * past. who names the struct in the message ("server options"). */
hvrpc_code hvrpc__check_options_size(const char *who, size_t got, size_t want,
                                     hvrpc_status *st);

/* max_frame within HVRPC_MIN_MAX_FRAME..HVRPC_MAX_MAX_FRAME. */
hvrpc_code hvrpc__check_max_frame(const char *who, uint32_t max_frame,
                                  hvrpc_status *st);

#endif
