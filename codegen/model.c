/*
 * model.c - from a FileDescriptorProto to the model the emitters write:
 * C names, endpoints from the service options, method types resolved to
 * the files (and protoc-c names) that define them.
 */
#include <stdbool.h>
#include <string.h>

#include <hvrpc/guid.h>

#include "model.h"
#include "naming.h"
#include "proto_options.h"

typedef Google__Protobuf__FileDescriptorProto file_proto;
typedef Google__Protobuf__Compiler__CodeGeneratorRequest request;

static const file_proto *find_file(const request *req, const char *name)
{
    for (size_t i = 0; i < req->n_proto_file; i++)
        if (req->proto_file[i]->name &&
            strcmp(req->proto_file[i]->name, name) == 0)
            return req->proto_file[i];
    return NULL;
}

/* Whether f defines the message rel ("Outer.Inner", relative to its
 * package). */
static bool defines(const file_proto *f, const char *rel)
{
    Google__Protobuf__DescriptorProto *const *level = f->message_type;
    size_t n = f->n_message_type;
    for (;;) {
        const char *dot = strchr(rel, '.');
        size_t len = dot ? (size_t)(dot - rel) : strlen(rel);
        const Google__Protobuf__DescriptorProto *found = NULL;
        for (size_t i = 0; i < n && !found; i++)
            if (level[i]->name && strlen(level[i]->name) == len &&
                memcmp(level[i]->name, rel, len) == 0)
                found = level[i];
        if (!found)
            return false;
        if (!dot)
            return true;
        level = found->nested_type;
        n = found->n_nested_type;
        rel = dot + 1;
    }
}

/* Resolves a method's type as protoc gives it (".demo.v1.HelloRequest")
 * to protoc-c's names, which depend on the defining file's package or
 * c_package. */
static const char *resolve_type(cg_pool *p, const request *req,
                                const char *type, cg_type *out)
{
    if (!type || type[0] != '.')
        return cg_printf(p, "type \"%s\" is not fully qualified",
                         type ? type : "");
    const char *full = type + 1;
    for (size_t i = 0; i < req->n_proto_file; i++) {
        const file_proto *f = req->proto_file[i];
        const char *pkg = f->package ? f->package : "";
        size_t plen = strlen(pkg);
        const char *rel = full;
        if (plen) {
            if (strncmp(full, pkg, plen) != 0 || full[plen] != '.')
                continue;
            rel = full + plen + 1;
        }
        if (!defines(f, rel))
            continue;
        const char *err = NULL;
        const char *scope = cg_c_scope(p, f, &err);
        if (!scope)
            return err;
        out->full = full;
        out->c_type = cg_c_name(p, scope, rel, CG_CAMEL);
        out->descriptor =
            cg_printf(p, "%s__descriptor", cg_c_name(p, scope, rel, CG_LOWER));
        return NULL;
    }
    return cg_printf(p,
                     "message type %s is in none of the files protoc "
                     "sent",
                     full);
}

static const char *
build_method(cg_pool *p, const request *req, const cg_service *s,
             const Google__Protobuf__MethodDescriptorProto *md, cg_method *m)
{
    m->name = md->name;
    m->full = cg_printf(p, "%s.%s", s->full, md->name);
    m->kind = (md->client_streaming ? CG_CLIENT_STREAMING : 0) |
              (md->server_streaming ? CG_SERVER_STREAMING : 0);
    const char *err = resolve_type(p, req, md->input_type, &m->in);
    if (!err)
        err = resolve_type(p, req, md->output_type, &m->out);
    if (err)
        return cg_printf(p, "rpc %s: %s", m->full, err);

    m->member = cg_convert(p, md->name, CG_LOWER);
    const char *pre = cg_printf(p, "%s__%s", s->lower, m->member);
    m->protoc_stub = pre;
    m->trampoline = cg_printf(p, "%s_method", pre);
    if (m->kind == CG_UNARY) {
        m->call = cg_printf(p, "%s_call", pre);
        m->call_async = cg_printf(p, "%s_call_async", pre);
        m->done = cg_printf(p, "%s_done", pre);
        m->reply = cg_printf(p, "%s_reply", pre);
        m->async = cg_printf(p, "%s_async", pre);
        m->async_done = cg_printf(p, "%s_async_done", pre);
        return NULL;
    }
    m->open = cg_printf(p, "%s_open", pre);
    m->recv = cg_printf(p, "%s_recv", pre);
    if (m->kind & CG_CLIENT_STREAMING) {
        m->send = cg_printf(p, "%s_send", pre);
        m->server_recv = cg_printf(p, "%s_server_recv", pre);
    }
    if (m->kind & CG_SERVER_STREAMING)
        m->server_send = cg_printf(p, "%s_server_send", pre);
    else
        m->reply = cg_printf(p, "%s_reply", pre);
    return NULL;
}

/* Valid service ports: 0 and 0xFFFFFFFF mean "any port" to a listener
 * (VMADDR_PORT_ANY is -1), so neither can name a service. */
static bool port_ok(uint32_t port)
{
    return port != 0 && port != UINT32_MAX;
}

