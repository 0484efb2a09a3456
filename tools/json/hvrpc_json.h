/*
 * hvrpc_json.h - JSON <-> protobuf, driven by descriptors (libhvrpc_json).
 *
 * Not part of libhvrpc: the `hvrpc` tool and tests link it. It knows no
 * message type at compile time. A pool holds FileDescriptorProtos, from
 * protoc's --descriptor_set_out, from a server's reflection service, or
 * as protoc-gen-hvrpc embeds them in generated code; every message type
 * they define can then be turned from JSON into protobuf bytes and back,
 * following protobuf's proto3 JSON mapping:
 *
 *   - field names: lowerCamelCase (the json_name) is written; the JSON name
 *     and the original .proto name are both accepted;
 *   - 64-bit integers are written as strings; numbers and strings are
 *     both accepted for every integer and floating-point type;
 *   - bytes as standard base64 (URL-safe and unpadded accepted);
 *   - enums by name (a number is accepted, and written when the value has
 *     no name);
 *   - maps as JSON objects, repeated fields as arrays, null as "absent";
 *   - google.protobuf.Timestamp (RFC 3339), Duration ("1.5s"), the wrapper
 *     types (the bare value), Struct / Value / ListValue / NullValue (any
 *     JSON), FieldMask ("a.b,c"), Empty ({}) and Any ({"@type": ...}).
 *
 * The descriptors of the well-known types are built in: every pool knows
 * google/protobuf/{any,duration,empty,field_mask,struct,timestamp,
 * wrappers}.proto.
 *
 * Errors are INVALID_ARGUMENT with a message that names the place in the
 * JSON input as a path: `$.items[2].count: 3000000000 is out of range for
 * int32`. Bytes that do not decode as the type are INVALID_ARGUMENT too.
 * Nesting is bounded (HVRPC_JSON_MAX_DEPTH) both ways.
 *
 * A pool is not thread-safe while files are added; after that, any number
 * of threads may transcode with it at once.
 */
#ifndef HVRPC_JSON_H
#define HVRPC_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hvrpc/client.h>
#include <hvrpc/status.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Deepest message nesting accepted in either direction (protobuf's own
 * limit, as HVRPC_MAX_MESSAGE_DEPTH). */
#define HVRPC_JSON_MAX_DEPTH 100

typedef struct hvrpc_json_pool hvrpc_json_pool;

/* Creates a pool holding the well-known types. */
hvrpc_code hvrpc_json_pool_create(hvrpc_json_pool **out, hvrpc_status *st);

/* Frees the pool. p may be NULL. */
void hvrpc_json_pool_free(hvrpc_json_pool *p);

/* Adds one serialized google.protobuf.FileDescriptorProto (copied). A file
 * whose name is already in the pool is skipped (OK): the first one stays.
 * INVALID_ARGUMENT when the bytes do not decode or the file has no name.
 * Imports need not be in the pool: a type is looked up only when used. */
hvrpc_code hvrpc_json_pool_add_file(hvrpc_json_pool *p, const uint8_t *data,
                                    size_t len, hvrpc_status *st);

/* Adds every file of a serialized google.protobuf.FileDescriptorSet (what
 * protoc --descriptor_set_out writes). */
hvrpc_code hvrpc_json_pool_add_set(hvrpc_json_pool *p, const uint8_t *data,
                                   size_t len, hvrpc_status *st);

/* Runs protoc (HVRPC_PROTOC in the environment, else "protoc" on PATH)
 * on proto_file with the import directories (n_dirs of them, plus the
 * directory of protoc's own includes) and adds the files it parsed,
 * imports included. The error carries protoc's own message. */
hvrpc_code hvrpc_json_pool_add_proto(hvrpc_json_pool *p, const char *proto_file,
                                     const char *const *import_dirs,
                                     size_t n_dirs, hvrpc_status *st);

/* True when a file of that name ("demo/v1/greeter.proto") is in the pool. */
bool hvrpc_json_pool_has_file(const hvrpc_json_pool *p, const char *name);

/* The files in the pool, in the order added (the built-in ones first). */
size_t hvrpc_json_pool_file_count(const hvrpc_json_pool *p);
const char *hvrpc_json_pool_file_name(const hvrpc_json_pool *p, size_t i);

/* What a full name ("demo.v1.Greeter", "demo.v1.Greeter.SayHello",
 * "demo.v1.HelloRequest.name") names in the pool. */
typedef enum hvrpc_json_kind {
    HVRPC_JSON_NONE = 0,
    HVRPC_JSON_MESSAGE,
    HVRPC_JSON_ENUM,
    HVRPC_JSON_SERVICE,
    HVRPC_JSON_METHOD,
    HVRPC_JSON_FIELD,
    HVRPC_JSON_ENUM_VALUE,
} hvrpc_json_kind;

