/*
 * cmd_list.c - `hvrpc list`, `hvrpc describe` and `hvrpc health`: what a
 * server serves, the schema behind it, and whether it is healthy.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grpc/health/v1/health.hvrpc.h"
#include "hvrpc/reflection/v1/reflection.hvrpc.h"
#include "schema.h"

typedef struct query_opts {
    const char *uri;
    const char *operand; /* SERVICE or SYMBOL; may be NULL */
    cli_schema schema;
    hvrpc_client_options client;
    hvrpc_call_options call;
    bool watch; /* health --watch */
} query_opts;

/* Parses URI [OPERAND] and the shared options. Returns false after the
 * help. need_operand: OPERAND is required. */
static bool parse_query(const cli_verb *v, int argc, char **argv,
                        bool need_operand, bool schema_options, query_opts *o)
{
    cli_args a;
    char *arg, *value;
    bool is_option;
    int positional = 0;

    cli_args_init(&a, v->name, argc, argv);
    while ((arg = cli_args_next(&a, &is_option)) != NULL) {
        if (!is_option) {
            if (positional == 0)
                o->uri = arg; /* checked below */
            else if (positional == 1)
                o->operand = arg;
            else
                cli_usage(v->name, "unexpected argument '%s'", arg);
            positional++;
        } else if (cli_args_is_help(&a, arg)) {
            cli_print_help(v);
            return false;
        } else if (schema_options && cli_schema_option(&o->schema, &a, arg)) {
            continue;
        } else if (cli_args_value(&a, arg, "--timeout", &value)) {
            o->call.timeout_ms =
                cli_parse_u32(v->name, "--timeout", value, 0, UINT32_MAX);
        } else if (cli_args_value(&a, arg, "--connect-timeout", &value)) {
            o->client.connect_timeout_ms = cli_parse_u32(
                v->name, "--connect-timeout", value, 1, UINT32_MAX);
        } else if (v == &cli_verb_health && cli_args_flag(&a, arg, "--watch")) {
            o->watch = true;
        } else {
            cli_args_unknown(&a, arg);
        }
    }
    /* With --proto or --protoset no server is needed: a lone argument
     * that is no address is the SERVICE or SYMBOL. */
    if (positional == 1 && cli_schema_from_files(&o->schema)) {
        hvrpc_address addr;

        if (hvrpc_address_parse(o->uri, &addr, NULL) != HVRPC_OK) {
            o->operand = o->uri;
            o->uri = NULL;
        }
    }
    if (o->uri != NULL)
        cli_check_address(v->name, o->uri);
    if (positional < 1 && !cli_schema_from_files(&o->schema))
        cli_usage(v->name, "expected URI%s (see 'hvrpc help %s')",
                  need_operand ? " SYMBOL" : " [SERVICE]", v->name);
    if (need_operand && o->operand == NULL)
        cli_usage(v->name, "expected URI SYMBOL (see 'hvrpc help %s')",
                  v->name);
    return true;
}

/* Connects unless the schema comes from files alone and no URI was
 * given. Returns 0 or the exit status. */
static int connect_for(const char *verb, query_opts *o, hvrpc_client **c)
{
    hvrpc_status st;

    *c = NULL;
    if (o->uri == NULL)
        return 0;
    if (hvrpc_client_connect(o->uri, &o->client, c, &st) != HVRPC_OK) {
        fprintf(stderr, "hvrpc: %s: cannot connect to %s: ", verb, o->uri);
        return cli_report(&st);
    }
    return 0;
}

static int init_query(query_opts *o, int argc)
{
    memset(o, 0, sizeof(*o));
    hvrpc_client_options_init(&o->client);
    o->call = (hvrpc_call_options)HVRPC_CALL_OPTIONS_INIT;
    return cli_schema_init(&o->schema, argc) ? 0 : cli_out_of_memory("list");
}

/* `hvrpc list URI`: the services, from reflection (no schema needed). */
static int list_services(query_opts *o, hvrpc_client *c)
{
    Hvrpc__Reflection__V1__ListServicesRequest req =
        HVRPC__REFLECTION__V1__LIST_SERVICES_REQUEST__INIT;
    Hvrpc__Reflection__V1__ListServicesResponse *resp;
    hvrpc_status st;

    if (hvrpc__reflection__v1__reflection__list_services_call(
            c, &req, &resp, &o->call, &st) != HVRPC_OK) {
        if (st.code == HVRPC_UNIMPLEMENTED) {
            fprintf(stderr,
                    "hvrpc: list: %s does not serve "
                    "hvrpc.reflection.v1.Reflection: list the services of a "
                    "file with 'hvrpc list --proto FILE'\n",
                    o->uri);
            return (int)st.code;
        }
        return cli_report(&st);
    }
    for (size_t i = 0; i < resp->n_services; i++)
        printf("%s\n", resp->services[i]->name);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return 0;
}

