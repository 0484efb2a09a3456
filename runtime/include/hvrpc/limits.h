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

/* How deeply messages may nest in one decoded by hvrpc_message_unpack()
 * (the top-level message counts as 1). protobuf-c decodes recursively with
 * no limit of its own, so a small frame of nested length prefixes could
 * otherwise exhaust the stack. 100 is what protobuf's C++ and Go decoders
 * accept, so whatever they produce decodes here. */
#define HVRPC_MAX_MESSAGE_DEPTH 100

#endif /* HVRPC_LIMITS_H */
