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
 * --remove prints what deletes the entry instead. On Windows, --apply
 * writes (or deletes) the key itself; elsewhere it says what to run on
 * the host.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hvrpc/guid.h>

#include "schema.h"

#ifdef _WIN32
#include <windows.h>
#endif

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
    bool reg_only, ps_only, apply, remove;
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

/* "NAME: vsock port P, service S" for the comment above an entry. */
static void describe(const reg_entry *e)
{
    if (e->name[0] != '\0')
        printf("%s: ", e->name);
    if (e->port != 0)
        printf("vsock port %lu", (unsigned long)e->port);
    else
        printf("Windows-only service GUID");
    if (e->service != NULL)
        printf(", service %s", e->service);
}

/* remove: a .reg that deletes the keys ("[-HKEY...]"). */
static void print_reg(const reg_entry *e, size_t n, bool remove)
{
    printf("Windows Registry Editor Version 5.00\n");
    for (size_t i = 0; i < n; i++) {
        printf("\n; ");
        describe(&e[i]);
        printf("\n[%sHKEY_LOCAL_MACHINE\\" REG_KEY "\\%s]\n", remove ? "-" : "",
               e[i].guid);
        if (remove)
            continue;
        printf("\"ElementName\"=");
        reg_string(e[i].name);
        printf("\n");
    }
}

static void print_ps(const reg_entry *e, size_t n, bool remove)
{
    printf("# Run as Administrator on the Hyper-V host.\n"
           "$services = 'HKLM:\\" REG_KEY "'\n");
    for (size_t i = 0; i < n; i++) {
        printf("# ");
        describe(&e[i]);
        if (remove) {
            printf("\nRemove-Item -Path \"$services\\%s\"\n", e[i].guid);
            continue;
        }
        printf("\n$service = New-Item -Path $services -Name '%s' -Force\n"
               "$service.SetValue('ElementName', ",
               e[i].guid);
        ps_string(e[i].name);
        printf(")\n");
    }
}

#ifdef _WIN32
/* UTF-8 (names from a .proto), else the ANSI code page (argv) -> UTF-16;
 * malloc'd, NULL when out of memory. */
static wchar_t *widen(const char *s)
{
    UINT cp = CP_UTF8;
    DWORD flags = MB_ERR_INVALID_CHARS;
    int n = MultiByteToWideChar(cp, flags, s, -1, NULL, 0);
    wchar_t *w;

    if (n <= 0) {
        cp = CP_ACP;
        flags = 0;
        n = MultiByteToWideChar(cp, flags, s, -1, NULL, 0);
    }
    if (n <= 0 || (w = malloc((size_t)n * sizeof(*w))) == NULL)
        return NULL;
    if (MultiByteToWideChar(cp, flags, s, -1, w, n) != n) {
        free(w);
        return NULL;
    }
    return w;
}

/* What a failed registry call means, and the exit status for it. */
static int reg_failed(const char *what, const reg_entry *e, LONG rc)
{
    char text[256] = "";

    FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS,
                   NULL, (DWORD)rc, 0, text, sizeof(text), NULL);
    text[strcspn(text, "\r\n")] = '\0';
    if (rc == ERROR_ACCESS_DENIED) {
        fprintf(stderr,
                "hvrpc: register: %s HKLM\\" REG_KEY "\\%s: access denied: "
                "run it from an elevated (Administrator) prompt\n",
                what, e->guid);
        return HVRPC_PERMISSION_DENIED;
    }
    if (rc == ERROR_FILE_NOT_FOUND) {
        fprintf(stderr,
                "hvrpc: register: %s is not registered (nothing to "
                "remove); 'reg query \"HKLM\\" REG_KEY "\"' lists what is\n",
                e->guid);
        return HVRPC_NOT_FOUND;
    }
    fprintf(stderr, "hvrpc: register: %s HKLM\\" REG_KEY "\\%s: %s (%ld)\n",
            what, e->guid, text, (long)rc);
    return HVRPC_UNKNOWN;
}

/* Writes (or deletes) the key of each entry in the 64-bit registry view,
 * the one Hyper-V reads. Stops at the first failure. */
