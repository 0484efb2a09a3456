/*
 * emit_header.c - foo.hvrpc.h: the constants and declarations users read.
 */
#include <string.h>

#include "emit.h"

/* The API in brief, once per header; docs/CODEGEN.md has the rest. */
static const char api_comment[] =
    " *\n"
    " * Typed hvrpc code for the services of this file, over protoc-c's\n"
    " * messages. For a service with prefix P (docs/CODEGEN.md):\n"
    " *\n"
    " *   P_NAME, P_VSOCK_PORT, P_SERVICE_GUID, P_FRIENDLY_NAME, P_info\n"
    " *       where it lives (hvrpc/service.h)\n"
    " *   P_connect_host(), P_listen()\n"
    " *       guest side: connect to it on this machine's host; host side:\n"
    " *       listen on its endpoint\n"
    " *   P__<method>_call()\n"
    " *       call and wait. On OK *resp is the decoded reply, the\n"
    " *       caller's to free with protobuf_c_message_free_unpacked();\n"
    " *       otherwise NULL. A reply that does not decode is INTERNAL.\n"
    " *   P__<method>_call_async()\n"
    " *       the same without waiting: done(st, resp, arg) runs once, on\n"
    " *       the client's I/O thread, and owns resp (NULL unless OK)\n"
    " *   P_handlers, P_register()\n"
    " *       serve it: one handler per method, all required. A handler\n"
    " *       gets the decoded request, valid until the call is answered\n"
    " *       (now or later, from any thread) with P__<method>_reply() or\n"
    " *       hvrpc_call_fail(). A request that does not decode is answered\n"
    " *       INVALID_ARGUMENT before any handler runs.\n"
    " *   streaming methods (hvrpc/stream.h): P__<method>_open() opens the\n"
    " *       stream (a server-streaming one with its request); the client\n"
    " *       sends with P__<method>_send() and receives with\n"
    " *       P__<method>_recv(); the handler (on a thread of its own)\n"
    " *       uses P__<method>_server_recv() / _server_send() and ends the\n"
    " *       stream with hvrpc_stream_finish() or P__<method>_reply().\n"
    " */\n";

static void constants(cg_buf *b, cg_pool *p, const cg_service *s)
{
    int w = (int)strlen(s->m_friendly); /* the longest of the four */
    cg_buf_puts(b, "/* Where it lives: vsock port (0: none), Hyper-V service "
                   "GUID (\"\": none)\n"
                   " * and the name a Windows host registers it under. */\n");
    cg_buf_addf(b, "#define %-*s %s\n", w, s->m_name, cg_c_literal(p, s->full));
    cg_buf_addf(b, "#define %-*s %uu\n", w, s->m_port, s->vsock_port);
    cg_buf_addf(b, "#define %-*s %s\n", w, s->m_guid,
                cg_c_literal(p, s->guid ? s->guid : ""));
    cg_buf_addf(b, "#define %-*s %s\n", w, s->m_friendly,
                cg_c_literal(p, s->friendly_name));
    cg_buf_addf(b, "\nextern const hvrpc_service_info %s;\n\n", s->info);
    if (!s->guid)
        cg_buf_addf(b,
                    "/* It has no endpoint option: connect_host() and "
                    "listen() need a URI\n"
                    " * in %s. */\n",
                    s->env_var);
    else if (!s->vsock_port)
        cg_buf_addf(b,
                    "/* Its GUID is no vsock port's (a Windows-only "
                    "service): from Linux,\n"
                    " * connect_host() and listen() need a URI in %s.\n"
                    " */\n",
                    s->env_var);
    else
        cg_buf_addf(b,
                    "/* Guest side: connect to it on the host. Host side: "
                    "listen on it.\n"
                    " * A URI in %s, when set, overrides the address. */\n",
                    s->env_var);
    cg_sig sig = cg_sig_connect_host(p, s);
    cg_emit_sig(b, &sig, ");\n");
    sig = cg_sig_listen(p, s);
    cg_emit_sig(b, &sig, ");\n");
}

