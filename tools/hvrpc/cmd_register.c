/*
 * cmd_register.c - `hvrpc register`: the Windows registry entry a Hyper-V
 * host needs before it accepts connections to a service GUID:
 *
 *   HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion\Virtualization\
 *       GuestCommunicationServices\<GUID>   with REG_SZ ElementName
 *
 * printed as a .reg file and as PowerShell, for one service (--name with
 * --port or --guid) or for every service of a .proto (--from), using its
 * (hvrpc.vsock_port), (hvrpc.service_guid) and (hvrpc.friendly_name).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hvrpc/guid.h>

#include "schema.h"

#define REG_KEY                                                                \
    "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\"        \
    "GuestCommunicationServices"

typedef struct reg_entry {
    char guid[HVRPC_GUID_STRLEN];
    const char *name;
    uint32_t port;       /* 0: a Windows-only GUID */
    const char *service; /* the proto service, for --from */
} reg_entry;

typedef struct register_opts {
    const char *name;
    const char *port_text;
    const char *guid_text;
    const char *from;
    cli_schema schema;
    bool reg_only, ps_only, apply;
} register_opts;

/* A .reg string: backslash and quote escaped. */
static void reg_string(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        if (*s == '\\' || *s == '"')
            putchar('\\');
        putchar(*s);
    }
    putchar('"');
}

/* A PowerShell single-quoted string: quotes doubled. */
static void ps_string(const char *s)
{
    putchar('\'');
    for (; *s != '\0'; s++) {
        if (*s == '\'')
            putchar('\'');
        putchar(*s);
    }
    putchar('\'');
}

static void describe(const reg_entry *e)
{
    if (e->port != 0)
        printf("vsock port %lu", (unsigned long)e->port);
    else
        printf("Windows-only service GUID");
    if (e->service != NULL)
        printf(", service %s", e->service);
}

static void print_reg(const reg_entry *e, size_t n)
{
    printf("Windows Registry Editor Version 5.00\n");
    for (size_t i = 0; i < n; i++) {
        printf("\n; %s: ", e[i].name);
        describe(&e[i]);
        printf("\n[HKEY_LOCAL_MACHINE\\" REG_KEY "\\%s]\n\"ElementName\"=",
               e[i].guid);
        reg_string(e[i].name);
        printf("\n");
    }
}

static void print_ps(const reg_entry *e, size_t n)
{
    printf("# Run as Administrator on the Hyper-V host.\n"
           "$services = 'HKLM:\\" REG_KEY "'\n");
    for (size_t i = 0; i < n; i++) {
        printf("# %s: ", e[i].name);
        describe(&e[i]);
        printf("\n$service = New-Item -Path $services -Name '%s' -Force\n"
               "$service.SetValue('ElementName', ",
               e[i].guid);
        ps_string(e[i].name);
        printf(")\n");
    }
}

/* Fills e from a port or GUID text; usage error when neither parses. */
static void entry_from(reg_entry *e, const char *name, const char *port_text,
                       const char *guid_text)
{
    hvrpc_guid g;
    hvrpc_status st;

    e->name = name;
    e->port = 0;
    if (port_text != NULL) {
        e->port =
            cli_parse_u32("register", "--port", port_text, 1, UINT32_MAX - 1);
        g = hvrpc_guid_from_vsock_port(e->port);
    } else {
        if (hvrpc_guid_parse(guid_text, &g, &st) != HVRPC_OK)
            cli_usage("register", "--guid '%s': %s", guid_text, st.message);
        if (!hvrpc_guid_to_vsock_port(&g, &e->port))
            e->port = 0;
    }
    hvrpc_guid_format(&g, e->guid);
}

