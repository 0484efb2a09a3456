/*
 * naming.h - C names, exactly as protoc-c forms them.
 *
 * protoc-c (protobuf-c 1.4, c_helpers.cc) converts every piece of a dotted
 * name on its own and joins the pieces with "__". Our names are built the
 * same way from the same pieces, so `demo.v1.Greeter` is demo__v1__greeter
 * here and in protoc-c's output, and a method's types are protoc-c's
 * Demo__V1__HelloRequest and demo__v1__hello_request__descriptor.
 */
#ifndef HVRPC_CODEGEN_NAMING_H
#define HVRPC_CODEGEN_NAMING_H

#include "text.h"

typedef enum cg_case {
    CG_CAMEL, /* hello_world2x -> HelloWorld2x: '_' dropped, next upper */
    CG_LOWER, /* HTTPGet2X -> httpget2_x: '_' before an upper-case letter
               * that follows a non-upper character, all lower-cased */
    CG_UPPER, /* HTTPGet2X -> HTTPGET2_X: the same, upper-cased */
} cg_case;

/* One piece converted. */
char *cg_convert(cg_pool *p, const char *piece, cg_case how);

/* The C name of scope.name ("demo.v1" and "Outer.Inner"): every piece
 * converted, joined with "__". scope is the package, or protoc-c's
 * (pb_c_file).c_package when the file sets it, and may be empty. */
char *cg_c_name(cg_pool *p, const char *scope, const char *name, cg_case how);

/* The variable that overrides a service's address:
 * demo.v1.MyService -> HVRPC_DEMO_V1_MY_SERVICE_ADDR (pieces upper-cased as
 * by CG_UPPER, joined with one '_'). */
char *cg_env_var(cg_pool *p, const char *full_name);

/* A file path as an identifier: "demo/v1/greeter.proto" ->
 * demo__v1__greeter_proto ('/' to "__", other punctuation to '_'; a
 * leading digit gets "proto_" in front). */
char *cg_file_ident(cg_pool *p, const char *path);

/* An include guard for path that no other path shares (protoc-c's
 * escaping: every character but a letter or digit becomes _XX in hex):
 * HVRPC_demo_2fv1_2fgreeter_2eproto__INCLUDED. */
char *cg_file_guard(cg_pool *p, const char *path);

#endif
