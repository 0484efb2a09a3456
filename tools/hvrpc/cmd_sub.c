/*
 * cmd_sub.c - `hvrpc sub`: subscribe to topic patterns on a bus and print
 * one line per event (hvrpc.bus.v1.Bus, services/bus, docs/BUS.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hvrpc/hvrpc.h>

#include "bus_service.h"
#include "cli.h"

typedef enum sub_format { FORMAT_TEXT, FORMAT_HEX, FORMAT_JSON } sub_format;

typedef struct sub_opts {
    const char *uri;
    char **patterns; /* n_patterns used, argc allocated */
    size_t n_patterns;
    Hvrpc__Bus__V1__SubscribeRequest__Overflow overflow;
    uint32_t queue_size;
    uint32_t count; /* 0: until the stream ends */
    sub_format format;
    hvrpc_client_options client;
    hvrpc_stream_options stream;
} sub_opts;

static const struct {
    const char *name;
    Hvrpc__Bus__V1__SubscribeRequest__Overflow value;
} policies[] = {
    {"drop-oldest", HVRPC__BUS__V1__SUBSCRIBE_REQUEST__OVERFLOW__DROP_OLDEST},
    {"block", HVRPC__BUS__V1__SUBSCRIBE_REQUEST__OVERFLOW__BLOCK},
    {"disconnect", HVRPC__BUS__V1__SUBSCRIBE_REQUEST__OVERFLOW__DISCONNECT},
};

static const char *policy_name(Hvrpc__Bus__V1__SubscribeRequest__Overflow v)
{
    for (size_t i = 0; i < sizeof policies / sizeof policies[0]; i++) {
        if (policies[i].value == v)
            return policies[i].name;
    }
    return "?";
}

/* Syntax only: the broker has the last word on lengths and counts. */
static void check_pattern(const char *pattern)
{
    hvrpc_bus_options lax;
    hvrpc_status st;

    hvrpc_bus_options_init(&lax);
    lax.max_topic_length = 65536;
    lax.max_topic_segments = 65536;
    if (hvrpc_bus_pattern_check(pattern, &lax, &st) != HVRPC_OK)
        cli_usage("sub", "%s (see 'hvrpc help sub')", st.message);
}

static bool parse_sub(int argc, char **argv, sub_opts *o)
{
    cli_args a;
    char *arg;
    char *value;
    bool is_option;

    cli_args_init(&a, "sub", argc, argv);
    while ((arg = cli_args_next(&a, &is_option)) != NULL) {
        if (!is_option) {
            if (o->uri == NULL) {
                o->uri = cli_check_address("sub", arg);
            } else {
                check_pattern(arg);
                o->patterns[o->n_patterns++] = arg;
            }
        } else if (cli_args_is_help(&a, arg)) {
            cli_print_help(&cli_verb_sub);
            return false;
        } else if (cli_args_value(&a, arg, "--policy", &value) ||
                   cli_args_value(&a, arg, "--overflow", &value)) {
            size_t i = 0;
            while (i < sizeof policies / sizeof policies[0] &&
                   strcmp(policies[i].name, value) != 0)
                i++;
            if (i == sizeof policies / sizeof policies[0])
                cli_usage("sub",
                          "--policy '%s': expected block, drop-oldest or "
                          "disconnect",
                          value);
            o->overflow = policies[i].value;
        } else if (cli_args_value(&a, arg, "--queue", &value)) {
            o->queue_size =
                cli_parse_u32("sub", "--queue", value, 1, UINT32_MAX);
        } else if (cli_args_value(&a, arg, "--count", &value) ||
                   cli_args_value(&a, arg, "-n", &value)) {
            o->count = cli_parse_u32("sub", "--count", value, 1, UINT32_MAX);
        } else if (cli_args_value(&a, arg, "--timeout", &value)) {
            o->stream.timeout_ms =
                cli_parse_u32("sub", "--timeout", value, 0, UINT32_MAX);
        } else if (cli_args_value(&a, arg, "--connect-timeout", &value)) {
            o->client.connect_timeout_ms =
                cli_parse_u32("sub", "--connect-timeout", value, 1, UINT32_MAX);
        } else if (cli_args_value(&a, arg, "--format", &value)) {
            if (strcmp(value, "text") == 0)
                o->format = FORMAT_TEXT;
            else if (strcmp(value, "hex") == 0)
                o->format = FORMAT_HEX;
            else if (strcmp(value, "json") == 0)
                o->format = FORMAT_JSON;
            else
                cli_usage("sub", "--format '%s': expected text, hex or json",
                          value);
        } else {
            cli_args_unknown(&a, arg);
        }
    }
    if (o->n_patterns == 0)
        cli_usage("sub", "expected URI PATTERN... (see 'hvrpc help sub')");
    return true;
}

