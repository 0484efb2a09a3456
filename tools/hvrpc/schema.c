/*
 * schema.c - loading message types for the JSON verbs: reflection first,
 * or the files the user named.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvrpc/reflection/v1/reflection.hvrpc.h"
#include "schema.h"

bool cli_schema_init(cli_schema *s, int argc)
{
    memset(s, 0, sizeof(*s));
    s->protos = calloc((size_t)argc + 1, sizeof(char *));
    s->dirs = calloc((size_t)argc + 1, sizeof(char *));
    s->protosets = calloc((size_t)argc + 1, sizeof(char *));
    return s->protos != NULL && s->dirs != NULL && s->protosets != NULL;
}

void cli_schema_free(cli_schema *s)
{
    free(s->protos);
    free(s->dirs);
    free(s->protosets);
}

bool cli_schema_option(cli_schema *s, cli_args *a, char *arg)
{
    char *value;

    if (cli_args_value(a, arg, "--proto", &value)) {
        s->protos[s->n_protos++] = value;
        return true;
    }
    if (cli_args_value(a, arg, "--import-path", &value) ||
        cli_args_value(a, arg, "-I", &value)) {
        s->dirs[s->n_dirs++] = value;
        return true;
    }
    if (cli_args_value(a, arg, "--protoset", &value)) {
        s->protosets[s->n_protosets++] = value;
        return true;
    }
    return false;
}

bool cli_schema_from_files(const cli_schema *s)
{
    return s->n_protos > 0 || s->n_protosets > 0;
}

int cli_report(const hvrpc_status *st)
{
    fprintf(stderr, "%s: %s\n", hvrpc_code_name(st->code),
            st->message[0] != '\0' ? st->message : hvrpc_strerror(st->code));
    return (int)st->code;
}

bool cli_color(void)
{
    const char *no = getenv("NO_COLOR");

    return isatty(STDOUT_FILENO) && (no == NULL || no[0] == '\0');
}

static int load_files(const char *verb, const cli_schema *s,
                      hvrpc_json_pool *pool)
{
    hvrpc_status st;

    for (size_t i = 0; i < s->n_protosets; i++) {
        FILE *f = fopen(s->protosets[i], "rb");
        hvrpc_buf b = {NULL, 0};
        size_t cap = 0, n;

        if (f == NULL)
            return cli_usage_error(verb, "--protoset %s: cannot open it",
                                   s->protosets[i]);
        do {
            if (b.len == cap) {
                uint8_t *p = realloc(b.data, cap = cap ? cap * 2 : 65536);
                if (p == NULL) {
                    fclose(f);
                    free(b.data);
                    return cli_out_of_memory(verb);
                }
                b.data = p;
            }
            n = fread(b.data + b.len, 1, cap - b.len, f);
            b.len += n;
        } while (n > 0);
        fclose(f);
        if (hvrpc_json_pool_add_set(pool, b.data, b.len, &st) != HVRPC_OK) {
            free(b.data);
            fprintf(stderr,
                    "hvrpc: %s: --protoset %s: %s (make one with protoc "
                    "--include_imports --descriptor_set_out=FILE)\n",
                    verb, s->protosets[i], st.message);
            return CLI_EXIT_USAGE;
        }
        free(b.data);
    }
    for (size_t i = 0; i < s->n_protos; i++) {
        if (hvrpc_json_pool_add_proto(pool, s->protos[i], s->dirs, s->n_dirs,
                                      &st) != HVRPC_OK) {
            fprintf(stderr, "hvrpc: %s: --proto %s: %s\n", verb, s->protos[i],
                    st.message);
            return st.code == HVRPC_INVALID_ARGUMENT ? CLI_EXIT_USAGE
                                                     : (int)st.code;
        }
    }
    return 0;
}

/* Adds the files a reflection answer carries. */
static int add_answer(const char *verb,
                      const Hvrpc__Reflection__V1__FileDescriptorResponse *r,
                      hvrpc_json_pool *pool)
{
    hvrpc_status st;

    for (size_t i = 0; i < r->n_file_descriptor_proto; i++) {
        if (hvrpc_json_pool_add_file(pool, r->file_descriptor_proto[i].data,
                                     r->file_descriptor_proto[i].len,
                                     &st) != HVRPC_OK) {
            fprintf(stderr, "hvrpc: %s: the server's reflection answer: %s\n",
                    verb, st.message);
            return (int)HVRPC_INTERNAL;
        }
    }
    return 0;
}

static int no_reflection(const char *verb, const char *uri,
                         const hvrpc_status *st)
{
    if (st->code == HVRPC_UNIMPLEMENTED) {
        fprintf(stderr,
                "hvrpc: %s: %s does not serve hvrpc.reflection.v1.Reflection: "
                "give the schema with --proto FILE [-I DIR] or --protoset "
                "FILE\n",
                verb, uri);
        return (int)st->code;
    }
    fprintf(stderr, "hvrpc: %s: reflection: ", verb);
    return cli_report(st);
}

static int by_symbol(const char *verb, hvrpc_client *c, const char *uri,
                     const char *symbol, const hvrpc_call_options *copts,
                     hvrpc_json_pool *pool)
{
    Hvrpc__Reflection__V1__FileContainingSymbolRequest req =
        HVRPC__REFLECTION__V1__FILE_CONTAINING_SYMBOL_REQUEST__INIT;
    Hvrpc__Reflection__V1__FileDescriptorResponse *resp;
    hvrpc_status st;
    int status;

    req.symbol = (char *)symbol;
    if (hvrpc__reflection__v1__reflection__file_containing_symbol_call(
            c, &req, &resp, copts, &st) != HVRPC_OK) {
        if (st.code == HVRPC_NOT_FOUND) {
            fprintf(stderr,
                    "hvrpc: %s: %s knows no %s ('hvrpc list %s' shows what it "
                    "serves)\n",
                    verb, uri, symbol, uri);
            return (int)st.code;
        }
        return no_reflection(verb, uri, &st);
    }
    status = add_answer(verb, resp, pool);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return status;
}

int cli_schema_load(const char *verb, const cli_schema *s, hvrpc_client *c,
                    const char *uri, const char *symbol,
                    const hvrpc_call_options *copts, hvrpc_json_pool **out)
{
    hvrpc_json_pool *pool;
    hvrpc_status st;
    int status;

    *out = NULL;
    if (hvrpc_json_pool_create(&pool, &st) != HVRPC_OK)
        return cli_report(&st);
    if (cli_schema_from_files(s)) {
        status = load_files(verb, s, pool);
    } else if (symbol != NULL) {
        status = by_symbol(verb, c, uri, symbol, copts, pool);
    } else {
        Hvrpc__Reflection__V1__ListServicesRequest req =
            HVRPC__REFLECTION__V1__LIST_SERVICES_REQUEST__INIT;
        Hvrpc__Reflection__V1__ListServicesResponse *resp;

        if (hvrpc__reflection__v1__reflection__list_services_call(
                c, &req, &resp, copts, &st) != HVRPC_OK) {
            status = no_reflection(verb, uri, &st);
        } else {
            status = 0;
            for (size_t i = 0; i < resp->n_services && status == 0; i++) {
                if (resp->services[i]->file[0] != '\0')
                    status = by_symbol(verb, c, uri, resp->services[i]->name,
                                       copts, pool);
            }
            protobuf_c_message_free_unpacked(&resp->base, NULL);
        }
    }
    if (status != 0) {
        hvrpc_json_pool_free(pool);
        return status;
    }
    *out = pool;
    return 0;
}
