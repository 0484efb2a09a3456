/*
 * emit_source.c - foo.hvrpc.c: thin definitions over the runtime. Every
 * function is a typed front for one runtime call (hvrpc/service.h,
 * hvrpc/client.h, hvrpc/server.h); dispatch goes by method name through a
 * hvrpc_method table, never by casting the handler table.
 */
#include "emit.h"

static void descriptor_bytes(cg_buf *b, const cg_file *f)
{
    cg_buf_addf(b, "const uint8_t %s[] = {", f->fd);
    for (size_t i = 0; i < f->descriptor_len; i++)
        cg_buf_addf(b, "%s0x%02x,", i % 12 ? " " : "\n    ", f->descriptor[i]);
    cg_buf_addf(b, "\n};\nconst size_t %s = sizeof %s;\n", f->fd_len, f->fd);
}

static void endpoint(cg_buf *b, cg_pool *p, const cg_service *s)
{
    const char *vars[] = {
        "info",     s->info,       "NAME", s->m_name,
        "PORT",     s->m_port,     "GUID", s->guid ? s->m_guid : "NULL",
        "FRIENDLY", s->m_friendly, "env",  s->env_var,
        NULL};
    cg_emit(b, vars,
            "const hvrpc_service_info $info$ = {\n"
            "    .size = sizeof(hvrpc_service_info),\n"
            "    .name = $NAME$,\n"
            "    .vsock_port = $PORT$,\n"
            "    .service_guid = $GUID$,\n"
            "    .friendly_name = $FRIENDLY$,\n"
            "    .env_var = \"$env$\",\n"
            "};\n\n");
    cg_sig sig = cg_sig_connect_host(p, s);
    cg_emit_sig(b, &sig, ")\n{\n");
    cg_buf_addf(b,
                "    return hvrpc_client_connect_host(&%s, opts, out, st);\n"
                "}\n\n",
                s->info);
    sig = cg_sig_listen(p, s);
    cg_emit_sig(b, &sig, ")\n{\n");
    cg_buf_addf(b,
                "    return hvrpc_server_listen_service(srv, &%s, ep, st);\n"
                "}\n",
                s->info);
}

static const char *kind_name(const cg_method *m)
{
    static const char *const names[] = {"HVRPC_UNARY", "HVRPC_CLIENT_STREAMING",
                                        "HVRPC_SERVER_STREAMING",
                                        "HVRPC_BIDI_STREAMING"};
    return names[m->kind & 3];
}

/* name(stream, msg, timeout_ms, st) over hvrpc_stream_send_message(). */
static void stream_send(cg_buf *b, const cg_sig *sig)
{
    cg_emit_sig(b, sig, ")\n{\n");
    const char *args[] = {"stream", "(const ProtobufCMessage *)msg",
                          "timeout_ms", "st"};
    cg_emit_call(b, 4, "return hvrpc_stream_send_message(", args, 4, ");\n");
    cg_buf_puts(b, "}\n");
}

/* name(stream, msg, timeout_ms, st) over hvrpc_stream_recv_message(). */
static void stream_recv(cg_buf *b, cg_pool *p, const cg_sig *sig,
                        const cg_type *type)
{
    cg_emit_sig(b, sig, ")\n{\n");
    cg_buf_puts(b, "    ProtobufCMessage *m;\n");
    const char *args[] = {"stream", cg_printf(p, "&%s", type->descriptor), "&m",
                          "timeout_ms", "st"};
    cg_emit_call(b, 4, "hvrpc_code code = hvrpc_stream_recv_message(", args, 5,
                 ");\n");
    cg_buf_addf(b,
                "    *msg = (%s *)m;\n"
                "    return code;\n"
                "}\n",
                type->c_type);
}