static int print_methods(const hvrpc_json_pool *pool, const char *service)
{
    const char *file;
    char *text;
    hvrpc_status st;

    if (hvrpc_json_pool_find(pool, service, &file) != HVRPC_JSON_SERVICE) {
        fprintf(stderr,
                "hvrpc: list: no service %s ('hvrpc list URI' shows "
                "the services)\n",
                service);
        return HVRPC_NOT_FOUND;
    }
    /* The methods, one per line, in the SERVICE/METHOD form `call` takes. */
    if (hvrpc_json_describe(pool, service, &text, &st) != HVRPC_OK)
        return cli_report(&st);
    for (char *line = strtok(text, "\n"); line != NULL;
         line = strtok(NULL, "\n")) {
        char *name = strstr(line, "rpc ");
        char *paren = name != NULL ? strchr(name, '(') : NULL;

        if (name == NULL || paren == NULL)
            continue;
        printf("%s/%.*s\n", service, (int)(paren - name - 4), name + 4);
    }
    free(text);
    return 0;
}

static int run_list(int argc, char **argv)
{
    query_opts o;
    hvrpc_client *c = NULL;
    hvrpc_json_pool *pool = NULL;
    int status = init_query(&o, argc);

    if (status != 0 ||
        !parse_query(&cli_verb_list, argc, argv, false, true, &o)) {
        cli_schema_free(&o.schema);
        return status;
    }
    if (!cli_schema_from_files(&o.schema))
        status = connect_for("list", &o, &c);
    if (status == 0 && o.operand == NULL && c != NULL) {
        status = list_services(&o, c);
    } else if (status == 0) {
        status = cli_schema_load("list", &o.schema, c, o.uri, o.operand,
                                 &o.call, &pool);
        if (status == 0 && o.operand != NULL) {
            status = print_methods(pool, o.operand);
        } else if (status == 0) {
            for (size_t i = 0; i < hvrpc_json_pool_service_count(pool); i++)
                printf("%s\n", hvrpc_json_pool_service_name(pool, i));
        }
    }
    hvrpc_json_pool_free(pool);
    hvrpc_client_free(c);
    cli_schema_free(&o.schema);
    return status;
}

static int run_describe(int argc, char **argv)
{
    query_opts o;
    hvrpc_client *c = NULL;
    hvrpc_json_pool *pool = NULL;
    hvrpc_status st;
    char *text = NULL;
    int status = init_query(&o, argc);

    if (status != 0 ||
        !parse_query(&cli_verb_describe, argc, argv, false, true, &o)) {
        cli_schema_free(&o.schema);
        return status;
    }
    if (o.operand == NULL)
        cli_usage("describe", "expected URI SYMBOL (see 'hvrpc help "
                              "describe')");
    if (!cli_schema_from_files(&o.schema))
        status = connect_for("describe", &o, &c);
    if (status == 0)
        status = cli_schema_load("describe", &o.schema, c, o.uri, o.operand,
                                 &o.call, &pool);
    if (status == 0) {
        if (hvrpc_json_describe(pool, o.operand, &text, &st) != HVRPC_OK) {
            fprintf(stderr, "hvrpc: describe: ");
            status = cli_report(&st);
        } else {
            fputs(text, stdout);
        }
    }
    free(text);
    hvrpc_json_pool_free(pool);
    hvrpc_client_free(c);
    cli_schema_free(&o.schema);
    return status;
}

/* What `hvrpc health` prints for a status, and the exit status that goes
 * with it. */
static const char *
status_name(Grpc__Health__V1__HealthCheckResponse__ServingStatus status,
            int *exit_status)
{
    switch (status) {
    case GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING:
        *exit_status = 0;
        return "SERVING";
    case GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING:
        *exit_status = HVRPC_UNAVAILABLE;
        return "NOT_SERVING";
    case GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN:
        *exit_status = HVRPC_NOT_FOUND;
        return "SERVICE_UNKNOWN";
    default:
        *exit_status = HVRPC_UNAVAILABLE;
        return "UNKNOWN";
    }
}

/* How often `health --watch` looks for SIGINT / SIGTERM while it waits. */
#define WATCH_POLL_MS 100

static volatile sig_atomic_t watch_interrupted;

static void on_interrupt(int sig)
{
    (void)sig;
    watch_interrupted = 1;
}

