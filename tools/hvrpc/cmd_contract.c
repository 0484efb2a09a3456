/*
 * cmd_contract.c - `hvrpc contract`: record, verify, serve (mock) and
 * check contracts (tools/contract, docs/CONTRACTS.md).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hvrpc/hvrpc.h>

#include "hvrpc_contract.h"
#include "schema.h"

/* Exit status when a service does not match its contract, a mock got an
 * unexpected call or a schema change breaks the wire: "the answer is no",
 * as `hvrpc guid` uses it. */
#define EXIT_MISMATCH 1

typedef struct contract_opts {
    const char *operands[2];
    int n_operands;
    const char *listen;
    const char *upstream;
    const char *output;
    const char *service;
    hvrpc_client_options client;
    cli_schema schema;
    bool quiet;
} contract_opts;

static const char usage_text[] =
    "Usage: hvrpc contract verify CONTRACT URI [--proto FILE [-I DIR] | "
    "--protoset FILE]\n"
    "       hvrpc contract serve CONTRACT --listen URI [schema options]\n"
    "       hvrpc contract record --listen URI --upstream URI -o CONTRACT\n"
    "                             [--service NAME] [schema options]\n"
    "       hvrpc contract check OLD NEW [--service NAME] [-I DIR]\n"
    "\n"
    "A contract is a JSON file of the interactions a guest has with one\n"
    "host service: requests, metadata, expected statuses and responses\n"
    "(with matchers), stream messages in order, and the service's schema\n"
    "(docs/CONTRACTS.md).\n"
    "\n"
    "  verify  plays every interaction against the service at URI and\n"
    "          prints each one as 'ok' or 'FAIL' with a line per mismatch:\n"
    "            FAIL 2 greet bob (SayHello)\n"
    "                 $.message: expected \"Hello, bob\", got \"Hi, bob\"\n"
    "  serve   answers the service from the contract (a mock for guest\n"
    "          code: no host, no VM); prints 'listening on URI', serves\n"
    "          until SIGINT or SIGTERM. A call that matches no interaction\n"
    "          fails UNIMPLEMENTED naming the closest one; each is printed\n"
    "          on stderr.\n"
    "  record  a recording proxy: listens on --listen, forwards every call\n"
    "          of the service to --upstream and, on SIGINT or SIGTERM,\n"
    "          writes what passed as a contract to -o. Point the guest\n"
    "          at it with HVRPC_<SERVICE>_ADDR.\n"
    "  check   compares two schemas of a service (descriptor sets from\n"
    "          protoc --descriptor_set_out, .proto files, or contracts)\n"
    "          and prints every change, 'BREAKING: ...' for those that\n"
    "          break peers on the wire (removed methods, changed field\n"
    "          numbers or types, a changed endpoint, changed request or\n"
    "          response types).\n"
    "\n"
    "Options:\n"
    "  --listen URI           where serve / record listen\n"
    "  --upstream URI         the real service record forwards to\n"
    "  -o, --output FILE      the contract record writes\n"
    "  --service NAME         the service (record: needed when the upstream\n"
    "                         serves several; check: one of several)\n"
    "  --proto FILE, -I DIR, --protoset FILE\n"
    "                         the schema, instead of the contract's own\n"
    "                         (verify, serve) or the upstream's reflection\n"
    "                         (record); -I also serves check's .proto files\n"
    "  --connect-timeout MS   give up connecting after MS (default 5000)\n"
    "  -q, --quiet            verify: print only failures and the summary\n"
    "  -h, --help             this text\n"
    "\n"
    "Examples:\n"
    "  hvrpc contract record --listen unix:///tmp/rec.sock \\\n"
    "      --upstream vsock://host:2761 -o greeter.contract.json\n"
    "  hvrpc contract verify greeter.contract.json unix:///tmp/greeter.sock\n"
    "  hvrpc contract serve greeter.contract.json --listen "
    "unix:///tmp/mock.sock\n"
    "  hvrpc contract check old.protoset new.protoset\n"
    "  hvrpc contract check greeter.contract.json proto/demo/v1/greeter.proto "
    "-I proto\n"
    "\n"
    "Exit statuses:\n"
    "  0      verify: every interaction matched; serve: stopped, no\n"
    "         unexpected call; record: the contract was written; check: no\n"
    "         breaking change\n"
    "  1      a mismatch, an unexpected call, a breaking change\n"
    "  2-16   the status code something else failed with (14 UNAVAILABLE:\n"
    "         cannot connect; 5 NOT_FOUND: no such service or file; 3\n"
    "         INVALID_ARGUMENT: a malformed contract, saying where)\n"
    "  64     bad arguments\n";