/* A streaming method: open, then the client's and the server's sides. */
static void stream_method(cg_buf *b, cg_pool *p, const cg_method *m)
{
    cg_buf_addf(b, "\n/* rpc %s(%s%s) returns (%s%s) */\n", m->name,
                m->kind & CG_CLIENT_STREAMING ? "stream " : "", m->in.full,
                m->kind & CG_SERVER_STREAMING ? "stream " : "", m->out.full);
    cg_sig sig = cg_sig_open(p, m);
    cg_emit_sig(b, &sig, ");\n");
    if (m->send) {
        sig = cg_sig_send(p, m);
        cg_emit_sig(b, &sig, ");\n");
    }
    sig = cg_sig_recv(p, m);
    cg_emit_sig(b, &sig, ");\n");
    if (m->server_recv) {
        sig = cg_sig_server_recv(p, m);
        cg_emit_sig(b, &sig, ");\n");
    }
    if (m->server_send) {
        sig = cg_sig_server_send(p, m);
        cg_emit_sig(b, &sig, ");\n");
    }
    if (m->reply) {
        sig = cg_sig_reply(p, m);
        cg_emit_sig(b, &sig, ");\n");
    }
}

static void method(cg_buf *b, cg_pool *p, const cg_method *m)
{
    if (m->kind != CG_UNARY) {
        stream_method(b, p, m);
        return;
    }
    cg_buf_addf(b, "\n/* rpc %s(%s) returns (%s) */\n", m->name, m->in.full,
                m->out.full);
    cg_sig sig = cg_sig_call(p, m);
    cg_emit_sig(b, &sig, ");\n");
    const char *done[] = {"const hvrpc_status *st",
                          cg_printf(p, "%s *resp", m->out.c_type), "void *arg"};
    cg_emit_params(b, 0, cg_printf(p, "typedef void (*%s)(", m->done), done, 3,
                   ");\n");
    sig = cg_sig_call_async(p, m);
    cg_emit_sig(b, &sig, ");\n");
    sig = cg_sig_reply(p, m);
    cg_emit_sig(b, &sig, ");\n");
}

static void handlers(cg_buf *b, cg_pool *p, const cg_service *s)
{
    cg_buf_addf(b, "\ntypedef struct %s {\n", s->handlers);
    for (size_t i = 0; i < s->n_methods; i++) {
        const cg_method *m = &s->methods[i];
        const char *params[] = {"hvrpc_call *call",
                                cg_printf(p, "const %s *req", m->in.c_type),
                                "void *user_data"};
        size_t n = 3;
        if (m->kind != CG_UNARY) {
            /* A stream handler; a server-streaming one gets its request. */
            params[0] = "hvrpc_stream *stream";
            if (m->kind & CG_CLIENT_STREAMING) {
                params[1] = "void *user_data";
                n = 2;
            }
        }
        cg_emit_params(b, 4, cg_printf(p, "void (*%s)(", m->member), params, n,
                       ");\n");
    }
    cg_buf_addf(b, "} %s;\n\n", s->handlers);
    cg_buf_puts(b, "/* Registers h (copied) on ep; INVALID_ARGUMENT names a "
                   "missing handler.\n"
                   " * user_data goes to every handler and stays the "
                   "caller's. */\n");
    cg_sig sig = cg_sig_register(p, s);
    cg_emit_sig(b, &sig, ");\n");
}

char *cg_emit_header(cg_pool *p, const cg_file *f)
{
    cg_buf b;
    cg_buf_init(&b, p);
    cg_emit_banner(&b, f, "h");
    cg_buf_puts(&b, api_comment);
    const char *vars[] = {"guard",  f->guard,  "base", f->base,
                          "name",   f->name,   "fd",   f->fd,
                          "fd_len", f->fd_len, NULL};
    cg_emit(&b, vars,
            "#ifndef $guard$\n"
            "#define $guard$\n"
            "\n"
            "#include <hvrpc/hvrpc.h>\n"
            "\n"
            "#include \"$base$.pb-c.h\"\n"
            "\n"
            "#ifdef __cplusplus\n"
            "extern \"C\" {\n"
            "#endif\n"
            "\n"
            "/* $name$ as a serialized google.protobuf.FileDescriptorProto\n"
            " * (without source info), for reflection. */\n"
            "extern const uint8_t $fd$[];\n"
            "extern const size_t $fd_len$;\n");
    for (size_t i = 0; i < f->n_services; i++) {
        const cg_service *s = &f->services[i];
        cg_buf_addf(&b, "\n/* --- service %s --- */\n\n", s->full);
        constants(&b, p, s);
        /* C has no empty structs: a service without methods gets no
         * client or server part, only its endpoint. */
        if (!s->n_methods)
            continue;
        for (size_t j = 0; j < s->n_methods; j++)
            method(&b, p, &s->methods[j]);
        handlers(&b, p, s);
    }
    cg_emit(&b, vars,
            "\n"
            "#ifdef __cplusplus\n"
            "}\n"
            "#endif\n"
            "\n"
            "#endif /* $guard$ */\n");
    return b.data;
}