/* `hvrpc health URI [SERVICE] --watch`: a line per status until SIGINT or
 * SIGTERM (exit: the last status's) or the end of the stream. */
static int watch_health(const query_opts *o, hvrpc_client *c,
                        const Grpc__Health__V1__HealthCheckRequest *req)
{
    hvrpc_stream_options so = HVRPC_STREAM_OPTIONS_INIT;
    hvrpc_stream *s = NULL;
    hvrpc_status st;
    hvrpc_code r;
    int status = HVRPC_CANCELLED; /* interrupted before the first status */
    void (*old_int)(int) = signal(SIGINT, on_interrupt);
    void (*old_term)(int) = signal(SIGTERM, on_interrupt);

    so.timeout_ms = o->call.timeout_ms;
    r = grpc__health__v1__health__watch_open(c, req, &so, &s, &st);
    while (r == HVRPC_OK && !watch_interrupted) {
        Grpc__Health__V1__HealthCheckResponse *resp;

        r = grpc__health__v1__health__watch_recv(s, &resp, WATCH_POLL_MS, &st);
        if (r == HVRPC_WOULD_BLOCK) {
            r = HVRPC_OK;
            continue;
        }
        if (r != HVRPC_OK)
            break;
        printf("%s\n", status_name(resp->status, &status));
        protobuf_c_message_free_unpacked(&resp->base, NULL);
        if (fflush(stdout) != 0) {
            status = CLI_EXIT_IOERR;
            break;
        }
    }
    hvrpc_stream_free(s);
    signal(SIGINT, old_int);
    signal(SIGTERM, old_term);
    if (r == HVRPC_OK || r == HVRPC_END)
        return status; /* interrupted, stdout failed, or a clean end */
    if (r == HVRPC_UNIMPLEMENTED) {
        fprintf(stderr,
                "hvrpc: health: %s does not serve "
                "grpc.health.v1.Health/Watch (without --watch, 'hvrpc "
                "health' uses Check)\n",
                o->uri);
        return (int)r;
    }
    fprintf(stderr, "hvrpc: health: ");
    st.code = r;
    return cli_report(&st);
}

static int run_health(int argc, char **argv)
{
    query_opts o;
    hvrpc_client *c = NULL;
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    Grpc__Health__V1__HealthCheckResponse *resp;
    hvrpc_status st;
    int status = init_query(&o, argc);

    if (status != 0 ||
        !parse_query(&cli_verb_health, argc, argv, false, false, &o)) {
        cli_schema_free(&o.schema);
        return status;
    }
    cli_schema_free(&o.schema);
    status = connect_for("health", &o, &c);
    if (status != 0)
        return status;
    req.service = o.operand != NULL ? (char *)o.operand : "";
    if (o.watch) {
        status = watch_health(&o, c, &req);
        hvrpc_client_free(c);
        return status;
    }
    if (grpc__health__v1__health__check_call(c, &req, &resp, &o.call, &st) !=
        HVRPC_OK) {
        hvrpc_client_free(c);
        if (st.code == HVRPC_UNIMPLEMENTED)
            fprintf(stderr,
                    "hvrpc: health: %s does not serve "
                    "grpc.health.v1.Health\n",
                    o.uri);
        else
            status = cli_report(&st);
        return (int)st.code;
    }
    hvrpc_client_free(c);
    printf("%s\n", status_name(resp->status, &status));
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return status;
}

#define CONNECT_OPTIONS                                                        \
    "  --timeout MS           deadline of each call; 0 means none (default)\n" \
    "  --connect-timeout MS   give up connecting after MS (default 5000)\n"

#define SCHEMA_OPTIONS                                                         \
    "  --proto FILE           take the schema from a .proto (run through\n"    \
    "                         protoc; repeat for more) instead of "            \
    "reflection\n"                                                             \
    "  -I, --import-path DIR  where --proto's imports are (repeatable)\n"      \
    "  --protoset FILE        take the schema from a descriptor set (protoc\n" \
    "                         --include_imports --descriptor_set_out=FILE)\n"