/* The endpoint of s from its options: port, GUID, friendly name. */
static const char *endpoint(cg_pool *p, cg_service *s,
                            const Google__Protobuf__ServiceOptions *o)
{
    cg_service_options opt;
    const char *err = cg_read_service_options(p, o, &opt);
    if (err)
        return err;
    if (opt.has_port && !port_ok(opt.port))
        return cg_printf(p,
                         "(hvrpc.vsock_port) %u is out of range "
                         "1..4294967294",
                         opt.port);
    hvrpc_guid g = hvrpc_guid_from_vsock_port(opt.port);
    if (opt.guid) {
        hvrpc_status st;
        uint32_t port;
        char text[HVRPC_GUID_STRLEN];
        if (hvrpc_guid_parse(opt.guid, &g, &st) != HVRPC_OK)
            return cg_printf(p, "(hvrpc.service_guid) \"%s\" is not a GUID: %s",
                             opt.guid, st.message);
        bool is_port = hvrpc_guid_to_vsock_port(&g, &port);
        if (opt.has_port && (!is_port || port != opt.port)) {
            hvrpc_guid want = hvrpc_guid_from_vsock_port(opt.port);
            return cg_printf(p,
                             "(hvrpc.service_guid) %s is not the GUID of "
                             "(hvrpc.vsock_port) %u, %s: set one of them, "
                             "or make them agree",
                             opt.guid, opt.port,
                             hvrpc_guid_format(&want, text));
        }
        /* A template GUID names a port: a Linux guest can reach it. */
        if (is_port && !port_ok(port))
            return cg_printf(p,
                             "(hvrpc.service_guid) %s is the GUID of vsock "
                             "port %u, which is out of range 1..4294967294",
                             opt.guid, port);
        if (is_port)
            s->vsock_port = port;
    }
    if (opt.has_port)
        s->vsock_port = opt.port;
    if (opt.guid || opt.has_port) {
        char text[HVRPC_GUID_STRLEN];
        s->guid = cg_strdup(p, hvrpc_guid_format(&g, text));
    }
    s->friendly_name =
        opt.friendly_name && *opt.friendly_name ? opt.friendly_name : s->full;
    return NULL;
}

static const char *
build_service(cg_pool *p, const request *req, const file_proto *fd,
              const char *scope,
              const Google__Protobuf__ServiceDescriptorProto *sd, cg_service *s)
{
    const char *pkg = fd->package ? fd->package : "";
    s->full = *pkg ? cg_printf(p, "%s.%s", pkg, sd->name) : sd->name;
    s->lower = cg_c_name(p, scope, sd->name, CG_LOWER);
    s->upper = cg_c_name(p, scope, sd->name, CG_UPPER);
    s->c_type = cg_c_name(p, scope, sd->name, CG_CAMEL);
    s->env_var = cg_env_var(p, s->full);
    const char *err = endpoint(p, s, sd->options);
    if (err)
        return cg_printf(p, "service %s: %s", s->full, err);

    s->m_name = cg_printf(p, "%s_NAME", s->upper);
    s->m_port = cg_printf(p, "%s_VSOCK_PORT", s->upper);
    s->m_guid = cg_printf(p, "%s_SERVICE_GUID", s->upper);
    s->m_friendly = cg_printf(p, "%s_FRIENDLY_NAME", s->upper);
    s->info = cg_printf(p, "%s_info", s->lower);
    s->handlers = cg_printf(p, "%s_handlers", s->lower);
    s->reg = cg_printf(p, "%s_register", s->lower);
    s->listen = cg_printf(p, "%s_listen", s->lower);
    s->connect_host = cg_printf(p, "%s_connect_host", s->lower);
    s->registration = cg_printf(p, "%s_registration", s->lower);
    s->method_table = cg_printf(p, "%s_methods", s->lower);
    s->service_table = cg_printf(p, "%s_service", s->lower);

    s->n_methods = sd->n_method;
    s->methods = cg_alloc(p, (sd->n_method + 1) * sizeof *s->methods);
    for (size_t i = 0; i < sd->n_method; i++) {
        err = build_method(p, req, s, sd->method[i], &s->methods[i]);
        if (err)
            return err;
    }
    return NULL;
}

/* The file as a serialized FileDescriptorProto, without source info
 * (comments and positions: large, and nothing a peer needs). */
static void serialize(cg_pool *p, const file_proto *fd, cg_file *out)
{
    file_proto copy = *fd;
    copy.source_code_info = NULL;
    size_t len = protobuf_c_message_get_packed_size(&copy.base);
    uint8_t *buf = cg_alloc(p, len + 1);
    protobuf_c_message_pack(&copy.base, buf);
    out->descriptor = buf;
    out->descriptor_len = len;
}

const char *cg_model_build(cg_pool *p, const request *req, const char *name,
                           cg_file *out)
{
    const file_proto *fd = find_file(req, name);
    if (!fd)
        return cg_printf(p, "%s: protoc sent no descriptor for it", name);
    const char *err = NULL;
    const char *scope = cg_c_scope(p, fd, &err);
    if (!scope)
        return err;

    *out = (cg_file){0};
    out->name = name;
    size_t len = strlen(name);
    out->base = len > 6 && strcmp(name + len - 6, ".proto") == 0
                    ? cg_printf(p, "%.*s", (int)(len - 6), name)
                    : name;
    out->guard = cg_file_guard(p, name);
    const char *ident = cg_file_ident(p, name);
    out->fd = cg_printf(p, "%s_file_descriptor", ident);
    out->fd_len = cg_printf(p, "%s_file_descriptor_len", ident);
    serialize(p, fd, out);

    out->n_services = fd->n_service;
    out->services = cg_alloc(p, (fd->n_service + 1) * sizeof *out->services);
    for (size_t i = 0; i < fd->n_service; i++) {
        err =
            build_service(p, req, fd, scope, fd->service[i], &out->services[i]);
        if (err)
            return cg_printf(p, "%s: %s", name, err);
    }
    return NULL;
}