static bool parse(const char *verb, int argc, char **argv, contract_opts *o)
{
    cli_args a;
    char *arg, *value;
    bool is_option;

    cli_args_init(&a, verb, argc, argv);
    while ((arg = cli_args_next(&a, &is_option)) != NULL) {
        if (!is_option) {
            if (o->n_operands == 2)
                cli_usage(verb, "unexpected argument '%s'", arg);
            o->operands[o->n_operands++] = arg;
        } else if (cli_args_is_help(&a, arg)) {
            fputs(usage_text, stdout);
            return false;
        } else if (cli_args_value(&a, arg, "--listen", &value)) {
            o->listen = cli_check_address(verb, value);
        } else if (cli_args_value(&a, arg, "--upstream", &value)) {
            o->upstream = cli_check_address(verb, value);
        } else if (cli_args_value(&a, arg, "--output", &value) ||
                   cli_args_value(&a, arg, "-o", &value)) {
            o->output = value;
        } else if (cli_args_value(&a, arg, "--service", &value)) {
            o->service = value;
        } else if (cli_args_value(&a, arg, "--connect-timeout", &value)) {
            o->client.connect_timeout_ms =
                cli_parse_u32(verb, "--connect-timeout", value, 1, UINT32_MAX);
        } else if (cli_args_flag(&a, arg, "--quiet") ||
                   cli_args_flag(&a, arg, "-q")) {
            o->quiet = true;
        } else if (cli_schema_option(&o->schema, &a, arg)) {
            continue;
        } else {
            cli_args_unknown(&a, arg);
        }
    }
    return true;
}

/* The contract, with the schema the user named if any (*pool, freed by
 * the caller after the contract). */
static int load_contract(const char *verb, const contract_opts *o,
                         const char *path, hvrpc_json_pool **pool,
                         hvrpc_contract **out)
{
    hvrpc_status st;
    int status;

    *pool = NULL;
    if (cli_schema_from_files(&o->schema)) {
        status =
            cli_schema_load(verb, &o->schema, NULL, NULL, NULL, NULL, pool);
        if (status != 0)
            return status;
    }
    if (hvrpc_contract_load(path, *pool, out, &st) != HVRPC_OK) {
        fprintf(stderr, "hvrpc: %s: %s\n", verb, st.message);
        return (int)st.code;
    }
    return 0;
}

/* --- verify ------------------------------------------------------------ */

static int run_verify(contract_opts *o)
{
    hvrpc_json_pool *pool;
    hvrpc_contract *c = NULL;
    char *report = NULL;
    hvrpc_status st;
    hvrpc_code code;
    int status;

    if (o->n_operands != 2)
        return cli_usage_error("contract verify", "expected CONTRACT URI");
    cli_check_address("contract verify", o->operands[1]);
    status = load_contract("contract verify", o, o->operands[0], &pool, &c);
    if (status != 0) {
        hvrpc_json_pool_free(pool);
        return status;
    }
    code =
        hvrpc_contract_verify_uri(c, o->operands[1], &o->client, &report, &st);
    if (report != NULL) {
        for (char *line = strtok(report, "\n"); line != NULL;
             line = strtok(NULL, "\n")) {
            if (!o->quiet || strncmp(line, "ok ", 3) != 0)
                printf("%s\n", line);
        }
    }
    free(report);
    hvrpc_contract_free(c);
    hvrpc_json_pool_free(pool);
    if (code == HVRPC_OK)
        return 0;
    if (code == HVRPC_FAILED_PRECONDITION) {
        fprintf(stderr, "hvrpc: contract verify: %s: %s\n", o->operands[1],
                st.message);
        return EXIT_MISMATCH;
    }
    fprintf(stderr, "hvrpc: contract verify: %s: ", o->operands[1]);
    return cli_report(&st);
}