static int from_proto(register_opts *o, reg_entry **out, size_t *n)
{
    hvrpc_json_pool *pool;
    int status;
    size_t count;

    o->schema.protos[o->schema.n_protos++] = o->from;
    status =
        cli_schema_load("register", &o->schema, NULL, NULL, NULL, NULL, &pool);
    if (status != 0)
        return status;
    count = hvrpc_json_pool_service_count(pool);
    *out = calloc(count + 1, sizeof(**out));
    *n = 0;
    if (*out == NULL) {
        hvrpc_json_pool_free(pool);
        return cli_out_of_memory("register");
    }
    for (size_t i = 0; i < count; i++) {
        const char *svc = hvrpc_json_pool_service_name(pool, i);
        hvrpc_json_service_options so;
        reg_entry *e = &(*out)[*n];
        char port[16];
        const char *name;

        if (hvrpc_json_pool_service_options(pool, svc, &so, NULL) != HVRPC_OK ||
            (so.vsock_port == 0 && so.service_guid == NULL))
            continue;
        /* The names must outlive the pool: keep copies. */
        name = strdup(so.friendly_name != NULL && so.friendly_name[0] != '\0'
                          ? so.friendly_name
                          : svc);
        e->service = strdup(svc);
        snprintf(port, sizeof(port), "%lu", (unsigned long)so.vsock_port);
        entry_from(e, name, so.vsock_port != 0 ? port : NULL, so.service_guid);
        (*n)++;
    }
    hvrpc_json_pool_free(pool);
    if (*n == 0) {
        fprintf(stderr,
                "hvrpc: register: no service of %s sets (hvrpc.vsock_port) or "
                "(hvrpc.service_guid): add one (docs/CODEGEN.md), or use "
                "--name with --port or --guid\n",
                o->from);
        return CLI_EXIT_USAGE;
    }
    return 0;
}

static bool parse_register(int argc, char **argv, register_opts *o)
{
    cli_args a;
    char *arg, *value;
    bool is_option;

    cli_args_init(&a, "register", argc, argv);
    while ((arg = cli_args_next(&a, &is_option)) != NULL) {
        if (!is_option)
            cli_usage("register", "unexpected argument '%s'", arg);
        if (cli_args_is_help(&a, arg)) {
            cli_print_help(&cli_verb_register);
            return false;
        } else if (cli_args_value(&a, arg, "--name", &value)) {
            o->name = value;
        } else if (cli_args_value(&a, arg, "--port", &value)) {
            o->port_text = value;
        } else if (cli_args_value(&a, arg, "--guid", &value)) {
            o->guid_text = value;
        } else if (cli_args_value(&a, arg, "--from", &value)) {
            o->from = value;
        } else if (cli_args_value(&a, arg, "--import-path", &value) ||
                   cli_args_value(&a, arg, "-I", &value)) {
            o->schema.dirs[o->schema.n_dirs++] = value;
        } else if (cli_args_flag(&a, arg, "--reg")) {
            o->reg_only = true;
        } else if (cli_args_flag(&a, arg, "--powershell")) {
            o->ps_only = true;
        } else if (cli_args_flag(&a, arg, "--apply")) {
            o->apply = true;
        } else {
            cli_args_unknown(&a, arg);
        }
    }
    if (o->from != NULL) {
        if (o->name != NULL || o->port_text != NULL || o->guid_text != NULL)
            cli_usage("register", "--from takes the names, ports and GUIDs "
                                  "from the file: no --name, --port, --guid");
    } else {
        if (o->name == NULL)
            cli_usage("register", "expected --name NAME with --port N or "
                                  "--guid GUID, or --from FILE.proto");
        if ((o->port_text == NULL) == (o->guid_text == NULL))
            cli_usage("register", "give one of --port N and --guid GUID");
        if (o->name[0] == '\0')
            cli_usage("register", "--name: the friendly name is empty");
    }
    if (o->reg_only && o->ps_only)
        cli_usage("register", "--reg and --powershell: pick one (neither "
                              "prints both)");
    return true;
}