static int apply(const reg_entry *e, size_t n, bool remove)
{
    for (size_t i = 0; i < n; i++) {
        char path[sizeof(REG_KEY) + HVRPC_GUID_STRLEN + 1];
        wchar_t *wpath, *wname;
        HKEY key;
        LONG rc;

        snprintf(path, sizeof(path), REG_KEY "\\%s", e[i].guid);
        wpath = widen(path);
        wname = widen(e[i].name);
        if (wpath == NULL || wname == NULL) {
            free(wpath);
            free(wname);
            return cli_out_of_memory("register");
        }
        if (remove) {
            rc = RegDeleteKeyExW(HKEY_LOCAL_MACHINE, wpath, KEY_WOW64_64KEY, 0);
        } else {
            rc = RegCreateKeyExW(
                HKEY_LOCAL_MACHINE, wpath, 0, NULL, REG_OPTION_NON_VOLATILE,
                KEY_SET_VALUE | KEY_WOW64_64KEY, NULL, &key, NULL);
            if (rc == ERROR_SUCCESS) {
                rc = RegSetValueExW(
                    key, L"ElementName", 0, REG_SZ, (const BYTE *)wname,
                    (DWORD)((wcslen(wname) + 1) * sizeof(*wname)));
                RegCloseKey(key);
            }
        }
        free(wpath);
        free(wname);
        if (rc != ERROR_SUCCESS)
            return reg_failed(remove ? "deleting" : "writing", &e[i], rc);
        if (remove)
            printf("removed %s\n", e[i].guid);
        else
            printf("registered %s as '%s'\n", e[i].guid, e[i].name);
    }
    return 0;
}
#else
/* Elsewhere there is no registry to write: say what to run instead. */
static int apply(const reg_entry *e, size_t n, bool remove)
{
    (void)e;
    (void)n;
    fprintf(stderr,
            "hvrpc: register: --apply %s the registry key itself only on "
            "Windows; on the Hyper-V host, as Administrator, run the "
            "PowerShell that 'hvrpc register --powershell%s ...' prints, or "
            "'reg import' the file that 'hvrpc register --reg%s ...' "
            "prints\n",
            remove ? "deletes" : "writes", remove ? " --remove" : "",
            remove ? " --remove" : "");
    return HVRPC_UNIMPLEMENTED;
}
#endif

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
        } else if (cli_args_flag(&a, arg, "--remove")) {
            o->remove = true;
        } else {
            cli_args_unknown(&a, arg);
        }
    }
    if (o->from != NULL) {
        if (o->name != NULL || o->port_text != NULL || o->guid_text != NULL)
            cli_usage("register", "--from takes the names, ports and GUIDs "
                                  "from the file: no --name, --port, --guid");
    } else {
        /* Removing needs only the GUID; the name is for the comments. */
        if (o->name == NULL && o->remove && o->port_text == NULL &&
            o->guid_text == NULL)
            cli_usage("register", "--remove: give --port N or --guid GUID "
                                  "(or --from FILE.proto)");
        if (o->name == NULL && o->remove)
            o->name = ""; /* the comments then name no service */
        if (o->name == NULL)
            cli_usage("register", "expected --name NAME with --port N or "
                                  "--guid GUID, or --from FILE.proto");
        if ((o->port_text == NULL) == (o->guid_text == NULL))
            cli_usage("register", "give one of --port N and --guid GUID");
        if (o->name[0] == '\0' && !o->remove)
            cli_usage("register", "--name: the friendly name is empty");
    }
    if (o->reg_only && o->ps_only)
        cli_usage("register", "--reg and --powershell: pick one (neither "
                              "prints both)");
    if (o->apply && (o->reg_only || o->ps_only))
        cli_usage("register", "--apply writes the key instead of printing: "
                              "no --reg or --powershell with it");
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
        status = apply(entries, n, o.remove);
    } else if (status == 0) {
        if (!o.ps_only)
            print_reg(entries, n, o.remove);
        if (!o.reg_only && !o.ps_only)
            printf("\n");
        if (!o.reg_only)
            print_ps(entries, n, o.remove);
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
    "print (or, on Windows, write) the registry entry Hyper-V needs",
    "Usage: hvrpc register --name NAME (--port N | --guid GUID)\n"
    "                      [--reg | --powershell | --apply] [--remove]\n"
    "       hvrpc register --from FILE.proto [-I DIR]\n"
    "                      [--reg | --powershell | --apply] [--remove]\n"
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
    "--remove prints what deletes the entries instead (--name is then\n"
    "optional). On Windows, --apply writes (or with --remove deletes) the\n"
    "key itself, in the 64-bit view, and needs an elevated prompt.\n"
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
    "  --apply                write the key instead of printing it (Windows\n"
    "                         only; elsewhere exits 12)\n"
    "  --remove               delete the entry instead (printed, or with\n"
    "                         --apply done)\n"
    "  -h, --help             this text\n"
    "\n"
    "Examples:\n"
    "  hvrpc register --name 'hvrpc echo' --port 5000 --reg > echo.reg\n"
    "  hvrpc register --name 'My service' "
    "--guid 3f0c1a6e-6d2b-4c55-8a5b-0123456789ab\n"
    "  hvrpc register --from proto/demo/v1/greeter.proto -I proto "
    "--powershell\n"
    "  hvrpc register --name 'hvrpc echo' --port 5000 --apply   (Windows, "
    "elevated)\n"
    "  hvrpc register --port 5000 --remove --apply\n"
    "\n"
    "Exit statuses:\n"
    "  0      printed (or, with --apply, written or deleted)\n"
    "  5      --remove --apply: the key was not there (NOT_FOUND)\n"
    "  7      --apply without the rights to write HKLM (PERMISSION_DENIED)\n"
    "  12     --apply on a system other than Windows (UNIMPLEMENTED)\n"
    "  64     bad arguments, a .proto that does not compile, or one with no\n"
    "         service that has an endpoint\n",
    run_register,
};
