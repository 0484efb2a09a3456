/*
 * proto_options.c - reading extension options through the views of
 * options_view.proto: the options message is packed again (protobuf-c
 * writes its unknown fields back as they came) and unpacked as a view.
 */
#include <stdlib.h>

#include "proto_options.h"
#include "options_view.pb-c.h"

/* The options message msg seen as view_type; NULL when the bytes do not
 * decode as one. Free with protobuf_c_message_free_unpacked(). */
static ProtobufCMessage *view(const ProtobufCMessage *msg,
                              const ProtobufCMessageDescriptor *view_type)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(len ? len : 1);
    if (!buf)
        cg_fatal("out of memory");
    protobuf_c_message_pack(msg, buf);
    ProtobufCMessage *v = protobuf_c_message_unpack(view_type, NULL, len, buf);
    free(buf);
    return v;
}

const char *cg_read_service_options(cg_pool *p,
                                    const Google__Protobuf__ServiceOptions *o,
                                    cg_service_options *out)
{
    *out = (cg_service_options){0};
    if (!o)
        return NULL;
    Hvrpc__Codegen__ServiceOptionsView *v =
        (Hvrpc__Codegen__ServiceOptionsView *)view(
            &o->base, &hvrpc__codegen__service_options_view__descriptor);
    if (!v)
        return "its options do not decode as hvrpc/options.proto's: does "
               "another extension use field numbers 50000-50002?";
    out->has_port = v->has_vsock_port;
    out->port = v->vsock_port;
    if (v->service_guid)
        out->guid = cg_strdup(p, v->service_guid);
    if (v->friendly_name)
        out->friendly_name = cg_strdup(p, v->friendly_name);
    protobuf_c_message_free_unpacked(&v->base, NULL);
    return NULL;
}

const char *cg_c_scope(cg_pool *p,
                       const Google__Protobuf__FileDescriptorProto *f,
                       const char **err)
{
    const char *scope = f->package ? f->package : "";
    if (!f->options)
        return scope;
    Hvrpc__Codegen__FileOptionsView *v =
        (Hvrpc__Codegen__FileOptionsView *)view(
            &f->options->base, &hvrpc__codegen__file_options_view__descriptor);
    if (!v) {
        *err = cg_printf(p,
                         "%s: its (pb_c_file) option does not decode as "
                         "protobuf-c's",
                         f->name);
        return NULL;
    }
    if (v->pb_c_file && v->pb_c_file->c_package)
        scope = cg_strdup(p, v->pb_c_file->c_package);
    protobuf_c_message_free_unpacked(&v->base, NULL);
    return scope;
}
