/*
 * cmd_call.c - `hvrpc call`: one unary call, request bytes from stdin (or
 * --hex), reply bytes to stdout, the status code as the exit status.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hvrpc/hvrpc.h>

#include "cli.h"

typedef struct call_opts {
    const char *uri;
    const char *service; /* split from SERVICE/METHOD, in place */
    const char *method;
    const char *hex;          /* NULL: the request comes from stdin */
    hvrpc_metadata *metadata; /* n_metadata used, argc allocated */
    size_t n_metadata;
    hvrpc_client_options client;
    hvrpc_call_options call;
} call_opts;

/* Splits "SERVICE/METHOD" (a leading '/', as in gRPC's "/pkg.Svc/Method",
 * is allowed) at its last '/'. argv strings are ours to modify. */
static void split_method(char *text, call_opts *o)
{
    char *slash;

    if (*text == '/')
        text++;
    slash = strrchr(text, '/');
    if (slash == NULL || slash == text || slash[1] == '\0')
        cli_usage("call",
                  "'%s' is not SERVICE/METHOD "
                  "(e.g. hvrpc.echo.v1.Echo/Echo)",
                  text);
    *slash = '\0';
    o->service = text;
    o->method = slash + 1;
}

/* "key:value" -> one metadata entry, split in place at the first ':'. */
static void add_metadata(char *text, call_opts *o)
{
    char *colon = strchr(text, ':');

    if (colon == NULL || colon == text)
        cli_usage("call", "-H '%s': expected KEY:VALUE", text);
    *colon = '\0';
    o->metadata[o->n_metadata].key = text;
    o->metadata[o->n_metadata].value = colon + 1;
    o->n_metadata++;
}

/* The value of a character isxdigit() accepted. */
static int hex_value(char c)
{
    return isdigit((unsigned char)c) ? c - '0'
                                     : tolower((unsigned char)c) - 'a' + 10;
}

/* Checks --hex while arguments are parsed, so decoding meets no bad digit. */
static void check_hex(const char *hex)
{
    size_t digits = 0;

    for (const char *p = hex; *p != '\0'; p++) {
        if (isspace((unsigned char)*p))
            continue;
        if (!isxdigit((unsigned char)*p))
            cli_usage("call", "--hex: '%c' is not a hex digit", *p);
        digits++;
    }
    if (digits % 2 != 0)
        cli_usage("call", "--hex: odd number of hex digits");
}

/* Decodes a checked --hex string into *out (malloc'd, len may be 0). */
static int decode_hex(const char *hex, hvrpc_buf *out)
{
    int high = -1;

    out->len = 0;
    out->data = malloc(strlen(hex) / 2 + 1);
    if (out->data == NULL)
        return cli_out_of_memory("call");
    for (const char *p = hex; *p != '\0'; p++) {
        if (isspace((unsigned char)*p))
            continue;
        if (high < 0) {
            high = hex_value(*p);
        } else {
            out->data[out->len++] = (uint8_t)(high << 4 | hex_value(*p));
            high = -1;
        }
    }
    return 0;
}

/* Reads all of stdin into *out (malloc'd). At most limit bytes are kept:
 * more than the largest frame cannot be sent anyway, and one byte over is
 * enough for hvrpc_client_call() to refuse it with RESOURCE_EXHAUSTED. */
static int read_stdin(size_t limit, hvrpc_buf *out)
{
    size_t cap = 0;

    out->data = NULL;
    out->len = 0;
    for (;;) {
        size_t n;

        if (out->len == cap) {
            size_t new_cap = cap == 0 ? 4096 : cap * 2;
            uint8_t *p;

            if (new_cap > limit)
                new_cap = limit;
            if (new_cap == cap)
                break; /* limit reached */
            p = realloc(out->data, new_cap);
            if (p == NULL)
                return cli_out_of_memory("call");
            out->data = p;
            cap = new_cap;
        }
        n = fread(out->data + out->len, 1, cap - out->len, stdin);
        out->len += n;
        if (n == 0) {
            if (ferror(stdin)) {
                fprintf(stderr, "hvrpc: call: reading stdin: %s\n",
                        strerror(errno));
                return CLI_EXIT_IOERR;
            }
            break; /* end of input */
        }
    }
    return 0;
}

/* Fills *o from the arguments (o->metadata holds argc entries). Returns
 * false when it showed the help instead: nothing more to do. */
static bool parse_call(int argc, char **argv, call_opts *o)
{
    cli_args a;
    char *arg;
    char *value;
    bool is_option;
    int positional = 0;

    cli_args_init(&a, "call", argc, argv);
    while ((arg = cli_args_next(&a, &is_option)) != NULL) {
        if (!is_option) {
            if (positional == 0)
                o->uri = cli_check_address("call", arg);
            else if (positional == 1)
                split_method(arg, o);
            else
                cli_usage("call", "unexpected argument '%s'", arg);
            positional++;
        } else if (cli_args_is_help(&a, arg)) {
            cli_print_help(&cli_verb_call);
            return false;
        } else if (cli_args_value(&a, arg, "--hex", &value)) {
            check_hex(value);
            o->hex = value;
        } else if (cli_args_value(&a, arg, "--timeout", &value)) {
            o->call.timeout_ms =
                cli_parse_u32("call", "--timeout", value, 0, UINT32_MAX);
        } else if (cli_args_value(&a, arg, "--connect-timeout", &value)) {
            o->client.connect_timeout_ms = cli_parse_u32(
                "call", "--connect-timeout", value, 1, UINT32_MAX);
        } else if (cli_args_value(&a, arg, "--max-frame", &value)) {
            o->client.max_frame =
                cli_parse_u32("call", "--max-frame", value, HVRPC_MIN_MAX_FRAME,
                              HVRPC_MAX_MAX_FRAME);
        } else if (cli_args_value(&a, arg, "--header", &value) ||
                   cli_args_value(&a, arg, "-H", &value)) {
            add_metadata(value, o);
        } else {
            cli_args_unknown(&a, arg);
        }
    }
    if (positional < 2)
        cli_usage("call", "expected URI SERVICE/METHOD");
    return true;
}