const cli_verb cli_verb_list = {
    "list",
    "list the services of an endpoint, or the methods of one",
    "Usage: hvrpc list URI [SERVICE] [OPTIONS]\n"
    "       hvrpc list --proto FILE [-I DIR] [SERVICE]\n"
    "\n"
    "Without SERVICE, prints the services registered on the endpoint at URI,\n"
    "one full name per line, as its reflection service\n"
    "(hvrpc.reflection.v1.Reflection) reports them. With SERVICE, prints its\n"
    "methods as SERVICE/METHOD, the form 'hvrpc call' takes. With --proto or\n"
    "--protoset the schema comes from the files and no server is asked.\n"
    "\n"
    "Options:\n" CONNECT_OPTIONS SCHEMA_OPTIONS
    "  -h, --help             this text\n"
    "\n"
    "Examples:\n"
    "  hvrpc list unix:///tmp/echo.sock\n"
    "  hvrpc list vsock://host:5000 hvrpc.echo.v1.Echo\n"
    "  hvrpc list --proto demo/v1/greeter.proto -I proto\n"
    "\n"
    "Exit statuses:\n"
    "  0      listed\n"
    "  1-16   a call's status code, e.g. 14 UNAVAILABLE (cannot connect),\n"
    "         12 UNIMPLEMENTED (the server has no reflection: use --proto),\n"
    "         5 NOT_FOUND (no such service)\n"
    "  64     bad arguments, or a --proto / --protoset that does not load\n",
    run_list,
};

const cli_verb cli_verb_describe = {
    "describe",
    "show the definition of a service, method, message, enum or field",
    "Usage: hvrpc describe URI SYMBOL [OPTIONS]\n"
    "       hvrpc describe --proto FILE [-I DIR] SYMBOL\n"
    "\n"
    "Prints SYMBOL (a full name: pkg.Service, pkg.Service.Method,\n"
    "pkg.Message, pkg.Message.field, pkg.Enum) as .proto-like text, with\n"
    "the file that defines it, from the server's reflection service or\n"
    "from --proto / --protoset.\n"
    "\n"
    "Options:\n" CONNECT_OPTIONS SCHEMA_OPTIONS
    "  -h, --help             this text\n"
    "\n"
    "Examples:\n"
    "  hvrpc describe unix:///tmp/echo.sock hvrpc.echo.v1.Echo\n"
    "  hvrpc describe vsock://host:5000 hvrpc.echo.v1.EchoRequest\n"
    "  hvrpc describe --protoset all.protoset demo.v1.HelloReply\n"
    "\n"
    "Exit statuses:\n"
    "  0      described\n"
    "  1-16   a call's status code, e.g. 5 NOT_FOUND (no such symbol),\n"
    "         12 UNIMPLEMENTED (no reflection on the server: use --proto)\n"
    "  64     bad arguments\n",
    run_describe,
};

const cli_verb cli_verb_health = {
    "health",
    "ask an endpoint's grpc.health.v1.Health whether it serves",
    "Usage: hvrpc health URI [SERVICE] [--watch] [OPTIONS]\n"
    "\n"
    "Calls grpc.health.v1.Health/Check for SERVICE (a full name), or for the\n"
    "server as a whole without it, and prints the answer: SERVING,\n"
    "NOT_SERVING, SERVICE_UNKNOWN or UNKNOWN. Fit for a probe: the exit\n"
    "status says it too.\n"
    "\n"
    "With --watch it calls Health/Watch instead and prints the status at\n"
    "once, then a line each time it changes, until interrupted (SIGINT,\n"
    "SIGTERM) or the stream ends (the server stops: NOT_SERVING, then exit\n"
    "14). A SERVICE the endpoint does not serve is SERVICE_UNKNOWN and is\n"
    "watched all the same.\n"
    "\n"
    "Options:\n" CONNECT_OPTIONS
    "  --watch                stream every change (with --timeout: stop\n"
    "                         after MS, exit 4)\n"
    "  -h, --help             this text\n"
    "\n"
    "Examples:\n"
    "  hvrpc health unix:///tmp/echo.sock\n"
    "  hvrpc health vsock://host:5000 hvrpc.echo.v1.Echo\n"
    "  until hvrpc health vsock://3:5000 >/dev/null 2>&1; do sleep 1; done\n"
    "  hvrpc health vsock://3:5000 --watch\n"
    "\n"
    "Exit statuses:\n"
    "  0      SERVING\n"
    "  14     NOT_SERVING or UNKNOWN (UNAVAILABLE), or cannot connect\n"
    "  5      the endpoint does not serve SERVICE (NOT_FOUND)\n"
    "  12     the endpoint has no health service (UNIMPLEMENTED), or with\n"
    "         --watch no Watch method\n"
    "  1-16   otherwise the call's status code\n"
    "  64     bad arguments\n"
    "With --watch, interrupted: the status of the last line printed, as\n"
    "above (1 CANCELLED before the first); the stream ended: its status\n"
    "code (14 when the server stops or the connection goes, 4 when\n"
    "--timeout passed).\n",
    run_health,
};
