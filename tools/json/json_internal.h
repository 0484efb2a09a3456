/*
 * json_internal.h - what the files of libhvrpc_json share: the pool's
 * tables, a growable byte buffer, the JSON path used in error messages,
 * and the wire-format primitives (reading and writing).
 */
#ifndef HVRPC_JSON_INTERNAL_H
#define HVRPC_JSON_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/descriptor.pb-c.h"
#include "hvrpc_json.h"

typedef Google__Protobuf__FileDescriptorProto jfile_proto;
typedef Google__Protobuf__DescriptorProto jmsg_proto;
typedef Google__Protobuf__FieldDescriptorProto jfield_proto;
typedef Google__Protobuf__EnumDescriptorProto jenum_proto;
typedef Google__Protobuf__ServiceDescriptorProto jservice_proto;
typedef Google__Protobuf__MethodDescriptorProto jmethod_proto;

typedef struct jfile {
    jfile_proto *fd; /* unpacked by protobuf-c; freed with the pool */
    bool proto3;
} jfile;

/* One named thing of the pool. */
typedef struct jsym {
    char *name; /* full name, no leading '.' */
    hvrpc_json_kind kind;
    size_t file;        /* index into files */
    const void *d;      /* the descriptor proto of that kind */
    const void *parent; /* method/field: the service/message proto */
} jsym;

struct hvrpc_json_pool {
    jfile *files;
    size_t n_files, cap_files;
    jsym *syms;
    size_t n_syms, cap_syms;
    char **strings; /* copies handed out by the pool */
    size_t n_strings;
};

/* A message type as the transcoders use it. */
typedef struct jtype {
    const char *name; /* full name */
    const jmsg_proto *d;
    bool proto3;
} jtype;

/* Finds a symbol of a kind (HVRPC_JSON_NONE: any). */
const jsym *hvrpc_json__find(const hvrpc_json_pool *p, const char *name,
                             hvrpc_json_kind kind);
/* Fills *t for message type name (leading '.' allowed). */
bool hvrpc_json__type(const hvrpc_json_pool *p, const char *name, jtype *t);
/* The enum of that name, or NULL. */
const jenum_proto *hvrpc_json__enum(const hvrpc_json_pool *p, const char *name);
/* The field's JSON name: json_name, else lowerCamelCase of name (written
 * into buf, which has room for strlen(name) + 1). */
const char *hvrpc_json__json_name(const jfield_proto *f, char *buf);
/* Whether the field tracks presence (written even when default). */
bool hvrpc_json__has_presence(const jtype *t, const jfield_proto *f);
/* Whether the field is a map (repeated message of a map_entry type). */
bool hvrpc_json__is_map(const hvrpc_json_pool *p, const jfield_proto *f,
                        jtype *entry);
/* Whether a repeated field of this type is written packed. */
bool hvrpc_json__packed(const jtype *t, const jfield_proto *f);
/* Whether a field type is a scalar that can be packed. */
bool hvrpc_json__packable(Google__Protobuf__FieldDescriptorProto__Type type);
/* The field of number n, or NULL. */
const jfield_proto *hvrpc_json__field_by_number(const jtype *t, uint32_t n);
/* The protoc name of a field type ("int32", "message", ...). */
const char *hvrpc_json__type_name(Google__Protobuf__FieldDescriptorProto__Type);
/* For error messages: "a, b, c", the names of t's fields (their JSON names
 * or their .proto names), "none" when it has none, ending in "..." when cut
 * at size; the value names of e ("" when none), cut at size. */
void hvrpc_json__field_names(const jtype *t, bool json_names, char *out,
                             size_t size);
void hvrpc_json__enum_names(const jenum_proto *e, char *out, size_t size);

/* --- growable bytes / text ------------------------------------------- */

typedef struct jbuf {
    uint8_t *data;
    size_t len, cap;
    bool oom; /* an append failed; the contents are then incomplete */
} jbuf;