/* Prints a failed call's status the way scripts and people read it. */
static int report(const hvrpc_status *st)
{
    fprintf(stderr, "%s: %s\n", hvrpc_code_name(st->code),
            st->message[0] != '\0' ? st->message : hvrpc_strerror(st->code));
    return (int)st->code;
}

static int do_call(const call_opts *o, const hvrpc_buf *req)
{
    hvrpc_client *client;
    hvrpc_buf resp = {NULL, 0};
    hvrpc_status st;

    if (hvrpc_client_connect(o->uri, &o->client, &client, &st) != HVRPC_OK)
        return report(&st);
    if (hvrpc_client_call(client, o->service, o->method, req->data, req->len,
                          &o->call, &resp, &st) != HVRPC_OK) {
        hvrpc_client_free(client);
        return report(&st);
    }
    hvrpc_client_free(client);
    /* Write errors are caught when main() flushes stdout. */
    if (resp.len > 0)
        fwrite(resp.data, 1, resp.len, stdout);
    hvrpc_buf_free(&resp);
    return 0;
}

static int run_call(int argc, char **argv)
{
    call_opts o = {0};
    hvrpc_buf req = {NULL, 0};
    int status = 0;

    o.metadata = calloc((size_t)argc, sizeof(*o.metadata));
    if (o.metadata == NULL)
        return cli_out_of_memory("call");
    hvrpc_client_options_init(&o.client);
    o.call = (hvrpc_call_options)HVRPC_CALL_OPTIONS_INIT;
    if (parse_call(argc, argv, &o)) {
        o.call.metadata = o.metadata;
        o.call.n_metadata = o.n_metadata;
        if (o.hex != NULL)
            status = decode_hex(o.hex, &req);
        else
            status = read_stdin((size_t)o.client.max_frame + 1, &req);
        if (status == 0)
            status = do_call(&o, &req);
    }
    free(req.data);
    free(o.metadata);
    return status;
}

const cli_verb cli_verb_call = {
    "call",
    "make one call: request bytes from stdin, reply bytes to stdout",
    "Usage: hvrpc call URI SERVICE/METHOD [--hex HEX] [-H KEY:VALUE ...]\n"
    "                  [--timeout MS] [--connect-timeout MS]\n"
    "                  [--max-frame BYTES] [< REQUEST]\n"
    "\n"
    "Connects to URI, calls METHOD of SERVICE (the full proto name, e.g.\n"
    "hvrpc.echo.v1.Echo/Echo) with the request payload, the serialized\n"
    "protobuf request message, read from stdin (or given with --hex), and\n"
    "writes the reply payload bytes to stdout. A call that does not end OK\n"
    "prints 'STATUS_NAME: message' on stderr and exits with its status code.\n"
    "\n"
    "Options:\n"
    "  --hex HEX              the request payload in hex (whitespace ignored;\n"
    "                         '' is an empty payload); stdin is not read\n"
    "  -H, --header KEY:VALUE request metadata, split at the first ':';\n"
    "                         repeat for more (keys may repeat)\n"
    "  --timeout MS           the call's deadline, also sent to the server;\n"
    "                         0 means none (default)\n"
    "  --connect-timeout MS   give up connecting after MS (default 5000)\n"
    "  --max-frame BYTES      largest frame sent or received, 1024-1073741824\n"
    "                         (default 4194304, 4 MiB)\n"
    "  -h, --help             this text\n"
    "\n"
    "Examples (from the source tree; protoc turns text into protobuf bytes):\n"
    "  echo 'payload: \"hi\"' |\n"
    "    protoc --encode=hvrpc.echo.v1.EchoRequest -I proto -I /usr/include "
    "\\\n"
    "      proto/hvrpc/echo/v1/echo.proto |\n"
    "    hvrpc call vsock://host:5000 hvrpc.echo.v1.Echo/Echo -H trace:42 |\n"
    "    protoc --decode=hvrpc.echo.v1.EchoResponse -I proto -I /usr/include "
    "\\\n"
    "      proto/hvrpc/echo/v1/echo.proto\n"
    "  hvrpc call unix:///tmp/echo.sock hvrpc.echo.v1.Echo/Echo --hex "
    "0a026869\n"
    "  hvrpc call tcp://127.0.0.1:7000 hvrpc.echo.v1.Echo/Echo --hex 2005\n"
    "      (fail_code: 5, so this prints 'NOT_FOUND: ...' and exits 5)\n"
    "  hvrpc call vsock://3:5000 ...          (host -> guest with CID 3)\n"
    "  hvrpc call hybrid+vsock:///run/fc/v.sock:5000 ...  (Firecracker host)\n"
    "  hvrpc call hvsock://VMID/vsock:5000 ...            (Windows host)\n"
    "\n"
    "Exit statuses:\n"
    "  0      OK; the reply payload is on stdout\n"
    "  1-16   the call's status code, e.g. 14 UNAVAILABLE (cannot connect),\n"
    "         4 DEADLINE_EXCEEDED (--timeout or --connect-timeout passed),\n"
    "         12 UNIMPLEMENTED (no such service or method)\n"
    "  64     bad arguments\n"
    "  74     reading stdin or writing stdout failed\n",
    run_call,
};
