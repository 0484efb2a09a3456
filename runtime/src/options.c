/* options.c - checks shared by server and client options. */
#include "hvrpc/limits.h"

#include "options.h"

hvrpc_code hvrpc__check_options_size(const char *who, size_t got, size_t want,
                                     hvrpc_status *st)
{
    if (got >= want)
        return HVRPC_OK;
    return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,
                            "%s: size %zu is less than %zu; fill the struct "
                            "with its _init function first",
                            who, got, want);
}

hvrpc_code hvrpc__check_max_frame(const char *who, uint32_t max_frame,
                                  hvrpc_status *st)
{
    if (max_frame >= HVRPC_MIN_MAX_FRAME && max_frame <= HVRPC_MAX_MAX_FRAME)
        return HVRPC_OK;
    return hvrpc_status_set(
        st, HVRPC_INVALID_ARGUMENT, "%s: max_frame %u is outside %u..%u", who,
        max_frame, HVRPC_MIN_MAX_FRAME, HVRPC_MAX_MAX_FRAME);
}