/* What symbol is; *file (optional) receives the name of the file that
 * defines it. A leading '.' is ignored. */
hvrpc_json_kind hvrpc_json_pool_find(const hvrpc_json_pool *p,
                                     const char *symbol, const char **file);

/* The services of the pool's files, as full names, in file order. */
size_t hvrpc_json_pool_service_count(const hvrpc_json_pool *p);
const char *hvrpc_json_pool_service_name(const hvrpc_json_pool *p, size_t i);

/* A method of a service in the pool. */
typedef struct hvrpc_json_method {
    const char *service;     /* "demo.v1.Greeter" */
    const char *name;        /* "SayHello" */
    const char *input_type;  /* "demo.v1.HelloRequest" */
    const char *output_type; /* "demo.v1.HelloReply" */
    bool client_streaming;
    bool server_streaming;
} hvrpc_json_method;

/* Finds service/method. NOT_FOUND saying which part is missing (and which
 * methods the service has, when it is the method). */
hvrpc_code hvrpc_json_pool_method(const hvrpc_json_pool *p, const char *service,
                                  const char *method, hvrpc_json_method *out,
                                  hvrpc_status *st);

/* The options of a service as the hvrpc options set them (0 / NULL when
 * unset): (hvrpc.vsock_port), (hvrpc.service_guid), (hvrpc.friendly_name).
 * The strings point into the pool. NOT_FOUND for an unknown service. */
typedef struct hvrpc_json_service_options {
    uint32_t vsock_port;
    const char *service_guid;
    const char *friendly_name;
} hvrpc_json_service_options;

hvrpc_code hvrpc_json_pool_service_options(const hvrpc_json_pool *p,
                                           const char *service,
                                           hvrpc_json_service_options *out,
                                           hvrpc_status *st);

/* Output flags. */
enum {
    /* Write fields that hold their default value too (proto3 fields
     * without presence are otherwise left out). */
    HVRPC_JSON_EMIT_DEFAULTS = 1u << 0,
    /* Write the .proto field names instead of lowerCamelCase. */
    HVRPC_JSON_ORIGINAL_NAMES = 1u << 1,
    /* One line, no spaces (default: indented by two spaces). */
    HVRPC_JSON_COMPACT = 1u << 2,
    /* ANSI colours for keys and values (for a terminal). */
    HVRPC_JSON_COLOR = 1u << 3,
};

/* JSON text (len bytes, not necessarily NUL-terminated) -> the protobuf
 * encoding of message type `type` (full name), fields in number order as
 * protoc writes them. *out is the caller's (hvrpc_buf_free()). */
hvrpc_code hvrpc_json_to_binary(const hvrpc_json_pool *p, const char *type,
                                const char *json, size_t len, hvrpc_buf *out,
                                hvrpc_status *st);

/* Protobuf text format (len bytes, not necessarily NUL-terminated), as
 * `protoc --encode` reads it, -> the protobuf encoding of message type
 * `type`, the bytes protoc writes for the same text. Scalars, strings with
 * C escapes, bytes, enums by name or number, messages in {} or <>,
 * repeated fields as repeated entries or [a, b] lists, maps as repeated
 * entries, # comments, an Any as [type.googleapis.com/pkg.Msg] {...}.
 * Errors are INVALID_ARGUMENT naming the line, the column and the field
 * path: `line 3, column 9: items[1].count: 3000000000 is out of range for
 * int32`. Extensions and groups are refused. *out is the caller's. */
hvrpc_code hvrpc_json_text_to_binary(const hvrpc_json_pool *p, const char *type,
                                     const char *text, size_t len,
                                     hvrpc_buf *out, hvrpc_status *st);

/* Protobuf bytes of `type` -> JSON text (malloc'd, NUL-terminated, ending
 * in a newline unless COMPACT; free()). Unknown fields are dropped. */
hvrpc_code hvrpc_json_from_binary(const hvrpc_json_pool *p, const char *type,
                                  const uint8_t *data, size_t len,
                                  unsigned flags, char **out, hvrpc_status *st);

/* Protobuf bytes of `type` -> protobuf text format, as `protoc --decode`
 * prints it (malloc'd; free()). Only COLOR is looked at in flags. */
hvrpc_code hvrpc_json_text_from_binary(const hvrpc_json_pool *p,
                                       const char *type, const uint8_t *data,
                                       size_t len, unsigned flags, char **out,
                                       hvrpc_status *st);

/* A .proto-like description of a symbol (a service with its methods, a
 * message with its fields and nested types, an enum, a method, a field):
 * what `hvrpc describe` prints. malloc'd; free(). NOT_FOUND when the pool
 * has no such symbol. */
hvrpc_code hvrpc_json_describe(const hvrpc_json_pool *p, const char *symbol,
                               char **out, hvrpc_status *st);

#ifdef __cplusplus
}
#endif

#endif /* HVRPC_JSON_H */