/* A streaming method's client side: open, send, receive. */
static void stream_client(cg_buf *b, cg_pool *p, const cg_service *s,
                          const cg_method *m)
{
    cg_buf_puts(b, "\n");
    cg_sig sig = cg_sig_open(p, m);
    cg_emit_sig(b, &sig, ")\n{\n");
    const char *args[] = {"c",
                          s->m_name,
                          cg_c_literal(p, m->name),
                          kind_name(m),
                          m->kind & CG_CLIENT_STREAMING
                              ? "NULL"
                              : "(const ProtobufCMessage *)req",
                          "opts",
                          "out",
                          "st"};
    cg_emit_call(b, 4, "return hvrpc_client_stream_message(", args, 8, ");\n");
    cg_buf_puts(b, "}\n");
    if (m->send) {
        cg_buf_puts(b, "\n");
        sig = cg_sig_send(p, m);
        stream_send(b, &sig);
    }
    cg_buf_puts(b, "\n");
    sig = cg_sig_recv(p, m);
    stream_recv(b, p, &sig, &m->out);
}

/* The blocking stub, and the asynchronous one with the closure that turns
 * the runtime's untyped completion into the caller's typed one. */
static void client(cg_buf *b, cg_pool *p, const cg_service *s,
                   const cg_method *m)
{
    if (m->kind != CG_UNARY) {
        stream_client(b, p, s, m);
        return;
    }
    const char *vars[] = {"Out",   m->out.c_type, "done", m->done,
                          "async", m->async,      NULL};
    const char *req = "(const ProtobufCMessage *)req";
    const char *out_desc = cg_printf(p, "&%s", m->out.descriptor);
    const char *method = cg_c_literal(p, m->name);

    cg_buf_puts(b, "\n");
    cg_sig sig = cg_sig_call(p, m);
    cg_emit_sig(b, &sig, ")\n{\n");
    cg_buf_puts(b, "    ProtobufCMessage *m;\n");
    const char *invoke[] = {"c",      s->m_name, method, req,
                            out_desc, "opts",    "&m",   "st"};
    cg_emit_call(b, 4, "hvrpc_code code = hvrpc_client_invoke(", invoke, 8,
                 ");\n");
    cg_emit(b, vars,
            "    *resp = ($Out$ *)m;\n"
            "    return code;\n"
            "}\n"
            "\n"
            "struct $async$ {\n"
            "    $done$ done;\n"
            "    void *arg;\n"
            "};\n"
            "\n");
    const char *adone[] = {"const hvrpc_status *st", "ProtobufCMessage *resp",
                           "void *arg"};
    cg_emit_params(b, 0, cg_printf(p, "static void %s(", m->async_done), adone,
                   3, ")\n{\n");
    cg_emit(b, vars,
            "    struct $async$ *a = arg;\n"
            "    struct $async$ call = *a;\n"
            "    free(a);\n"
            "    call.done(st, ($Out$ *)resp, call.arg);\n"
            "}\n"
            "\n");
    sig = cg_sig_call_async(p, m);
    cg_emit_sig(b, &sig, ")\n{\n");
    cg_emit(b, vars,
            "    if (!done)\n"
            "        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,\n"
            "                                \"a completion callback is "
            "required\");\n"
            "    struct $async$ *a = malloc(sizeof *a);\n"
            "    if (!a)\n"
            "        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,\n"
            "                                \"out of memory for a call\");\n"
            "    a->done = done;\n"
            "    a->arg = arg;\n");
    const char *start[] = {"c",    s->m_name,     method, req, out_desc,
                           "opts", m->async_done, "a",    "st"};
    cg_emit_call(b, 4, "hvrpc_code code = hvrpc_client_invoke_async(", start, 9,
                 ");\n");
    cg_buf_puts(b, "    if (code != HVRPC_OK)\n"
                   "        free(a);\n"
                   "    return code;\n"
                   "}\n");
}

/* A streaming method's trampoline: runs the typed handler on the
 * stream's thread; a server-streaming one first receives and decodes its
 * request, which stays valid until the handler returns. */
