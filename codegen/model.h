/*
 * model.h - what the emitters write, built from one .proto file and
 * checked: every C name the generated code defines, per file, service and
 * method, computed once here and used as is by both emitters and by the
 * collision check.
 */
#ifndef HVRPC_CODEGEN_MODEL_H
#define HVRPC_CODEGEN_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "google/protobuf/compiler/plugin.pb-c.h"
#include "text.h"

/* A message type as protoc-c names it. */
typedef struct cg_type {
    const char *full;       /* demo.v1.HelloRequest */
    const char *c_type;     /* Demo__V1__HelloRequest */
    const char *descriptor; /* demo__v1__hello_request__descriptor */
} cg_type;

/* A method's kind: bit 0 the client streams, bit 1 the server does (the
 * values of hvrpc_method_kind). */
enum { CG_UNARY = 0, CG_CLIENT_STREAMING = 1, CG_SERVER_STREAMING = 2 };

typedef struct cg_method {
    const char *name;   /* SayHello: the name on the wire */
    int kind;           /* CG_UNARY, or CG_*_STREAMING bits */
    const char *full;   /* demo.v1.Greeter.SayHello, for messages */
    const char *member; /* say_hello: the handler table's member */
    cg_type in, out;
    /* Generated names: */
    const char *call;        /* prefix__say_hello_call */
    const char *call_async;  /* prefix__say_hello_call_async */
    const char *done;        /* prefix__say_hello_done: completion type */
    const char *reply;       /* prefix__say_hello_reply */
    const char *async;       /* prefix__say_hello_async: closure struct */
    const char *async_done;  /* prefix__say_hello_async_done (static) */
    const char *trampoline;  /* prefix__say_hello_method (static) */
    const char *protoc_stub; /* prefix__say_hello: protoc-c's own stub */
    /* Streaming methods instead of call, call_async, done, async and
     * async_done (NULL for unary ones; reply only for client streaming): */
    const char *open;        /* prefix__chat_open */
    const char *send;        /* prefix__chat_send (client streams) */
    const char *recv;        /* prefix__chat_recv */
    const char *server_send; /* prefix__chat_server_send (server streams) */
    const char *server_recv; /* prefix__chat_server_recv (client streams) */
} cg_method;

typedef struct cg_service {
    const char *full;    /* demo.v1.Greeter */
    const char *lower;   /* demo__v1__greeter: the prefix */
    const char *upper;   /* DEMO__V1__GREETER */
    const char *c_type;  /* Demo__V1__Greeter (protoc-c's _Service) */
    const char *env_var; /* HVRPC_DEMO_V1_GREETER_ADDR */
    uint32_t vsock_port; /* 0: none */
    const char *guid;    /* lower-case text; NULL: none */
    const char *friendly_name;
    cg_method *methods;
    size_t n_methods;
    /* Generated names, prefix_...: */
    const char *m_name, *m_port, *m_guid, *m_friendly; /* macros */
    const char *info, *handlers, *reg, *listen, *connect_host;
    const char *registration, *method_table, *service_table; /* static */
} cg_service;

typedef struct cg_file {
    const char *name;   /* demo/v1/greeter.proto */
    const char *base;   /* demo/v1/greeter: outputs are base.hvrpc.[ch] */
    const char *guard;  /* the header's include guard */
    const char *fd;     /* demo__v1__greeter_proto_file_descriptor */
    const char *fd_len; /* ..._file_descriptor_len */
    const uint8_t *descriptor; /* the serialized FileDescriptorProto */
    size_t descriptor_len;
    cg_service *services;
    size_t n_services;
} cg_file;

/* Builds the model of the file named name in req. Returns NULL, or an
 * error for CodeGeneratorResponse.error that names the file and what in
 * the .proto is wrong. */
const char *
cg_model_build(cg_pool *p,
               const Google__Protobuf__Compiler__CodeGeneratorRequest *req,
               const char *name, cg_file *out);

/* The checks that look at the whole file (check.c): one endpoint per
 * service, no two things with one C name, no C keyword as a member. */
const char *cg_model_check(cg_pool *p, const cg_file *f);

#endif