/* --- waiting for SIGINT / SIGTERM ----------------------------------------- */

static sigset_t stop_signals;

static void block_stop_signals(void)
{
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
}

/* True once a stop signal came; waits up to 200 ms for one. */
static bool stop_requested(void)
{
    struct timespec ts = {0, 200 * 1000 * 1000};

    return sigtimedwait(&stop_signals, NULL, &ts) > 0;
}

/* --- serve (the mock) ----------------------------------------------------- */

static int run_mock(contract_opts *o)
{
    hvrpc_json_pool *pool;
    hvrpc_contract *c = NULL;
    hvrpc_contract_mock *m = NULL;
    hvrpc_status st;
    size_t shown = 0;
    int status;

    if (o->n_operands != 1 || o->listen == NULL)
        return cli_usage_error("contract serve",
                               "expected CONTRACT --listen URI");
    status = load_contract("contract serve", o, o->operands[0], &pool, &c);
    if (status != 0) {
        hvrpc_json_pool_free(pool);
        return status;
    }
    block_stop_signals();
    if (hvrpc_contract_mock_start(c, o->listen, &m, &st) != HVRPC_OK) {
        fprintf(stderr, "hvrpc: contract serve: %s: ", o->listen);
        status = cli_report(&st);
    } else {
        printf("listening on %s\n", hvrpc_contract_mock_uri(m));
        fflush(stdout);
        for (;;) {
            bool stop = stop_requested();

            while (shown < hvrpc_contract_mock_unexpected_count(m)) {
                char *text = hvrpc_contract_mock_unexpected(m, shown++);

                if (text != NULL)
                    fprintf(stderr, "%s\n", text);
                free(text);
            }
            if (stop)
                break;
        }
        status = shown ? EXIT_MISMATCH : 0;
        fprintf(stderr,
                "info: stopping; %zu unexpected call%s; interactions used:",
                shown, shown == 1 ? "" : "s");
        for (size_t i = 0; i < hvrpc_contract_interaction_count(c); i++)
            fprintf(stderr, " %zu", hvrpc_contract_mock_hits(m, i));
        fputc('\n', stderr);
    }
    hvrpc_contract_mock_free(m);
    hvrpc_contract_free(c);
    hvrpc_json_pool_free(pool);
    return status;
}

/* --- record (a recording proxy) ------------------------------------------- */

typedef struct proxy {
    hvrpc_client *up; /* to the upstream, the recorder attached */
    hvrpc_contract_recorder *rec;
    const char *service;
    hvrpc_service svc;
    hvrpc_method *methods;
    hvrpc_contract_schema_files *files;
} proxy;

/* The remaining time of a deadline (CLOCK_MONOTONIC ns) in ms; 0: none. */
static uint32_t remaining_ms(int64_t deadline)
{
    struct timespec now;
    int64_t left;

    if (deadline == 0)
        return 0;
    clock_gettime(CLOCK_MONOTONIC, &now);
    left = deadline - ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec);
    return left <= 1000000 ? 1 : (uint32_t)(left / 1000000);
}

static void proxy_done(const hvrpc_status *st, const uint8_t *resp, size_t len,
                       void *arg)
{
    hvrpc_call *call = arg;

    if (st->code == HVRPC_OK)
        hvrpc_call_reply(call, resp, len);
    else
        hvrpc_call_fail(call, st->code, "%s", st->message);
}

