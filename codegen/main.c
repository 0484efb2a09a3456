/*
 * protoc-gen-hvrpc - the protoc plugin: for every foo.proto protoc asks
 * for, writes foo.hvrpc.h and foo.hvrpc.c beside protoc-c's foo.pb-c.*.
 *
 *   protoc --plugin=protoc-gen-hvrpc=PATH --hvrpc_out=DIR -I... foo.proto
 *
 * protoc sends a CodeGeneratorRequest on stdin and reads a
 * CodeGeneratorResponse from stdout. Anything wrong in a .proto goes back
 * as the response's error, which protoc prints and fails on; only a
 * request that cannot be read at all ends the plugin with a message on
 * stderr.
 */
#include <stdio.h>
#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#endif
#include <stdlib.h>
#include <string.h>

#include "emit.h"
#include "model.h"

/* Bounds what is read from stdin: a request carries every file the
 * generated ones import, descriptors only, far below this. */
#define MAX_REQUEST (64u * 1024u * 1024u)

typedef Google__Protobuf__Compiler__CodeGeneratorRequest request;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse response;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse__File out_file;

static uint8_t *read_all(FILE *in, size_t *len)
{
    size_t cap = 64 * 1024, n = 0;
    uint8_t *buf = malloc(cap);
    if (!buf)
        cg_fatal("out of memory");
    for (;;) {
        n += fread(buf + n, 1, cap - n, in);
        if (ferror(in))
            cg_fatal("cannot read the request from stdin");
        if (feof(in))
            break;
        if (cap == MAX_REQUEST)
            cg_fatal("the request is larger than 64 MiB");
        cap = cap * 2 > MAX_REQUEST ? MAX_REQUEST : cap * 2;
        uint8_t *more = realloc(buf, cap);
        if (!more)
            cg_fatal("out of memory");
        buf = more;
    }
    *len = n;
    return buf;
}

static out_file *new_file(cg_pool *p, const char *name, char *content)
{
    out_file *f = cg_alloc(p, sizeof *f);
    google__protobuf__compiler__code_generator_response__file__init(f);
    f->name = (char *)name;
    f->content = content;
    return f;
}

/* Fills resp with the files for every file protoc asked for, or with the
 * first error. */
static void generate(cg_pool *p, const request *req, response *resp)
{
    if (req->parameter && *req->parameter) {
        resp->error = cg_printf(p,
                                "unknown parameter \"%s\": "
                                "protoc-gen-hvrpc takes none",
                                req->parameter);
        return;
    }
    resp->file =
        cg_alloc(p, (2 * req->n_file_to_generate + 1) * sizeof *resp->file);
    for (size_t i = 0; i < req->n_file_to_generate; i++) {
        cg_file f;
        const char *err = cg_model_build(p, req, req->file_to_generate[i], &f);
        if (!err)
            err = cg_model_check(p, &f);
        if (err) {
            resp->error = (char *)err;
            resp->n_file = 0;
            return;
        }
        resp->file[resp->n_file++] = new_file(
            p, cg_printf(p, "%s.hvrpc.h", f.base), cg_emit_header(p, &f));
        resp->file[resp->n_file++] = new_file(
            p, cg_printf(p, "%s.hvrpc.c", f.base), cg_emit_source(p, &f));
    }
}

int main(void)
{
#ifdef _WIN32
    /* protoc speaks binary protobuf on both pipes. */
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
#endif
    size_t len;
    uint8_t *in = read_all(stdin, &len);
    request *req = google__protobuf__compiler__code_generator_request__unpack(
        NULL, len, in);
    free(in);
    if (!req)
        cg_fatal("stdin is not a CodeGeneratorRequest: run me from protoc "
                 "(--plugin=protoc-gen-hvrpc=PATH --hvrpc_out=DIR)");

    cg_pool *p = cg_pool_new();
    response resp = GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__INIT;
    /* Fields are not our business: proto3 `optional` changes nothing. */
    resp.has_supported_features = 1;
    resp.supported_features =
        GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__FEATURE__FEATURE_PROTO3_OPTIONAL;
    generate(p, req, &resp);

    size_t out_len = protobuf_c_message_get_packed_size(&resp.base);
    uint8_t *out = cg_alloc(p, out_len + 1);
    protobuf_c_message_pack(&resp.base, out);
    int rc = fwrite(out, 1, out_len, stdout) == out_len && fflush(stdout) == 0
                 ? 0
                 : 1;
    if (rc)
        fprintf(stderr, "protoc-gen-hvrpc: cannot write the response\n");
    cg_pool_free(p);
    google__protobuf__compiler__code_generator_request__free_unpacked(req,
                                                                      NULL);
    return rc;
}
