/*
 * hvrpc/status.h - status codes and the one error type used everywhere.
 *
 * Codes are gRPC's (0 OK ... 16 UNAUTHENTICATED): they travel on the wire
 * in ttrpc responses, and every library function that can fail returns one.
 * A function that fails also fills an optional hvrpc_status with a message
 * saying what went wrong; pass NULL when the message is not wanted.
 */
#ifndef HVRPC_STATUS_H
#define HVRPC_STATUS_H

#include <stddef.h>

#include "hvrpc/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, default message): the single table the enum, the names
 * and the default messages are generated from. */
#define HVRPC_CODE_MAP(X)                                                      \
    X(OK, 0, "ok")                                                             \
    X(CANCELLED, 1, "the call was cancelled")                                  \
    X(UNKNOWN, 2, "unknown error")                                             \
    X(INVALID_ARGUMENT, 3, "invalid argument")                                 \
    X(DEADLINE_EXCEEDED, 4, "deadline exceeded")                               \
    X(NOT_FOUND, 5, "not found")                                               \
    X(ALREADY_EXISTS, 6, "already exists")                                     \
    X(PERMISSION_DENIED, 7, "permission denied")                               \
    X(RESOURCE_EXHAUSTED, 8, "resource exhausted")                             \
    X(FAILED_PRECONDITION, 9, "failed precondition")                           \
    X(ABORTED, 10, "aborted")                                                  \
    X(OUT_OF_RANGE, 11, "out of range")                                        \
    X(UNIMPLEMENTED, 12, "unimplemented")                                      \
    X(INTERNAL, 13, "internal error")                                          \
    X(UNAVAILABLE, 14, "unavailable")                                          \
    X(DATA_LOSS, 15, "data loss")                                              \
    X(UNAUTHENTICATED, 16, "unauthenticated")

typedef enum hvrpc_code {
#define HVRPC__CODE_ENUM(name, value, msg) HVRPC_##name = value,
    HVRPC_CODE_MAP(HVRPC__CODE_ENUM)
#undef HVRPC__CODE_ENUM
} hvrpc_code;

/* Codes above this are not gRPC codes; a peer sending one is mapped to
 * HVRPC_UNKNOWN by hvrpc_code_from_wire(). */
#define HVRPC_CODE_MAX 16

/* Longest message kept, including the terminating NUL. Longer messages
 * (from a peer, say) are truncated, never refused. */
#define HVRPC_STATUS_MESSAGE_MAX 256

/* A code and a message. Plain data: copy it, keep it on the stack, no
 * free needed. */
typedef struct hvrpc_status {
    hvrpc_code code;
    char message[HVRPC_STATUS_MESSAGE_MAX];
} hvrpc_status;

/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN_CODE" for a value outside 0-16. */
HVRPC_API const char *hvrpc_code_name(int code);

/* The default message of a code ("deadline exceeded"). Never NULL. */
HVRPC_API const char *hvrpc_strerror(int code);

/* Maps a code read from the wire (any int32) to a valid hvrpc_code. */
HVRPC_API hvrpc_code hvrpc_code_from_wire(int wire_code);

/* Sets *st (when st is not NULL) and returns code, so a failing function
 * can end with `return hvrpc_status_set(st, HVRPC_..., "...", ...);`.
 * fmt may be NULL: the code's default message is used. */
HVRPC_API hvrpc_code hvrpc_status_set(hvrpc_status *st, hvrpc_code code,
                                      const char *fmt, ...)
#if defined(__GNUC__)
    HVRPC_PRINTF(3, 4)
#endif
        ;

/* Resets *st to OK with an empty message. st may be NULL. */
HVRPC_API void hvrpc_status_clear(hvrpc_status *st);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_STATUS_H */
