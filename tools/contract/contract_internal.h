/*
 * contract_internal.h - what the files of libhvrpc_contract share: the
 * parsed contract, the matcher engine and its diffs, the schema helpers.
 */
#ifndef HVRPC_CONTRACT_INTERNAL_H
#define HVRPC_CONTRACT_INTERNAL_H

#include <jansson.h>

#include "hvrpc_contract.h"
#include "json_internal.h"

/* One message of a stream, in the order it passes. */
typedef enum cmsg_dir {
    CMSG_SEND = 0,    /* guest -> service */
    CMSG_RECEIVE = 1, /* service -> guest */
} cmsg_dir;

typedef struct cmsg {
    cmsg_dir dir;
    json_t *body; /* borrowed from the contract's tree */
} cmsg;

typedef struct cinteraction {
    char *name;         /* owned: "name", else "METHOD #i" */
    const char *method; /* in the tree */
    hvrpc_method_kind kind;
    hvrpc_json_method m; /* the schema's view (strings in the pool) */
    json_t *metadata;    /* object of strings, or NULL */
    json_t *request;     /* unary: the request (never NULL) */
    json_t *response;    /* unary: the expected response, or NULL */
    cmsg *msgs;          /* streams */
    size_t n_msgs;
    hvrpc_code code; /* the expected status */
    json_t *message; /* the expected status message (matcher), or NULL */
    uint32_t timeout_ms;
    bool allow_extra; /* fields the contract does not list are fine */
} cinteraction;

struct hvrpc_contract {
    json_t *root;
    const char *service; /* in the tree */
    const hvrpc_json_pool *pool;
    hvrpc_json_pool *own_pool; /* from the embedded descriptor set */
    cinteraction *in;
    size_t n;
};

/* --- diffs ------------------------------------------------------------ */

typedef struct cdiff {
    jbuf text;          /* one line per mismatch, each ending in '\n' */
    size_t count;       /* mismatches */
    const char *indent; /* put before each line */
    const char *prefix; /* put before each path ("receive #2 ") */
} cdiff;

/* Appends one mismatch line: INDENT PREFIX PATH: expected E, got G. */
void contract__mismatch(cdiff *d, const char *path, const char *expected,
                        const char *got);

/* Compares got (a message as JSON, defaults left out) with exp (JSON with
 * matchers). got_defaults is the same message with its default values
 * written (NULL when not known): an expected field that got leaves out
 * is compared with its default value. path is the root's ("$"). */
void contract__match(const json_t *exp, const json_t *got,
                     const json_t *got_defaults, bool allow_extra,
                     const char *path, cdiff *d);

/* True when v is a matcher object ({"$type": ...} and the like). */
bool contract__is_matcher(const json_t *v);

/* Checks the matchers inside v (regexes compile, $type names a JSON
 * type); INVALID_ARGUMENT naming where. */
hvrpc_code contract__check_matchers(const json_t *v, const char *where,
                                    hvrpc_status *st);

/* A copy of v with every matcher replaced by its "$value" (or "$exact")
 * or left out: what to send for a request that has matchers. */
json_t *contract__concrete(const json_t *v);

/* A short rendering of v for a diff (compact JSON, cut at 120 chars);
 * "nothing" for NULL. Written into buf (160 bytes). */
const char *contract__show(const json_t *v, char *buf, size_t size);

/* --- messages ---------------------------------------------------------- */

/* Protobuf bytes of type -> JSON trees: *plain without defaults, *full
 * (optional) with them. */
hvrpc_code contract__to_tree(const hvrpc_json_pool *p, const char *type,
                             const uint8_t *data, size_t len, json_t **plain,
                             json_t **full, hvrpc_status *st);

/* A JSON tree (matchers replaced) -> protobuf bytes of type. */
hvrpc_code contract__to_bytes(const hvrpc_json_pool *p, const char *type,
                              const json_t *v, hvrpc_buf *out,
                              hvrpc_status *st);

/* Compares a message received (bytes) with an expected tree. */
hvrpc_code contract__match_bytes(const hvrpc_json_pool *p, const char *type,
                                 const json_t *exp, const uint8_t *data,
                                 size_t len, bool allow_extra, cdiff *d,
                                 hvrpc_status *st);

/* Compares the metadata a call carried with the expected object (every
 * expected key present with a matching value; others are fine). */
void contract__match_metadata(const json_t *exp, const hvrpc_metadata *md,
                              size_t n_md, cdiff *d);

/* The status part of a diff: code, then message (matcher). */
void contract__match_status(const cinteraction *in, const hvrpc_status *got,
                            cdiff *d);

/* --- schema ------------------------------------------------------------ */

/* The service's method table entry of the pool (internal descriptor). */
const jservice_proto *contract__service(const hvrpc_json_pool *p,
                                        const char *service);

/* A serialized FileDescriptorSet of the pool's files, the built-in
 * google/protobuf ones left out. */
hvrpc_code contract__pool_set(const hvrpc_json_pool *p, hvrpc_buf *out,
                              hvrpc_status *st);

/* HVRPC_<NAME>_ADDR for a service (malloc'd), as the code generator
 * names it. */
char *contract__env_var(const char *service);

/* The method kind of a schema method. */
hvrpc_method_kind contract__kind(const hvrpc_json_method *m);

/* "hvrpc.echo.v1.Echo/Echo" style text of a code: "NOT_FOUND". A code
 * from its name or number in a contract; -1 when neither. */
int contract__code_from_json(const json_t *v);

#endif /* HVRPC_CONTRACT_INTERNAL_H */
