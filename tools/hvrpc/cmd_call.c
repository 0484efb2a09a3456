/*
 * cmd_call.c - `hvrpc call`: one unary call, request bytes from stdin (or
 * --hex), reply bytes to stdout, the status code as the exit status.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hvrpc/hvrpc.h>

#include "schema.h"

typedef struct call_opts {
    const char *uri;
    const char *service; /* split from SERVICE/METHOD, in place */
    const char *method;
    const char *hex;          /* NULL: the request comes from stdin */
    hvrpc_metadata *metadata; /* n_metadata used, argc allocated */
    size_t n_metadata;
    hvrpc_client_options client;
    hvrpc_call_options call;
    /* The JSON mode: -d, --format json|text, --proto, --protoset. */
    const char *data;   /* -d: JSON text, @FILE or @- */
    const char *format; /* NULL: raw bytes unless -d (then json) */
    bool emit_defaults;
    cli_schema schema;
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
static int read_stream(FILE *in, size_t limit, hvrpc_buf *out)
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
        n = fread(out->data + out->len, 1, cap - out->len, in);
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
        } else if (cli_args_value(&a, arg, "--max-frame", &value) ||
                   cli_args_value(&a, arg, "--max-msg-size", &value)) {
            o->client.max_frame =
                cli_parse_u32("call", "--max-msg-size", value,
                              HVRPC_MIN_MAX_FRAME, HVRPC_MAX_MAX_FRAME);
        } else if (cli_args_value(&a, arg, "--data", &value) ||
                   cli_args_value(&a, arg, "-d", &value)) {
            o->data = value;
        } else if (cli_args_value(&a, arg, "--format", &value)) {
            if (strcmp(value, "json") != 0 && strcmp(value, "text") != 0 &&
                strcmp(value, "binary") != 0)
                cli_usage("call",
                          "--format '%s': expected json, text or "
                          "binary",
                          value);
            o->format = value;
        } else if (cli_args_flag(&a, arg, "--emit-defaults")) {
            o->emit_defaults = true;
        } else if (cli_schema_option(&o->schema, &a, arg)) {
            continue;
        } else if (cli_args_value(&a, arg, "--header", &value) ||
                   cli_args_value(&a, arg, "-H", &value)) {
            add_metadata(value, o);
        } else {
            cli_args_unknown(&a, arg);
        }
    }
    if (positional < 2)
        cli_usage("call", "expected URI SERVICE/METHOD");
    if (o->hex != NULL && o->data != NULL)
        cli_usage("call", "--hex and -d: give the request one way");
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

/* True when the call goes through the schema (JSON in or text out). */
static bool schema_mode(const call_opts *o)
{
    return o->data != NULL || cli_schema_from_files(&o->schema) ||
           (o->format != NULL && strcmp(o->format, "binary") != 0);
}

/* Whether a --format text request is text format: JSON always starts
 * with '{' (a request is a message), the text format never does, so an
 * old `-d '{...}' --format text` still means JSON in, text out. */
static bool text_request(const hvrpc_buf *in)
{
    for (size_t i = 0; i < in->len; i++) {
        if (!isspace(in->data[i]))
            return in->data[i] != '{';
    }
    return true; /* empty: the empty message */
}

