/*
 * main.c - `hvrpc`, the command-line tool: the verb table and dispatch.
 *
 * Each verb lives in its own cmd_*.c together with its help text, so the
 * text is edited where the behaviour is.
 */
#include <errno.h>
#include <stdio.h>
#ifdef _WIN32
#include <fcntl.h>
#include <io.h>
#endif
#include <string.h>

#include <hvrpc/version.h>

#include "cli.h"

static int run_help(int argc, char **argv);

static const cli_verb verb_help = {
    "help",
    "show this overview, or the help of one verb",
    "Usage: hvrpc help [VERB]\n"
    "       hvrpc VERB --help\n"
    "\n"
    "Without VERB, shows the overview: verbs, address forms, exit statuses.\n"
    "With VERB, shows that verb's usage, options, examples and exit statuses.\n"
    "\n"
    "Exit statuses:\n"
    "  0    the help was shown\n"
    "  64   unknown verb or extra arguments\n",
    run_help,
};

static const cli_verb *const verbs[] = {
    &cli_verb_serve,    &cli_verb_call,   &cli_verb_list,
    &cli_verb_describe, &cli_verb_health, &cli_verb_pub,
    &cli_verb_sub,      &cli_verb_guid,   &cli_verb_register,
#ifdef HVRPC_CLI_CONTRACT
    &cli_verb_contract,
#endif
    &verb_help,
};

static const char overview_head[] =
    "hvrpc - RPC across the hypervisor boundary, ttrpc on the wire\n"
    "\n"
    "Usage:\n"
    "  hvrpc serve --listen URI [--listen URI ...] [OPTIONS]\n"
    "  hvrpc call URI SERVICE/METHOD [OPTIONS] [< REQUEST]\n"
    "  hvrpc call URI SERVICE/METHOD -d JSON|TEXT|@FILE|@- [--format F] [...]\n"
    "  hvrpc list URI [SERVICE]\n"
    "  hvrpc describe URI SYMBOL\n"
    "  hvrpc health URI [SERVICE]\n"
    "  hvrpc pub URI TOPIC [-d DATA|@FILE|@-] [-H KEY:VALUE ...]\n"
    "  hvrpc sub URI PATTERN... [--policy P] [--count N] [--format F]\n"
    "  hvrpc guid PORT|GUID|VMID-NAME\n"
    "  hvrpc register (--name NAME --port N|--guid GUID | --from FILE) "
    "[--apply]\n"
#ifdef HVRPC_CLI_CONTRACT
    "  hvrpc contract verify|serve|record|check ...\n"
#endif
    "  hvrpc help [VERB]\n"
    "  hvrpc --version\n"
    "\n"
    "Verbs:\n";

static const char overview_tail[] =
    "\n"
    "Addresses (URIs):\n"
    "  vsock://CID:PORT             AF_VSOCK; CID a number or any, "
    "hypervisor,\n"
    "                               local, host\n"
    "  hvsock://VMID/SERVICE        AF_HYPERV; VMID a GUID or wildcard, zero,\n"
    "                               children, loopback, parent, broadcast,\n"
    "                               silohost; SERVICE a GUID or vsock:PORT\n"
    "  hybrid+vsock:///PATH:PORT    Firecracker / Cloud Hypervisor host side "
    "of\n"
    "                               the guest's vsock (CONNECT PORT "
    "handshake)\n"
    "  unix:///PATH, unix://@NAME   AF_UNIX, filesystem or abstract\n"
    "  tcp://HOST:PORT              TCP; HOST a name, IPv4 address or [IPv6]\n"
    "\n"
    "Exit statuses:\n"
    "  0      success\n"
    "  1-16   the gRPC status code a call or the server set-up failed with\n"
    "         (hvrpc guid: 1 for a GUID outside the VSOCK template)\n"
    "  64     bad arguments; one line on stderr says which\n"
    "  74     reading stdin or writing stdout failed\n"
    "\n"
    "Run 'hvrpc help VERB' for a verb's options and examples.\n";

static const cli_verb *find_verb(const char *name)
{
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (strcmp(verbs[i]->name, name) == 0)
            return verbs[i];
    }
    return NULL;
}

static int print_overview(void)
{
    fputs(overview_head, stdout);
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
        printf("  %-9s %s\n", verbs[i]->name, verbs[i]->summary);
    fputs(overview_tail, stdout);
    return 0;
}

int cli_print_help(const cli_verb *v)
{
    fputs(v->help, stdout);
    return 0;
}

static int run_help(int argc, char **argv)
{
    char *topic;
    const cli_verb *v;

    if (!cli_args_operand(&verb_help, argc, argv, &topic))
        return 0;
    if (topic == NULL)
        return print_overview();
    v = find_verb(topic);
    if (v == NULL)
        cli_usage("help", "unknown verb '%s' (see 'hvrpc help')", topic);
    return cli_print_help(v);
}

/* Every verb writes its results on stdout; a write that failed (a full disk,
 * a closed pipe) turns success into CLI_EXIT_IOERR instead of going unseen. */
static int finish_stdout(int status)
{
    int err = fflush(stdout) == 0 ? 0 : errno;

    if (err == 0 && !ferror(stdout))
        return status;
    /* An earlier write may have failed while this flush had nothing left. */
    fprintf(stderr, "hvrpc: writing stdout: %s\n",
            err != 0 ? strerror(err) : "write error");
    return status == 0 ? CLI_EXIT_IOERR : status;
}

int main(int argc, char **argv)
{
    const cli_verb *v;

#ifdef _WIN32
    /* Requests and replies pass through stdin and stdout as raw bytes. */
    _setmode(_fileno(stdin), _O_BINARY);
    _setmode(_fileno(stdout), _O_BINARY);
#endif

    if (argc < 2)
        cli_usage(NULL, "missing verb (see 'hvrpc help')");
    if (strcmp(argv[1], "--version") == 0) {
        printf("hvrpc %s\n", HVRPC_VERSION_STRING);
        return finish_stdout(0);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)
        return finish_stdout(print_overview());
    v = find_verb(argv[1]);
    if (v == NULL) {
        if (argv[1][0] == '-')
            cli_usage(NULL, "unknown option '%s' (see 'hvrpc help')", argv[1]);
        cli_usage(NULL, "unknown verb '%s' (see 'hvrpc help')", argv[1]);
    }
    return finish_stdout(v->run(argc - 1, argv + 1));
}
