/*
 * cmd_pub.c - `hvrpc pub`: publish one event on a bus (hvrpc.bus.v1.Bus,
 * services/bus, docs/BUS.md).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hvrpc/hvrpc.h>

#include "bus_service.h"
#include "cli.h"

typedef struct pub_opts {
    const char *uri;
    const char *topic;
    const char *data; /* -d: the bytes, @FILE or @-; NULL: empty */
    Hvrpc__Bus__V1__Header *headers; /* n_headers used, argc allocated */
    Hvrpc__Bus__V1__Header **header_ptrs;
    size_t n_headers;
    bool quiet;
    hvrpc_client_options client;
    hvrpc_call_options call;
} pub_opts;

/* "key:value" -> one header, split in place at the first ':'. */
static void add_header(char *text, pub_opts *o)
{
    char *colon = strchr(text, ':');
    Hvrpc__Bus__V1__Header *h = &o->headers[o->n_headers];

    if (colon == NULL || colon == text)
        cli_usage("pub", "-H '%s': expected KEY:VALUE", text);
    *colon = '\0';
    hvrpc__bus__v1__header__init(h);
    h->key = text;
    h->value = colon + 1;
    o->header_ptrs[o->n_headers++] = h;
}

/* Syntax only: the broker has the last word on lengths. */
static void check_topic(const char *topic)
{
    hvrpc_bus_options lax;
    hvrpc_status st;

    hvrpc_bus_options_init(&lax);
    lax.max_topic_length = 65536;
    lax.max_topic_segments = 65536;
    if (hvrpc_bus_topic_check(topic, &lax, &st) != HVRPC_OK)
        cli_usage("pub", "%s (see 'hvrpc help pub')", st.message);
}

static bool parse_pub(int argc, char **argv, pub_opts *o)
{
    cli_args a;
    char *arg;
    char *value;
    bool is_option;
    int positional = 0;

    cli_args_init(&a, "pub", argc, argv);
    while ((arg = cli_args_next(&a, &is_option)) != NULL) {
        if (!is_option) {
            if (positional == 0)
                o->uri = cli_check_address("pub", arg);
            else if (positional == 1)
                o->topic = arg;
            else
                cli_usage("pub", "unexpected argument '%s'", arg);
            positional++;
        } else if (cli_args_is_help(&a, arg)) {
            cli_print_help(&cli_verb_pub);
            return false;
        } else if (cli_args_value(&a, arg, "--data", &value) ||
                   cli_args_value(&a, arg, "-d", &value)) {
            o->data = value;
        } else if (cli_args_value(&a, arg, "--header", &value) ||
                   cli_args_value(&a, arg, "-H", &value)) {
            add_header(value, o);
        } else if (cli_args_value(&a, arg, "--timeout", &value)) {
            o->call.timeout_ms =
                cli_parse_u32("pub", "--timeout", value, 0, UINT32_MAX);
        } else if (cli_args_value(&a, arg, "--connect-timeout", &value)) {
            o->client.connect_timeout_ms =
                cli_parse_u32("pub", "--connect-timeout", value, 1, UINT32_MAX);
        } else if (cli_args_flag(&a, arg, "--quiet") ||
                   cli_args_flag(&a, arg, "-q")) {
            o->quiet = true;
        } else {
            cli_args_unknown(&a, arg);
        }
    }
    if (positional < 2)
        cli_usage("pub", "expected URI TOPIC (see 'hvrpc help pub')");
    check_topic(o->topic);
    return true;
}

/* -d's bytes into *out (malloc'd): the text itself, @FILE or @- (stdin),
 * at most limit bytes (one over is enough for the broker to refuse). */
static int read_payload(const char *data, size_t limit, hvrpc_buf *out)
{
    FILE *in;
    size_t cap = 0;

    out->data = NULL;
    out->len = 0;
    if (data == NULL)
        return 0;
    if (data[0] != '@') {
        out->len = strlen(data);
        out->data = malloc(out->len + 1);
        if (out->data == NULL)
            return cli_out_of_memory("pub");
        memcpy(out->data, data, out->len);
        return 0;
    }
    in = strcmp(data, "@-") == 0 ? stdin : fopen(data + 1, "rb");
    if (in == NULL) {
        fprintf(stderr, "hvrpc: pub: %s: %s\n", data + 1, strerror(errno));
        return CLI_EXIT_IOERR;
    }
    for (;;) {
        size_t n;

        if (out->len == cap) {
            size_t new_cap = cap == 0 ? 4096 : cap * 2;
            uint8_t *p;

            if (new_cap > limit)
                new_cap = limit;
            if (new_cap == cap)
                break;
            p = realloc(out->data, new_cap);
            if (p == NULL) {
                if (in != stdin)
                    fclose(in);
                return cli_out_of_memory("pub");
            }
            out->data = p;
            cap = new_cap;
        }
        n = fread(out->data + out->len, 1, cap - out->len, in);
        out->len += n;
        if (n == 0)
            break;
    }
    if (ferror(in)) {
        fprintf(stderr, "hvrpc: pub: reading %s: %s\n",
                in == stdin ? "stdin" : data + 1, strerror(errno));
        if (in != stdin)
            fclose(in);
        return CLI_EXIT_IOERR;
    }
    if (in != stdin)
        fclose(in);
    return 0;
}