/* True when p is UTF-8 with no control characters: printed as is. */
static bool printable_text(const uint8_t *p, size_t len)
{
    size_t i = 0;

    while (i < len) {
        uint8_t c = p[i];
        size_t more;
        uint32_t cp;

        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            more = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            more = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            more = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (len - i <= more)
            return false;
        for (size_t k = 1; k <= more; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3f);
        }
        /* Overlong forms, surrogates, beyond U+10FFFF, C1 controls. */
        if ((more == 2 && cp < 0x800) || (more == 3 && cp < 0x10000) ||
            (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff ||
            (cp >= 0x80 && cp < 0xa0))
            return false;
        i += more + 1;
    }
    return true;
}

static void print_hex(const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        printf("%02x", p[i]);
}

static void print_json_string(const char *s, size_t len)
{
    putchar('"');
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c < 0x20 || c == 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void print_base64(const uint8_t *p, size_t len)
{
    static const char a[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    putchar('"');
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        size_t n = len - i < 3 ? len - i : 3;

        if (n > 1)
            v |= (uint32_t)p[i + 1] << 8;
        if (n > 2)
            v |= p[i + 2];
        putchar(a[v >> 18 & 63]);
        putchar(a[v >> 12 & 63]);
        putchar(n > 1 ? a[v >> 6 & 63] : '=');
        putchar(n > 2 ? a[v & 63] : '=');
    }
    putchar('"');
}

static const char *str(const char *s)
{
    return s != NULL ? s : "";
}

/* One event, one line. */
static void print_event(const Hvrpc__Bus__V1__Event *e, sub_format format)
{
    if (format == FORMAT_JSON) {
        printf("{\"sequence\":\"%" PRIu64 "\",\"dropped\":\"%" PRIu64
               "\",\"topic\":",
               e->sequence, e->dropped);
        print_json_string(str(e->topic), strlen(str(e->topic)));
        fputs(",\"publisher\":", stdout);
        print_json_string(str(e->publisher), strlen(str(e->publisher)));
        printf(",\"timeUnixNano\":\"%" PRId64 "\",\"headers\":[",
               e->time_unix_nano);
        for (size_t i = 0; i < e->n_headers; i++) {
            const char *k = str(e->headers[i]->key);
            const char *v = str(e->headers[i]->value);

            fputs(i ? ",{\"key\":" : "{\"key\":", stdout);
            print_json_string(k, strlen(k));
            fputs(",\"value\":", stdout);
            print_json_string(v, strlen(v));
            putchar('}');
        }
        fputs("],\"payload\":", stdout);
        print_base64(e->payload.data, e->payload.len);
        fputs("}\n", stdout);
    } else {
        printf("%" PRIu64 " %s %s", e->sequence, str(e->topic),
               str(e->publisher));
        if (e->payload.len > 0) {
            putchar(' ');
            if (format == FORMAT_TEXT &&
                printable_text(e->payload.data, e->payload.len)) {
                fwrite(e->payload.data, 1, e->payload.len, stdout);
            } else {
                fputs("hex:", stdout);
                print_hex(e->payload.data, e->payload.len);
            }
        }
        putchar('\n');
    }
    fflush(stdout);
}

static int run_sub(int argc, char **argv)
{
    sub_opts o = {0};
    Hvrpc__Bus__V1__SubscribeRequest req =
        HVRPC__BUS__V1__SUBSCRIBE_REQUEST__INIT;
    hvrpc_stream_options stream_init = HVRPC_STREAM_OPTIONS_INIT;
    hvrpc_client *c = NULL;
    hvrpc_stream *s = NULL;
    hvrpc_status st;
    uint64_t received = 0, lost = 0;
    hvrpc_code r;
    int status;

    o.patterns = calloc((size_t)argc, sizeof *o.patterns);
    if (o.patterns == NULL)
        return cli_out_of_memory("sub");
    hvrpc_client_options_init(&o.client);
    o.stream = stream_init;
    if (!parse_sub(argc, argv, &o)) {
        free(o.patterns);
        return 0;
    }
    req.patterns = o.patterns;
    req.n_patterns = o.n_patterns;
    req.overflow = o.overflow;
    req.queue_size = o.queue_size;
    r = hvrpc_client_connect(o.uri, &o.client, &c, &st);
    if (r == HVRPC_OK)
        r = hvrpc__bus__v1__bus__subscribe_open(c, &req, &o.stream, &s, &st);
    while (r == HVRPC_OK) {
        Hvrpc__Bus__V1__Event *e;

        r = hvrpc__bus__v1__bus__subscribe_recv(s, &e, HVRPC_WAIT_FOREVER, &st);
        if (r != HVRPC_OK)
            break;
        if (e->kind == HVRPC__BUS__V1__EVENT__KIND__SUBSCRIBED) {
            fprintf(stderr, "hvrpc: sub: subscribed (policy %s)\n",
                    policy_name(o.overflow));
        } else {
            if (e->dropped > lost) {
                fprintf(stderr,
                        "hvrpc: sub: %" PRIu64 " events lost before "
                        "sequence %" PRIu64 " (queue full, policy %s)\n",
                        e->dropped - lost, e->sequence,
                        policy_name(o.overflow));
                lost = e->dropped;
            }
            print_event(e, o.format);
            received++;
        }
        protobuf_c_message_free_unpacked(&e->base, NULL);
        if (o.count != 0 && received == o.count)
            break;
    }
    if (r == HVRPC_OK || r == HVRPC_END) {
        status = 0;
    } else {
        fprintf(stderr, "hvrpc: sub: %s: %s\n", hvrpc_code_name(r), st.message);
        status = (int)r;
    }
    hvrpc_stream_free(s);
    hvrpc_client_free(c);
    free(o.patterns);
    return status;
}

const cli_verb cli_verb_sub = {
    "sub",
    "subscribe to topic patterns on a bus, one line per event",
    "Usage: hvrpc sub URI PATTERN... [--policy drop-oldest|block|disconnect]\n"
    "                 [--queue N] [--count N] [--timeout MS]\n"
    "                 [--format text|hex|json] [--connect-timeout MS]\n"
    "\n"
    "Subscribes to the bus broker at URI (every 'hvrpc serve' is one) and\n"
    "prints each event whose topic matches a PATTERN, one line each:\n"
    "    SEQUENCE TOPIC PUBLISHER PAYLOAD\n"
    "SEQUENCE counts this subscription's events from 1; PUBLISHER is the\n"
    "publisher's identity as the broker saw it (vsock:3:1234,\n"
    "unix:uid=0,gid=0,pid=42, tcp:10.0.0.5:40000); PAYLOAD is printed as is\n"
    "when it is UTF-8 text without control characters, else as hex:DIGITS\n"
    "(nothing for an empty payload). Patterns are topics whose segments may\n"
    "be '*' (any one segment) or, last, '>' (one or more): 'vm.*.heartbeat',\n"
    "'vm.>', '>' (everything). 'subscribed' on stderr says the subscription\n"
    "is in place; events lost to a full queue are a gap in SEQUENCE and a\n"
    "line on stderr ('N events lost before sequence S').\n"
    "\n"
    "Options:\n"
    "  --policy P          when this subscription's queue is full:\n"
    "                      drop-oldest (default) drops the oldest queued\n"
    "                      event; block makes publishers wait (up to their\n"
    "                      deadline; a subscriber that makes no room for the\n"
    "                      broker's block timeout is disconnected);\n"
    "                      disconnect ends the subscription (exit 8)\n"
    "  --queue N           the queue's size in events (default: the\n"
    "                      broker's, 256; at most its maximum, 4096)\n"
    "  -n, --count N       exit 0 after N events\n"
    "  --timeout MS        give up after MS (exit 4); default: never\n"
    "  --format F          text (default), hex (payload always in hex) or\n"
    "                      json (one object per line: proto3 JSON of\n"
    "                      hvrpc.bus.v1.Event, payload in base64)\n"
    "  --connect-timeout MS  connect timeout (default 5000)\n"
    "  -h, --help          this text\n"
    "\n"
    "Examples:\n"
    "  hvrpc sub unix:///tmp/bus.sock '>'\n"
    "  hvrpc sub vsock://host:5001 'vm.*.heartbeat' 'alerts.>' --count 10\n"
    "  hvrpc sub tcp://127.0.0.1:5001 metrics.cpu --policy block --format "
    "json\n"
    "\n"
    "Exit statuses:\n"
    "  0      --count events received, or the broker ended the stream\n"
    "  1-16   the subscription's status code, e.g. 3 INVALID_ARGUMENT: a\n"
    "         pattern the broker refused; 4 DEADLINE_EXCEEDED: --timeout\n"
    "         passed; 8 RESOURCE_EXHAUSTED: too many subscriptions, or the\n"
    "         queue overflowed (policy disconnect, or block with no room\n"
    "         made); 12 UNIMPLEMENTED: no bus there; 14 UNAVAILABLE: cannot\n"
    "         connect, or the broker went away\n"
    "  64     bad arguments (a malformed pattern is refused before "
    "connecting)\n",
    run_sub,
};
