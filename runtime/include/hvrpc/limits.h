/*
 * hvrpc/limits.h - bounds shared by servers and clients.
 */
#ifndef HVRPC_LIMITS_H
#define HVRPC_LIMITS_H

/* Frame data size (DESIGN.md section 3): the default maximum, and the
 * range a server or client option may set it to. A frame over the maximum
 * is never sent; one received is skipped and its call answered
 * RESOURCE_EXHAUSTED, and the connection lives on. */
#define HVRPC_DEFAULT_MAX_FRAME (4u * 1024u * 1024u)
#define HVRPC_MIN_MAX_FRAME     1024u
#define HVRPC_MAX_MAX_FRAME     (1024u * 1024u * 1024u)

#endif /* HVRPC_LIMITS_H */