static int run_pub(int argc, char **argv)
{
    pub_opts o = {0};
    Hvrpc__Bus__V1__PublishRequest req = HVRPC__BUS__V1__PUBLISH_REQUEST__INIT;
    Hvrpc__Bus__V1__PublishResponse *resp = NULL;
    hvrpc_client *c = NULL;
    hvrpc_buf payload = {0};
    hvrpc_status st;
    int status;

    o.headers = calloc((size_t)argc, sizeof *o.headers);
    o.header_ptrs = calloc((size_t)argc, sizeof *o.header_ptrs);
    if (o.headers == NULL || o.header_ptrs == NULL) {
        free(o.headers);
        free(o.header_ptrs);
        return cli_out_of_memory("pub");
    }
    hvrpc_call_options call_init = HVRPC_CALL_OPTIONS_INIT;

    hvrpc_client_options_init(&o.client);
    o.call = call_init;
    if (!parse_pub(argc, argv, &o)) {
        status = 0;
        goto out;
    }
    status = read_payload(o.data, (size_t)o.client.max_frame + 1, &payload);
    if (status != 0)
        goto out;
    req.topic = (char *)o.topic;
    req.payload.data = payload.data;
    req.payload.len = payload.len;
    req.headers = o.header_ptrs;
    req.n_headers = o.n_headers;
    if (hvrpc_client_connect(o.uri, &o.client, &c, &st) != HVRPC_OK ||
        hvrpc__bus__v1__bus__publish_call(c, &req, &resp, &o.call, &st) !=
            HVRPC_OK) {
        fprintf(stderr, "hvrpc: pub: %s: %s\n", hvrpc_code_name(st.code),
                st.message);
        status = (int)st.code;
        goto out;
    }
    if (!o.quiet)
        printf("matched %u queued %u displaced %u dropped %u\n", resp->matched,
               resp->queued, resp->displaced, resp->dropped);
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    status = 0;
out:
    hvrpc_client_free(c);
    free(payload.data);
    free(o.headers);
    free(o.header_ptrs);
    return status;
}

const cli_verb cli_verb_pub = {
    "pub",
    "publish an event on a bus (hvrpc.bus.v1.Bus)",
    "Usage: hvrpc pub URI TOPIC [-d DATA|@FILE|@-] [-H KEY:VALUE ...]\n"
    "                 [--timeout MS] [--connect-timeout MS] [-q]\n"
    "\n"
    "Publishes one event on TOPIC through the bus broker at URI (every\n"
    "'hvrpc serve' is one). A topic is dot-separated segments of printable\n"
    "ASCII without '*' and '>': vm.web1.heartbeat. The broker stamps the\n"
    "event with this process's identity as it sees the connection; no\n"
    "header can change that. On success prints one line,\n"
    "    matched M queued Q displaced D dropped X\n"
    "the subscriptions that matched, took the event, dropped an older event\n"
    "for it (drop-oldest), or lost it (docs/BUS.md).\n"
    "\n"
    "Options:\n"
    "  -d, --data DATA|@FILE|@-  the payload: the text itself, a file's "
    "bytes or\n"
    "                            stdin's; without -d it is empty\n"
    "  -H, --header KEY:VALUE    an event header; repeat for more (keys\n"
    "                            starting with hvrpc- are reserved)\n"
    "  --timeout MS              the call's deadline; 0 (default) none. A\n"
    "                            subscriber with overflow BLOCK holds the\n"
    "                            call at most this long and at most the\n"
    "                            broker's block timeout (1 s by default)\n"
    "  --connect-timeout MS      connect timeout (default 5000)\n"
    "  -q, --quiet               print nothing on success\n"
    "  -h, --help                this text\n"
    "\n"
    "Examples:\n"
    "  hvrpc pub unix:///tmp/bus.sock vm.web1.heartbeat\n"
    "  hvrpc pub vsock://host:5001 vm.web1.log -d 'disk 91% full' -H "
    "level:warn\n"
    "  hvrpc pub tcp://127.0.0.1:5001 metrics.cpu -d @sample.bin\n"
    "\n"
    "Exit statuses:\n"
    "  0      published (also when no subscription matched)\n"
    "  1-16   the call's status code, e.g. 3 INVALID_ARGUMENT: the broker\n"
    "         refused the topic or headers; 8 RESOURCE_EXHAUSTED: payload\n"
    "         over the broker's limit; 12 UNIMPLEMENTED: no bus there;\n"
    "         14 UNAVAILABLE: cannot connect\n"
    "  64     bad arguments (a malformed topic is refused before connecting)\n"
    "  74     reading the payload failed\n",
    run_pub,
};
