/*
 * proto_options.h - the options the plugin reads: (hvrpc.vsock_port),
 * (hvrpc.service_guid) and (hvrpc.friendly_name) on a service, and
 * protoc-c's (pb_c_file).c_package on a file.
 */
#ifndef HVRPC_CODEGEN_OPTIONS_H
#define HVRPC_CODEGEN_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "text.h"

typedef struct cg_service_options {
    bool has_port;
    uint32_t port;
    const char *guid;          /* as written; NULL when not set */
    const char *friendly_name; /* NULL when not set */
} cg_service_options;

/* Reads the hvrpc options of a service; o may be NULL (none set). Returns
 * NULL, or an error when they do not decode (another extension took their
 * field numbers with another type). Values are not checked here. */
const char *cg_read_service_options(cg_pool *p,
                                    const Google__Protobuf__ServiceOptions *o,
                                    cg_service_options *out);

/* The scope protoc-c names the types of file f in: its
 * (pb_c_file).c_package when set (even empty), else its package. NULL,
 * with *err set, when the option does not decode. */
const char *cg_c_scope(cg_pool *p,
                       const Google__Protobuf__FileDescriptorProto *f,
                       const char **err);

#endif