void hvrpc_json__put(jbuf *b, const void *data, size_t len);
void hvrpc_json__puts(jbuf *b, const char *s);
void hvrpc_json__printf(jbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    HVRPC_PRINTF(2, 3)
#endif
        ;
void hvrpc_json__put_varint(jbuf *b, uint64_t v);
/* Appends the terminating NUL and hands the text over (NULL when oom). */
char *hvrpc_json__take_text(jbuf *b);

/* --- wire format ----------------------------------------------------- */

enum {
    WT_VARINT = 0,
    WT_I64 = 1,
    WT_LEN = 2,
    WT_SGROUP = 3,
    WT_EGROUP = 4,
    WT_I32 = 5
};

/* Reads a varint at *pos; false when truncated or longer than 10 bytes. */
bool hvrpc_json__get_varint(const uint8_t *data, size_t len, size_t *pos,
                            uint64_t *v);
/* Skips one field's value of wire type wt; false when malformed. */
bool hvrpc_json__skip(const uint8_t *data, size_t len, size_t *pos, int wt,
                      uint32_t field, int depth);

/* Writing it (wire_out.c), shared by the JSON and the text-format
 * encoders. */

/* The wire type of one value of a field type (a group: WT_SGROUP). */
int hvrpc_json__wire_type(Google__Protobuf__FieldDescriptorProto__Type type);
void hvrpc_json__put_tag(jbuf *b, uint32_t number, int wt);
/* The low `bytes` (4 or 8) bytes of v, little-endian. */
void hvrpc_json__put_fixed(jbuf *b, uint64_t v, int bytes);
/* A length-delimited value: len, then the bytes. */
void hvrpc_json__put_bytes(jbuf *b, const void *data, size_t len);
/* inner as a length-delimited value / as it is; both carry inner's oom. */
void hvrpc_json__put_len(jbuf *b, const jbuf *inner);
void hvrpc_json__put_buf(jbuf *b, const jbuf *inner);
/* An integer as its field type writes it: zigzag (sint), fixed
 * (sfixed, fixed) or a varint (int, uint, enum). */
void hvrpc_json__put_signed(jbuf *b,
                            Google__Protobuf__FieldDescriptorProto__Type type,
                            int64_t v);
void hvrpc_json__put_unsigned(jbuf *b,
                              Google__Protobuf__FieldDescriptorProto__Type type,
                              uint64_t v);
/* A double / float's bits; true when they are all zero, the default (-0.0
 * is not). A float beyond its range is written as infinity, as protoc. */
bool hvrpc_json__put_double(jbuf *b, double v);
bool hvrpc_json__put_float(jbuf *b, double v);
/* A packed repeated field: its elements (written without tags) as one
 * length-delimited record, nothing when there are none. */
void hvrpc_json__put_packed(jbuf *b, uint32_t number, const jbuf *elems);
/* The end of an encoding of type: b handed over to out when code is OK
 * and nothing failed to allocate, else freed; returns the outcome. */
hvrpc_code hvrpc_json__hand_over(jbuf *b, hvrpc_code code, const char *type,
                                 hvrpc_buf *out, hvrpc_status *st);

/* Formats a double / float as protobuf does (shortest of %.15g/%.17g,
 * %.6g/%.9g that reads back the same): buf has 32 bytes. */
void hvrpc_json__format_double(double v, char *buf);
void hvrpc_json__format_float(float v, char *buf);

/* --- errors ----------------------------------------------------------- */

/* Records an encoder's first error: unless *first holds one already,
 * *first becomes code and st "<where><message>". Returns false. */
bool hvrpc_json__fail_first(hvrpc_code *first, hvrpc_status *st,
                            hvrpc_code code, const char *where, const char *fmt,
                            va_list ap)
#if defined(__GNUC__)
    HVRPC_PRINTF(5, 0)
#endif
        ;

/* --- JSON paths for error messages ------------------------------------ */

typedef struct jpath {
    char text[160];
    size_t len;
} jpath;

size_t hvrpc_json__path_push_field(jpath *p, const char *name);
size_t hvrpc_json__path_push_index(jpath *p, size_t i);
size_t hvrpc_json__path_push_key(jpath *p, const char *key);
void hvrpc_json__path_pop(jpath *p, size_t mark);

/* The built-in well-known types, a serialized FileDescriptorSet. */
extern const uint8_t hvrpc_json__wkt_set[];
extern const size_t hvrpc_json__wkt_set_len;

/* Base64 (standard alphabet, padded) of data into b. */
void hvrpc_json__base64(jbuf *b, const uint8_t *data, size_t len);
/* Decodes standard or URL-safe base64, padded or not; false when bad. */
bool hvrpc_json__unbase64(const char *text, jbuf *out);

#endif /* HVRPC_JSON_INTERNAL_H */
