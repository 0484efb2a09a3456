/*
 * emit.h - writing foo.hvrpc.h and foo.hvrpc.c from a checked model.
 * docs/CODEGEN.md shows and explains the output.
 */
#ifndef HVRPC_CODEGEN_EMIT_H
#define HVRPC_CODEGEN_EMIT_H

#include "model.h"

/* The text of base.hvrpc.h (emit_header.c) and base.hvrpc.c
 * (emit_source.c). */
char *cg_emit_header(cg_pool *p, const cg_file *f);
char *cg_emit_source(cg_pool *p, const cg_file *f);

/* --- shared by both (emit.c) ------------------------------------------ */

/* s as a C string literal, quotes included: '"', '\\' and '?' (no
 * trigraphs) escaped, anything outside printable ASCII in octal. */
char *cg_c_literal(cg_pool *p, const char *s);

/* The first lines of either file: what it is and where it came from. */
void cg_emit_banner(cg_buf *b, const cg_file *f, const char *ext);

/* A function's signature: "<head>(" and its parameters. The header
 * declares and the source defines each one from the same cg_sig, so the
 * two always agree. */
typedef struct cg_sig {
    const char *head;
    const char *params[6];
    size_t n;
} cg_sig;

cg_sig cg_sig_call(cg_pool *p, const cg_method *m);
cg_sig cg_sig_call_async(cg_pool *p, const cg_method *m);
cg_sig cg_sig_reply(cg_pool *p, const cg_method *m);
/* Streaming methods (docs/CODEGEN.md): open, the client's send and
 * receive, the server's. */
cg_sig cg_sig_open(cg_pool *p, const cg_method *m);
cg_sig cg_sig_send(cg_pool *p, const cg_method *m);
cg_sig cg_sig_recv(cg_pool *p, const cg_method *m);
cg_sig cg_sig_server_send(cg_pool *p, const cg_method *m);
cg_sig cg_sig_server_recv(cg_pool *p, const cg_method *m);
cg_sig cg_sig_register(cg_pool *p, const cg_service *s);
cg_sig cg_sig_connect_host(cg_pool *p, const cg_service *s);
cg_sig cg_sig_listen(cg_pool *p, const cg_service *s);

/* Writes sig at column 0 followed by tail (");\n" or ")\n{\n"). */
void cg_emit_sig(cg_buf *b, const cg_sig *sig, const char *tail);

#endif