/* -d's request text: the argument, @FILE or @- (stdin). */
static int read_data(const call_opts *o, hvrpc_buf *out)
{
    if (o->data[0] != '@') {
        out->len = strlen(o->data);
        out->data = (uint8_t *)strdup(o->data);
        return out->data != NULL ? 0 : cli_out_of_memory("call");
    }
    if (strcmp(o->data, "@-") == 0)
        return read_stream(stdin, (size_t)o->client.max_frame * 4 + 1, out);
    FILE *f = fopen(o->data + 1, "rb");
    if (f == NULL) {
        fprintf(stderr, "hvrpc: call: -d %s: %s\n", o->data, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    int status = read_stream(f, (size_t)o->client.max_frame * 4 + 1, out);
    fclose(f);
    return status;
}

static int do_call_json(call_opts *o)
{
    const bool json_out = o->format == NULL || strcmp(o->format, "json") == 0;
    const bool text_out = o->format != NULL && strcmp(o->format, "text") == 0;
    hvrpc_client *client = NULL;
    hvrpc_json_pool *pool = NULL;
    hvrpc_json_method m;
    hvrpc_buf in = {NULL, 0}, req = {NULL, 0}, resp = {NULL, 0};
    hvrpc_status st;
    char *out = NULL;
    char symbol[512];
    int status;

    if (hvrpc_client_connect(o->uri, &o->client, &client, &st) != HVRPC_OK)
        return report(&st);
    snprintf(symbol, sizeof(symbol), "%s", o->service);
    status = cli_schema_load("call", &o->schema, client, o->uri, symbol,
                             &o->call, &pool);
    if (status != 0)
        goto done;
    if (hvrpc_json_pool_method(pool, o->service, o->method, &m, &st) !=
        HVRPC_OK) {
        fprintf(stderr,
                "hvrpc: call: %s ('hvrpc list %s%s%s' shows the "
                "methods)\n",
                st.message, o->uri, st.message[0] == 's' ? " " : "",
                st.message[0] == 's' ? o->service : "");
        status = (int)st.code;
        goto done;
    }
    if (m.client_streaming || m.server_streaming) {
        fprintf(stderr,
                "hvrpc: call: %s/%s is a streaming method: 'hvrpc "
                "call' makes unary calls\n",
                o->service, o->method);
        status = HVRPC_UNIMPLEMENTED;
        goto done;
    }
    if (o->hex != NULL) {
        status = decode_hex(o->hex, &req);
    } else {
        if (o->data == NULL) {
            o->data = "@-";
            if (isatty(STDIN_FILENO))
                fprintf(stderr,
                        "hvrpc: call: reading the %s request as %s "
                        "from stdin (end with Ctrl-D; -d '%s' sends "
                        "an empty one)\n",
                        m.input_type, text_out ? "text format" : "JSON",
                        text_out ? "" : "{}");
        }
        status = read_data(o, &in);
        if (status == 0) {
            bool as_text = text_out && text_request(&in);
            hvrpc_code code =
                as_text ? hvrpc_json_text_to_binary(pool, m.input_type,
                                                    (const char *)in.data,
                                                    in.len, &req, &st)
                        : hvrpc_json_to_binary(pool, m.input_type,
                                               (const char *)in.data, in.len,
                                               &req, &st);
            if (code != HVRPC_OK) {
                fprintf(stderr,
                        "hvrpc: call: request (%s, as %s): %s ('hvrpc "
                        "describe %s %s' shows its fields)\n",
                        m.input_type, as_text ? "text format" : "JSON",
                        st.message, o->uri, m.input_type);
                status = (int)code;
            }
        }
    }
    if (status != 0)
        goto done;
    if (hvrpc_client_call(client, o->service, o->method, req.data, req.len,
                          &o->call, &resp, &st) != HVRPC_OK) {
        status = report(&st);
        goto done;
    }
    if (json_out || text_out) {
        unsigned flags = (cli_color() ? HVRPC_JSON_COLOR : 0) |
                         (o->emit_defaults ? HVRPC_JSON_EMIT_DEFAULTS : 0);
        hvrpc_code code =
            text_out
                ? hvrpc_json_text_from_binary(pool, m.output_type, resp.data,
                                              resp.len, flags, &out, &st)
                : hvrpc_json_from_binary(pool, m.output_type, resp.data,
                                         resp.len, flags, &out, &st);
        if (code != HVRPC_OK) {
            fprintf(stderr, "hvrpc: call: reply (%s): %s\n", m.output_type,
                    st.message);
            status = (int)code;
            goto done;
        }
        fputs(out, stdout);
    } else if (resp.len > 0) {
        fwrite(resp.data, 1, resp.len, stdout);
    }
done:
    free(out);
    hvrpc_buf_free(&resp);
    free(req.data);
    free(in.data);
    hvrpc_json_pool_free(pool);
    hvrpc_client_free(client);
    return status;
}

static int run_call(int argc, char **argv)
{
    call_opts o = {0};
    hvrpc_buf req = {NULL, 0};
    int status = 0;

    o.metadata = calloc((size_t)argc, sizeof(*o.metadata));
    if (o.metadata == NULL || !cli_schema_init(&o.schema, argc)) {
        free(o.metadata);
        cli_schema_free(&o.schema);
        return cli_out_of_memory("call");
    }
    hvrpc_client_options_init(&o.client);
    o.call = (hvrpc_call_options)HVRPC_CALL_OPTIONS_INIT;
    if (parse_call(argc, argv, &o)) {
        o.call.metadata = o.metadata;
        o.call.n_metadata = o.n_metadata;
        if (schema_mode(&o))
            status = do_call_json(&o);
        else if (o.hex != NULL)
            status = decode_hex(o.hex, &req);
        else
            status = read_stream(stdin, (size_t)o.client.max_frame + 1, &req);
        if (status == 0 && !schema_mode(&o))
            status = do_call(&o, &req);
    }
    cli_schema_free(&o.schema);
    free(req.data);
    free(o.metadata);
    return status;
}

const cli_verb cli_verb_call = {
    "call",
    "make one call, with JSON (-d) or raw protobuf bytes",
    "Usage: hvrpc call URI SERVICE/METHOD -d JSON|@FILE|@- [OPTIONS]\n"
    "       hvrpc call URI SERVICE/METHOD [--hex HEX] [OPTIONS] [< REQUEST]\n"
    "\n"
    "Connects to URI and calls METHOD of SERVICE (the full proto name, e.g.\n"
    "hvrpc.echo.v1.Echo/Echo).\n"
    "\n"
    "With -d (or --format json|text, --proto, --protoset) the request is JSON\n"
    "(proto3 JSON mapping: lowerCamelCase or .proto field names, 64-bit\n"
    "integers as strings, bytes as base64, enums by name), checked against\n"
    "the method's input type, and the reply is printed as JSON. With\n"
    "--format text both are protobuf text format, as protoc --encode reads\n"
    "and --decode prints it ('name: \"x\" items { count: 2 }'); a request\n"
    "that starts with '{' is still taken as JSON.\n"
    "The schema comes from the server's reflection service, which every\n"
    "'hvrpc serve' has, or from --proto / --protoset. A request that does\n"
    "not fit the type is refused before anything is sent, naming the place:\n"
    "'$.items[2].count: 3000000000 is out of range for int32'.\n"
    "\n"
    "Without them, the request payload is the serialized protobuf message,\n"
    "read from stdin (or given with --hex), and the reply payload bytes go\n"
    "to stdout. A call that does not end OK prints 'STATUS_NAME: message' on\n"
    "stderr and exits with its status code.\n"
    "\n"
    "Options:\n"
    "  -d, --data JSON|@FILE|@-  the request as JSON (or text format with\n"
    "                         --format text): the text itself, a file, or\n"
    "                         stdin\n"
    "  --format json|text|binary  the request and reply as JSON (default\n"
    "                         with -d), as protobuf text format, or the\n"
    "                         reply as raw bytes (the request then JSON)\n"
    "  --emit-defaults        print fields that hold their default value too\n"
    "  --proto FILE           the schema from a .proto (run through protoc;\n"
    "                         repeatable) instead of reflection\n"
    "  -I, --import-path DIR  where --proto's imports are (repeatable)\n"
    "  --protoset FILE        the schema from a descriptor set (protoc\n"
    "                         --include_imports --descriptor_set_out=FILE)\n"
    "  --hex HEX              the request payload in hex (whitespace ignored;\n"
    "                         '' is an empty payload); stdin is not read\n"
    "  -H, --header KEY:VALUE request metadata, split at the first ':';\n"
    "                         repeat for more (keys may repeat)\n"
    "  --timeout MS           the call's deadline, also sent to the server;\n"
    "                         0 means none (default)\n"
    "  --connect-timeout MS   give up connecting after MS (default 5000)\n"
    "  --max-msg-size BYTES   largest frame sent or received, 1024-1073741824\n"
    "                         (default 4194304, 4 MiB; alias --max-frame)\n"
    "  -h, --help             this text\n"
    "\n"
    "Examples:\n"
    "  hvrpc call unix:///tmp/echo.sock hvrpc.echo.v1.Echo/Echo \\\n"
    "      -d '{\"payload\": \"aGk=\"}' -H trace:42\n"
    "  hvrpc call vsock://host:5000 hvrpc.echo.v1.Echo/Echo -d @request.json\n"
    "  echo '{\"failCode\": 5}' | hvrpc call tcp://127.0.0.1:7000 \\\n"
    "      hvrpc.echo.v1.Echo/Echo -d @-     (prints 'NOT_FOUND: ...', exits "
    "5)\n"
    "  hvrpc call vsock://3:5000 demo.v1.Greeter/SayHello -d "
    "'{\"name\":\"x\"}' \\\n"
    "      --proto demo/v1/greeter.proto -I proto\n"
    "  hvrpc call unix:///tmp/echo.sock hvrpc.echo.v1.Echo/Echo "
    "--format text \\\n"
    "      -d 'payload: \"hi\" delay_ms: 10'\n"
    "  hvrpc call unix:///tmp/echo.sock hvrpc.echo.v1.Echo/Echo --hex "
    "0a026869\n"
    "  hvrpc call hybrid+vsock:///run/fc/v.sock:5000 ...  (Firecracker host)\n"
    "  hvrpc call hvsock://VMID/vsock:5000 ...            (Windows host)\n"
    "\n"
    "Exit statuses:\n"
    "  0      OK; the reply is on stdout\n"
    "  1-16   the call's status code, e.g. 14 UNAVAILABLE (cannot connect),\n"
    "         4 DEADLINE_EXCEEDED (--timeout or --connect-timeout passed),\n"
    "         12 UNIMPLEMENTED (no such service or method, or no reflection:\n"
    "         use --proto), 5 NOT_FOUND (no such method in the schema);\n"
    "         3 INVALID_ARGUMENT also when the JSON or text does not fit\n"
    "         the input type (nothing was sent)\n"
    "  64     bad arguments\n"
    "  74     reading stdin or writing stdout failed\n",
    run_call,
};