static int run_register(int argc, char **argv)
{
    register_opts o = {0};
    reg_entry one, *entries = &one;
    size_t n = 1;
    int status = 0;

    if (!cli_schema_init(&o.schema, argc + 1))
        return cli_out_of_memory("register");
    if (!parse_register(argc, argv, &o)) {
        cli_schema_free(&o.schema);
        return 0;
    }
    memset(&one, 0, sizeof(one));
    if (o.from != NULL)
        status = from_proto(&o, &entries, &n);
    else
        entry_from(&one, o.name, o.port_text, o.guid_text);
    if (status == 0 && o.apply) {
        fprintf(stderr,
                "hvrpc: register: --apply writes the registry only on "
                "Windows; on the Hyper-V host, import the .reg file (reg "
                "import FILE) or run the PowerShell that "
                "'hvrpc register --powershell ...' prints, as "
                "Administrator\n");
        status = HVRPC_UNIMPLEMENTED;
    } else if (status == 0) {
        if (!o.ps_only)
            print_reg(entries, n);
        if (!o.reg_only && !o.ps_only)
            printf("\n");
        if (!o.reg_only)
            print_ps(entries, n);
    }
    if (entries != &one) {
        for (size_t i = 0; i < n; i++) {
            free((char *)entries[i].name);
            free((char *)entries[i].service);
        }
        free(entries);
    }
    cli_schema_free(&o.schema);
    return status;
}

const cli_verb cli_verb_register = {
    "register",
    "print the registry entry a Hyper-V host needs for a service",
    "Usage: hvrpc register --name NAME (--port N | --guid GUID)\n"
    "                      [--reg | --powershell] [--apply]\n"
    "       hvrpc register --from FILE.proto [-I DIR] [--reg | --powershell]\n"
    "\n"
    "A Hyper-V host accepts hvsock connections to a service only when its\n"
    "GUID is registered under\n"
    "  HKLM\\SOFTWARE\\Microsoft\\Windows "
    "NT\\CurrentVersion\\Virtualization\\\n"
    "      GuestCommunicationServices\\<GUID>\n"
    "with a REG_SZ value ElementName, the service's friendly name. This\n"
    "prints that entry as a .reg file (for 'reg import') and as PowerShell\n"
    "(run as Administrator). A vsock port P is the GUID\n"
    "PPPPPPPP-facb-11e6-bd58-64006a7986d3, which Linux guests reach as\n"
    "vsock://2:P. --from runs protoc on FILE.proto and prints an entry for\n"
    "every service that sets (hvrpc.vsock_port) or (hvrpc.service_guid),\n"
    "named by (hvrpc.friendly_name), else by the service's full name.\n"
    "\n"
    "Options:\n"
    "  --name NAME            the friendly name (ElementName)\n"
    "  --port N               the service's vsock port, 1-4294967294\n"
    "  --guid GUID            the service GUID (a Windows-only service, or a\n"
    "                         VSOCK-template GUID)\n"
    "  --from FILE.proto      every service of a .proto, from its options\n"
    "  -I, --import-path DIR  where FILE.proto's imports are (repeatable)\n"
    "  --reg                  print only the .reg file\n"
    "  --powershell           print only the PowerShell\n"
    "  --apply                write the key (Windows only; elsewhere exits "
    "12)\n"
    "  -h, --help             this text\n"
    "\n"
    "Examples:\n"
    "  hvrpc register --name 'hvrpc echo' --port 5000 --reg > echo.reg\n"
    "  hvrpc register --name 'My service' "
    "--guid 3f0c1a6e-6d2b-4c55-8a5b-0123456789ab\n"
    "  hvrpc register --from proto/demo/v1/greeter.proto -I proto "
    "--powershell\n"
    "\n"
    "Exit statuses:\n"
    "  0      printed\n"
    "  12     --apply on a system other than Windows (UNIMPLEMENTED)\n"
    "  64     bad arguments, a .proto that does not compile, or one with no\n"
    "         service that has an endpoint\n",
    run_register,
};