static void stream_trampoline(cg_buf *b, cg_pool *p, const cg_service *s,
                              const cg_method *m)
{
    const char *params[] = {"hvrpc_stream *stream", "void *reg"};
    cg_buf_puts(b, "\n");
    cg_emit_params(b, 0, cg_printf(p, "static void %s(", m->trampoline), params,
                   2, ")\n{\n");
    cg_buf_addf(b, "    const struct %s *r = reg;\n", s->registration);
    if (m->kind & CG_CLIENT_STREAMING) {
        cg_buf_addf(b, "    r->h.%s(stream, r->user_data);\n}\n", m->member);
        return;
    }
    cg_buf_puts(b, "    ProtobufCMessage *req;\n"
                   "    hvrpc_status st;\n");
    const char *recv[] = {"stream", cg_printf(p, "&%s", m->in.descriptor),
                          "&req", "HVRPC_WAIT_FOREVER", "&st"};
    cg_emit_call(b, 4, "hvrpc_code code = hvrpc_stream_recv_message(", recv, 5,
                 ");\n");
    cg_buf_puts(b, "    if (code != HVRPC_OK) {\n"
                   "        hvrpc_stream_finish(\n"
                   "            stream, code == HVRPC_END ? "
                   "HVRPC_INVALID_ARGUMENT : code, \"%s\",\n"
                   "            st.message);\n"
                   "        return;\n"
                   "    }\n");
    const char *call[] = {"stream",
                          cg_printf(p, "(const %s *)req", m->in.c_type),
                          "r->user_data"};
    cg_emit_call(b, 4, cg_printf(p, "r->h.%s(", m->member), call, 3, ");\n");
    cg_buf_puts(b, "    protobuf_c_message_free_unpacked(req, NULL);\n}\n");
}

/* What each handler call needs; the trampolines that decode the request
 * and call the typed handler; the method table the runtime dispatches
 * by name; register and the typed replies. */