static void proxy_unary(hvrpc_call *call, const uint8_t *req, size_t len,
                        void *ud)
{
    proxy *p = ud;
    hvrpc_call_options co = HVRPC_CALL_OPTIONS_INIT;
    size_t n = hvrpc_call_metadata_count(call);
    hvrpc_metadata *md = calloc(n + 1, sizeof(*md));
    hvrpc_status st;

    if (md == NULL) {
        hvrpc_call_fail(call, HVRPC_RESOURCE_EXHAUSTED, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++)
        hvrpc_call_metadata_at(call, i, &md[i].key, &md[i].value);
    co.metadata = md;
    co.n_metadata = n;
    co.timeout_ms = remaining_ms(hvrpc_call_deadline(call));
    if (hvrpc_client_call_async(p->up, p->service, hvrpc_call_method(call), req,
                                len, &co, proxy_done, call, &st) != HVRPC_OK)
        hvrpc_call_fail(call, st.code, "%s", st.message);
    free(md);
}

typedef struct pump {
    hvrpc_stream *guest, *up;
    hvrpc_contract_stream_rec *rec;
    atomic_bool stop;
    pthread_mutex_t *mu;
} pump;

/* Guest -> upstream, until the guest's end or the stream's. */
static void *pump_up(void *arg)
{
    pump *u = arg;
    hvrpc_buf msg;
    hvrpc_status st;

    while (!atomic_load(&u->stop)) {
        hvrpc_code code = hvrpc_stream_recv(u->guest, &msg, 100, &st);

        if (code == HVRPC_WOULD_BLOCK)
            continue;
        if (code != HVRPC_OK) {
            if (code == HVRPC_END)
                hvrpc_stream_close_send(u->up, NULL);
            else
                hvrpc_stream_cancel(u->up);
            break;
        }
        pthread_mutex_lock(u->mu);
        hvrpc_contract_recorder_stream_message(u->rec, true, msg.data, msg.len);
        pthread_mutex_unlock(u->mu);
        hvrpc_stream_send(u->up, msg.data, msg.len, HVRPC_WAIT_FOREVER, NULL);
        hvrpc_buf_free(&msg);
    }
    return NULL;
}

static void proxy_stream(hvrpc_stream *guest, void *ud)
{
    proxy *p = ud;
    hvrpc_method_kind kind = hvrpc_stream_kind(guest);
    hvrpc_stream_options so = HVRPC_STREAM_OPTIONS_INIT;
    size_t n = hvrpc_stream_metadata_count(guest), k = 0;
    hvrpc_metadata *md = calloc(n + 1, sizeof(*md));
    hvrpc_buf first = {NULL, 0}, last = {NULL, 0}, msg;
    hvrpc_stream *up = NULL;
    hvrpc_status st, final;
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_t t;
    pump u;

    if (md == NULL) {
        hvrpc_stream_finish(guest, HVRPC_RESOURCE_EXHAUSTED, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        hvrpc_stream_metadata_at(guest, i, &md[k].key, &md[k].value);
        if (strcmp(md[k].key, HVRPC_STREAM_WINDOW_KEY) != 0)
            k++; /* our own client makes its own offer */
    }
    so.metadata = md;
    so.n_metadata = k;
    so.timeout_ms = remaining_ms(hvrpc_stream_deadline(guest));
    u.rec = hvrpc_contract_recorder_stream_begin(
        p->rec, hvrpc_stream_method(guest), md, k);
    if (kind == HVRPC_SERVER_STREAMING) {
        hvrpc_code code = hvrpc_stream_recv(guest, &first, 30000, &st);

        if (code != HVRPC_OK) {
            hvrpc_contract_recorder_stream_end(u.rec, &st);
            free(md);
            hvrpc_stream_finish(
                guest, code == HVRPC_END ? HVRPC_INVALID_ARGUMENT : code,
                "no request");
            return;
        }
        hvrpc_contract_recorder_stream_message(u.rec, true, first.data,
                                               first.len);
    }
    if (hvrpc_client_stream(p->up, p->service, hvrpc_stream_method(guest), kind,
                            first.data, first.len, &so, &up, &st) != HVRPC_OK) {
        hvrpc_buf_free(&first);
        hvrpc_contract_recorder_stream_end(u.rec, &st);
        free(md);
        hvrpc_stream_finish(guest, st.code, "%s", st.message);
        return;
    }
    hvrpc_buf_free(&first);
    u.guest = guest;
    u.up = up;
    atomic_init(&u.stop, false);
    u.mu = &mu;
    bool pumping = kind != HVRPC_SERVER_STREAMING &&
                   pthread_create(&t, NULL, pump_up, &u) == 0;
    hvrpc_status_clear(&final);
    for (;;) {
        hvrpc_code code = hvrpc_stream_recv(up, &msg, 100, &st);

        if (code == HVRPC_WOULD_BLOCK) {
            /* The guest went away or the server is stopping: so does
             * the upstream stream. */
            if (!hvrpc_stream_done(guest))
                continue;
            hvrpc_stream_cancel(up);
            hvrpc_status_set(&final, HVRPC_CANCELLED,
                             "the guest ended the stream");
            break;
        }
        if (code != HVRPC_OK) {
            if (code != HVRPC_END)
                final = st;
            break;
        }
        pthread_mutex_lock(&mu);
        hvrpc_contract_recorder_stream_message(u.rec, false, msg.data, msg.len);
        pthread_mutex_unlock(&mu);
        if (kind == HVRPC_CLIENT_STREAMING) {
            hvrpc_buf_free(&last);
            last = msg; /* the response: sent as the reply at the end */
        } else {
            hvrpc_stream_send(guest, msg.data, msg.len, HVRPC_WAIT_FOREVER,
                              NULL);
            hvrpc_buf_free(&msg);
        }
    }
    atomic_store(&u.stop, true);
    if (pumping)
        pthread_join(t, NULL);
    hvrpc_contract_recorder_stream_end(u.rec, &final);
    hvrpc_stream_free(up);
    free(md);
    if (final.code == HVRPC_OK && kind == HVRPC_CLIENT_STREAMING)
        hvrpc_stream_reply(guest, last.data, last.len);
    else if (final.code == HVRPC_OK)
        hvrpc_stream_finish(guest, HVRPC_OK, NULL);
    else
        hvrpc_stream_finish(guest, final.code, "%s", final.message);
    hvrpc_buf_free(&last);
}

/* The one service to record: --service, else the only one the schema has
 * besides the built-in health and reflection. */
static const char *pick_service(const contract_opts *o,
                                const hvrpc_json_pool *pool)
{
    const char *found = NULL;

    if (o->service != NULL)
        return o->service;
    for (size_t i = 0; i < hvrpc_json_pool_service_count(pool); i++) {
        const char *name = hvrpc_json_pool_service_name(pool, i);

        if (strcmp(name, "grpc.health.v1.Health") == 0 ||
            strcmp(name, "hvrpc.reflection.v1.Reflection") == 0)
            continue;
        if (found != NULL) {
            fprintf(stderr,
                    "hvrpc: contract record: the upstream serves %s and %s: "
                    "say which with --service\n",
                    found, name);
            return NULL;
        }
        found = name;
    }
    if (found == NULL)
        fprintf(stderr, "hvrpc: contract record: the schema has no service: "
                        "give --service and --proto\n");
    return found;
}

static int setup_proxy(proxy *p, const hvrpc_json_pool *pool,
                       hvrpc_server **srv, const char *listen)
{
    hvrpc_json_method m;
    hvrpc_endpoint *ep;
    hvrpc_status st;
    size_t n = 0;
    const char *names[256];

    n = hvrpc_contract_schema_methods(pool, p->service, names, 256);
    p->methods = calloc(n + 1, sizeof(*p->methods));
    if (p->methods == NULL)
        return cli_out_of_memory("contract record");
    for (size_t i = 0; i < n; i++) {
        if (hvrpc_json_pool_method(pool, p->service, names[i], &m, NULL) !=
            HVRPC_OK)
            continue;
        p->methods[p->svc.n_methods].name = m.name;
        p->methods[p->svc.n_methods].kind =
            (hvrpc_method_kind)((m.client_streaming ? 1 : 0) |
                                (m.server_streaming ? 2 : 0));
        if (p->methods[p->svc.n_methods].kind == HVRPC_UNARY)
            p->methods[p->svc.n_methods].handler = proxy_unary;
        else
            p->methods[p->svc.n_methods].stream = proxy_stream;
        p->svc.n_methods++;
    }
    p->svc.name = p->service;
    p->svc.methods = p->methods;
    if (hvrpc_server_create(NULL, srv, &st) != HVRPC_OK ||
        hvrpc_server_listen(*srv, listen, &ep, &st) != HVRPC_OK ||
        hvrpc_server_register(*srv, ep, &p->svc, p, NULL, &st) != HVRPC_OK ||
        hvrpc_contract_serve_schema(*srv, ep, pool, &p->files, &st) !=
            HVRPC_OK ||
        hvrpc_server_start(*srv, &st) != HVRPC_OK) {
        fprintf(stderr, "hvrpc: contract record: %s: ", listen);
        return cli_report(&st);
    }
    char where[600];
    hvrpc_address_format(hvrpc_endpoint_address(ep), where, sizeof(where));
    printf("listening on %s\n", where);
    fflush(stdout);
    return 0;
}

static int run_record(contract_opts *o)
{
    hvrpc_json_pool *pool = NULL;
    hvrpc_client *schema_client = NULL;
    hvrpc_server *srv = NULL;
    proxy p = {0};
    hvrpc_status st;
    int status;

    if (o->n_operands != 0 || o->listen == NULL || o->upstream == NULL ||
        o->output == NULL)
        return cli_usage_error("contract record",
                               "expected --listen URI --upstream URI -o FILE");
    block_stop_signals();
    if (!cli_schema_from_files(&o->schema) &&
        hvrpc_client_connect(o->upstream, &o->client, &schema_client, &st) !=
            HVRPC_OK) {
        fprintf(stderr, "hvrpc: contract record: %s: ", o->upstream);
        return cli_report(&st);
    }
    status = cli_schema_load("contract record", &o->schema, schema_client,
                             o->upstream, o->service, NULL, &pool);
    hvrpc_client_free(schema_client);
    if (status != 0)
        return status;
    p.service = pick_service(o, pool);
    if (p.service == NULL) {
        hvrpc_json_pool_free(pool);
        return HVRPC_NOT_FOUND;
    }
    if (hvrpc_contract_recorder_create(pool, p.service, &p.rec, &st) !=
        HVRPC_OK) {
        hvrpc_json_pool_free(pool);
        fprintf(stderr, "hvrpc: contract record: ");
        return cli_report(&st);
    }
    hvrpc_contract_recorder_attach(p.rec, &o->client);
    if (hvrpc_client_connect(o->upstream, &o->client, &p.up, &st) != HVRPC_OK) {
        fprintf(stderr, "hvrpc: contract record: %s: ", o->upstream);
        status = cli_report(&st);
    } else {
        status = setup_proxy(&p, pool, &srv, o->listen);
    }
    if (status == 0) {
        while (!stop_requested())
            ;
        hvrpc_server_stop(srv);
    }
    hvrpc_server_free(srv);
    hvrpc_client_free(p.up); /* every call observed by now */
    if (status == 0) {
        if (hvrpc_contract_recorder_write(p.rec, o->output, &st) != HVRPC_OK) {
            fprintf(stderr, "hvrpc: contract record: %s: ", o->output);
            status = cli_report(&st);
        } else {
            fprintf(stderr,
                    "info: %zu interaction%s written to %s (%zu call%s "
                    "skipped)\n",
                    hvrpc_contract_recorder_count(p.rec),
                    hvrpc_contract_recorder_count(p.rec) == 1 ? "" : "s",
                    o->output, hvrpc_contract_recorder_skipped(p.rec),
                    hvrpc_contract_recorder_skipped(p.rec) == 1 ? "" : "s");
        }
    }
    hvrpc_contract_recorder_free(p.rec);
    hvrpc_contract_schema_files_free(p.files);
    free(p.methods);
    hvrpc_json_pool_free(pool);
    return status;
}

/* --- check ------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* A schema from a .proto (protoc), a contract (.json) or a descriptor
 * set (anything else). */
static int load_schema(const contract_opts *o, const char *path,
                       hvrpc_json_pool **pool, hvrpc_contract **contract)
{
    cli_schema s = o->schema;
    const char *one[1] = {path};
    hvrpc_status st;

    *pool = NULL;
    *contract = NULL;
    if (ends_with(path, ".json")) {
        if (hvrpc_contract_load(path, NULL, contract, &st) != HVRPC_OK) {
            fprintf(stderr, "hvrpc: contract check: %s\n", st.message);
            return (int)st.code;
        }
        return 0;
    }
    if (ends_with(path, ".proto")) {
        s.protos = one;
        s.n_protos = 1;
        s.n_protosets = 0;
    } else {
        s.protosets = one;
        s.n_protosets = 1;
        s.n_protos = 0;
    }
    return cli_schema_load("contract check", &s, NULL, NULL, NULL, NULL, pool);
}

static int run_check(contract_opts *o)
{
    hvrpc_json_pool *pools[2] = {NULL, NULL};
    hvrpc_contract *contracts[2] = {NULL, NULL};
    const hvrpc_json_pool *use[2];
    const char *service = o->service;
    char *report = NULL;
    size_t breaking = 0;
    hvrpc_status st;
    int status = 0;

    if (o->n_operands != 2)
        return cli_usage_error("contract check", "expected OLD NEW");
    for (int i = 0; i < 2 && status == 0; i++) {
        status = load_schema(o, o->operands[i], &pools[i], &contracts[i]);
        use[i] = contracts[i] ? hvrpc_contract_schema(contracts[i]) : pools[i];
    }
    /* A contract speaks for its own service only. */
    if (status == 0 && service == NULL && contracts[0] != NULL)
        service = hvrpc_contract_service(contracts[0]);
    if (status == 0) {
        if (hvrpc_contract_check(use[0], use[1], service, &report, &breaking,
                                 &st) != HVRPC_OK) {
            fprintf(stderr, "hvrpc: contract check: ");
            status = cli_report(&st);
        } else {
            fputs(report, stdout);
            status = breaking ? EXIT_MISMATCH : 0;
        }
    }
    free(report);
    for (int i = 0; i < 2; i++) {
        hvrpc_contract_free(contracts[i]);
        hvrpc_json_pool_free(pools[i]);
    }
    return status;
}

/* --- the verb ---------------------------------------------------------- */

static int run_contract(int argc, char **argv)
{
    contract_opts o = {0};
    const char *sub = argc > 1 ? argv[1] : NULL;
    char verb[32];
    int status;

    if (sub == NULL)
        return cli_usage_error("contract",
                               "expected verify, serve, record or check (see "
                               "'hvrpc help contract')");
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0) {
        fputs(usage_text, stdout);
        return 0;
    }
    if (strcmp(sub, "verify") != 0 && strcmp(sub, "serve") != 0 &&
        strcmp(sub, "record") != 0 && strcmp(sub, "check") != 0)
        return cli_usage_error("contract",
                               "unknown '%s': expected verify, serve, record "
                               "or check",
                               sub);
    snprintf(verb, sizeof(verb), "contract %s", sub);
    if (!cli_schema_init(&o.schema, argc)) {
        cli_schema_free(&o.schema);
        return cli_out_of_memory("contract");
    }
    hvrpc_client_options_init(&o.client);
    if (!parse(verb, argc - 1, argv + 1, &o)) {
        cli_schema_free(&o.schema);
        return 0;
    }
    if (strcmp(sub, "verify") == 0)
        status = run_verify(&o);
    else if (strcmp(sub, "serve") == 0)
        status = run_mock(&o);
    else if (strcmp(sub, "record") == 0)
        status = run_record(&o);
    else
        status = run_check(&o);
    cli_schema_free(&o.schema);
    return status;
}

const cli_verb cli_verb_contract = {
    "contract",
    "record, verify, mock (serve) and check service contracts",
    usage_text,
    run_contract,
};
