/*
 * schema.h - where `hvrpc list`, `describe` and `call -d` get message
 * types from: a server's reflection service, .proto files (run through
 * protoc) or descriptor sets, and the options that choose between them.
 */
#ifndef HVRPC_CLI_SCHEMA_H
#define HVRPC_CLI_SCHEMA_H

#include <stdbool.h>

#include <hvrpc/hvrpc.h>

#include "cli.h"
#include "hvrpc_json.h"

typedef struct cli_schema {
    const char **protos; /* --proto FILE, n_protos of them */
    size_t n_protos;
    const char **dirs; /* -I DIR */
    size_t n_dirs;
    const char **protosets; /* --protoset FILE */
    size_t n_protosets;
} cli_schema;

/* Allocates room for argc options of each kind; false when out of memory. */
bool cli_schema_init(cli_schema *s, int argc);
void cli_schema_free(cli_schema *s);

/* True when arg is one of --proto, -I/--import-path, --protoset (its
 * value is then recorded). */
bool cli_schema_option(cli_schema *s, cli_args *a, char *arg);

/* True when the schema comes from files, not from reflection. */
bool cli_schema_from_files(const cli_schema *s);

/* Builds a pool: from the files when any were given, else from the
 * server's reflection (c must then be connected): the file defining
 * symbol, or every service's file when symbol is NULL. Returns 0 or the
 * exit status, after printing what went wrong and what to do. */
int cli_schema_load(const char *verb, const cli_schema *s, hvrpc_client *c,
                    const char *uri, const char *symbol,
                    const hvrpc_call_options *copts, hvrpc_json_pool **out);

/* Prints "STATUS_NAME: message" on stderr; returns the code as the exit
 * status (what every verb does with a failed call). */
int cli_report(const hvrpc_status *st);

/* True when colour is wanted on stdout: a terminal, and NO_COLOR unset. */
bool cli_color(void);

#endif /* HVRPC_CLI_SCHEMA_H */