static void server(cg_buf *b, cg_pool *p, const cg_file *f, const cg_service *s)
{
    const char *vars[] = {"reg",       s->registration,  "handlers",
                          s->handlers, "methods",        s->method_table,
                          "service",   s->service_table, "NAME",
                          s->m_name,   "full",           s->full,
                          NULL};
    cg_emit(b, vars,
            "\n"
            "struct $reg$ {\n"
            "    $handlers$ h;\n"
            "    void *user_data;\n"
            "};\n");
    for (size_t i = 0; i < s->n_methods; i++) {
        const cg_method *m = &s->methods[i];
        if (m->kind != CG_UNARY) {
            stream_trampoline(b, p, s, m);
            continue;
        }
        const char *params[] = {"hvrpc_call *call", "const uint8_t *data",
                                "size_t len", "void *reg"};
        cg_buf_puts(b, "\n");
        cg_emit_params(b, 0, cg_printf(p, "static void %s(", m->trampoline),
                       params, 4, ")\n{\n");
        cg_buf_addf(b, "    const struct %s *r = reg;\n", s->registration);
        const char *decode[] = {"call", cg_printf(p, "&%s", m->in.descriptor),
                                "data", "len"};
        cg_emit_call(b, 4, "ProtobufCMessage *req = hvrpc_call_decode(", decode,
                     4, ");\n");
        const char *call[] = {"call",
                              cg_printf(p, "(const %s *)req", m->in.c_type),
                              "r->user_data"};
        cg_buf_puts(b, "    if (req)\n");
        cg_emit_call(b, 8, cg_printf(p, "r->h.%s(", m->member), call, 3,
                     ");\n");
        cg_buf_puts(b, "}\n");
    }

    cg_emit(b, vars, "\nstatic const hvrpc_method $methods$[] = {\n");
    for (size_t i = 0; i < s->n_methods; i++) {
        const cg_method *m = &s->methods[i];
        if (m->kind == CG_UNARY)
            cg_buf_addf(b, "    {.name = %s, .handler = %s},\n",
                        cg_c_literal(p, m->name), m->trampoline);
        else
            cg_buf_addf(b,
                        "    {.name = %s,\n     .kind = %s,\n"
                        "     .stream = %s},\n",
                        cg_c_literal(p, m->name), kind_name(m), m->trampoline);
    }
    cg_emit(b, vars,
            "};\n"
            "\n"
            "static const hvrpc_service $service$ = {\n"
            "    .name = $NAME$,\n"
            "    .methods = $methods$,\n");
    cg_buf_addf(b, "    .n_methods = %zu,\n};\n\n", s->n_methods);

    cg_sig sig = cg_sig_register(p, s);
    cg_emit_sig(b, &sig, ")\n{\n");
    cg_emit(b, vars,
            "    if (!h)\n"
            "        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,\n"
            "                                \"$full$: no handler table\");\n");
    for (size_t i = 0; i < s->n_methods; i++)
        cg_buf_addf(
            b,
            "    if (!h->%s)\n"
            "        return hvrpc_status_set(st, HVRPC_INVALID_ARGUMENT,\n"
            "                                \"%s: no handler for "
            "%s\");\n",
            s->methods[i].member, s->full, s->methods[i].name);
    /* The file's descriptor goes with the service, for reflection. */
    const char *fdp[] = {"srv", f->fd, f->fd_len, "st"};
    cg_emit_call(b, 4, "hvrpc_code code = hvrpc_server_add_file_descriptor(",
                 fdp, 4, ");\n");
    cg_buf_puts(b, "    if (code != HVRPC_OK)\n"
                   "        return code;\n");
    cg_emit(b, vars,
            "    struct $reg$ *r = malloc(sizeof *r);\n"
            "    if (!r)\n"
            "        return hvrpc_status_set(st, HVRPC_RESOURCE_EXHAUSTED,\n"
            "                                \"out of memory registering "
            "$full$\");\n"
            "    r->h = *h;\n"
            "    r->user_data = user_data;\n");
    const char *regp[] = {"srv", "ep",   cg_printf(p, "&%s", s->service_table),
                          "r",   "free", "st"};
    cg_emit_call(b, 4, "code = hvrpc_server_register(", regp, 6, ");\n");
    cg_buf_puts(b, "    if (code != HVRPC_OK)\n"
                   "        free(r);\n"
                   "    return code;\n"
                   "}\n");

    for (size_t i = 0; i < s->n_methods; i++) {
        const cg_method *m = &s->methods[i];
        if (m->server_recv) {
            cg_buf_puts(b, "\n");
            sig = cg_sig_server_recv(p, m);
            stream_recv(b, p, &sig, &m->in);
        }
        if (m->server_send) {
            cg_buf_puts(b, "\n");
            sig = cg_sig_server_send(p, m);
            stream_send(b, &sig);
        }
        if (!m->reply)
            continue;
        cg_buf_puts(b, "\n");
        sig = cg_sig_reply(p, m);
        cg_emit_sig(b, &sig, ")\n{\n");
        if (m->kind == CG_UNARY)
            cg_buf_puts(b, "    return hvrpc_call_reply_message(call, (const "
                           "ProtobufCMessage *)resp);\n"
                           "}\n");
        else
            cg_buf_puts(b, "    return hvrpc_stream_reply_message(\n"
                           "        stream, (const ProtobufCMessage "
                           "*)resp);\n"
                           "}\n");
    }
}

char *cg_emit_source(cg_pool *p, const cg_file *f)
{
    cg_buf b;
    cg_buf_init(&b, p);
    cg_emit_banner(&b, f, "c");
    cg_buf_addf(&b,
                " */\n"
                "#include <stdlib.h>\n"
                "\n"
                "#include \"%s.hvrpc.h\"\n"
                "\n",
                f->base);
    descriptor_bytes(&b, f);
    for (size_t i = 0; i < f->n_services; i++) {
        const cg_service *s = &f->services[i];
        cg_buf_addf(&b, "\n/* --- service %s --- */\n\n", s->full);
        endpoint(&b, p, s);
        if (!s->n_methods)
            continue;
        for (size_t j = 0; j < s->n_methods; j++)
            client(&b, p, s, &s->methods[j]);
        server(&b, p, f, s);
    }
    return b.data;
}
