/*
 * cmd_serve.c - `hvrpc serve`: the built-in echo service (and health,
 * reflection, the bus) on any number of endpoints, until SIGINT or SIGTERM.
 */
#include <pthread.h>
#include <signal.h>
#ifdef _WIN32
#include <windows.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hvrpc/hvrpc.h>

#include "bus_service.h"
#include "cli.h"
#include "echo_service.h"
#include "health_service.h"
#include "reflection_service.h"
#include "serve_bridge.h"

/* One --listen URI and, once listening, its endpoint. */
typedef struct serve_endpoint {
    const char *uri; /* points into argv */
    hvrpc_endpoint *ep;
} serve_endpoint;

typedef struct serve_opts {
    serve_endpoint *endpoints; /* n_endpoints used, argc allocated */
    size_t n_endpoints;
    hvrpc_server_options server;
    bool verbose;
    bool no_health;     /* --no-health */
    bool no_reflection; /* --no-reflection */
    bool no_bus;        /* --no-bus */
    hvrpc_health *health;
    hvrpc_bus *bus;      /* one broker for every endpoint */
    serve_bridge bridge; /* --bridge: hvrpc-bridge as a child */
} serve_opts;

static const char *level_name(hvrpc_log_level level)
{
    switch (level) {
    case HVRPC_LOG_ERROR:
        return "error";
    case HVRPC_LOG_WARN:
        return "warn";
    case HVRPC_LOG_INFO:
        return "info";
    case HVRPC_LOG_DEBUG:
        return "debug";
    }
    return "log";
}

/* Runs on library threads; one fprintf per line keeps lines whole. */
static void log_to_stderr(hvrpc_log_level level, const char *line, void *arg)
{
    const serve_opts *o = arg;

    if (level == HVRPC_LOG_DEBUG && !o->verbose)
        return;
    fprintf(stderr, "%s: %s\n", level_name(level), line);
}

/* Fills *o from the arguments (o->endpoints holds argc entries). Returns
 * false when it showed the help instead: nothing more to do. */
static bool parse_serve(int argc, char **argv, serve_opts *o)
{
    cli_args a;
    char *arg;
    char *value;
    bool is_option;

    cli_args_init(&a, "serve", argc, argv);
    while ((arg = cli_args_next(&a, &is_option)) != NULL) {
        if (!is_option)
            cli_usage("serve",
                      "unexpected argument '%s' (addresses go "
                      "after --listen)",
                      arg);
        if (cli_args_is_help(&a, arg)) {
            cli_print_help(&cli_verb_serve);
            return false;
        }
        if (cli_args_value(&a, arg, "--listen", &value)) {
            o->endpoints[o->n_endpoints++].uri =
                cli_check_address("serve", value);
        } else if (cli_args_value(&a, arg, "--workers", &value)) {
            o->server.workers =
                cli_parse_u32("serve", "--workers", value, 1, UINT32_MAX);
        } else if (cli_args_value(&a, arg, "--max-frame", &value)) {
            o->server.max_frame =
                cli_parse_u32("serve", "--max-frame", value,
                              HVRPC_MIN_MAX_FRAME, HVRPC_MAX_MAX_FRAME);
        } else if (cli_args_flag(&a, arg, "--verbose") ||
                   cli_args_flag(&a, arg, "-v")) {
            o->verbose = true;
        } else if (cli_args_flag(&a, arg, "--no-health")) {
            o->no_health = true;
        } else if (cli_args_flag(&a, arg, "--no-reflection")) {
            o->no_reflection = true;
        } else if (cli_args_flag(&a, arg, "--no-bus")) {
            o->no_bus = true;
        } else if (cli_args_flag(&a, arg, "--inline-handlers")) {
            /* Every built-in service answers without blocking (delays
             * and waiting publishers use timers, not the thread). */
            o->server.inline_handlers = true;
        } else if (serve_bridge_parse(&o->bridge, &a, arg)) {
            /* --bridge URLS, --bridge-NAME VALUE: for hvrpc-bridge */
        } else {
            cli_args_unknown(&a, arg);
        }
    }
    if (o->n_endpoints == 0)
        cli_usage("serve", "at least one --listen URI is needed");
    serve_bridge_check(&o->bridge);
    if (o->bridge.nats != NULL && o->no_bus)
        cli_usage("serve", "--bridge and --no-bus: there is no bus to bridge");
    return true;
}

/* Prints "hvrpc: serve: what: CODE: message" and returns the code as the
 * exit status. */
static int setup_failed(const char *what, const char *uri,
                        const hvrpc_status *st)
{
    fprintf(stderr, "hvrpc: serve: %s%s%s: %s: %s\n", what,
            uri != NULL ? " " : "", uri != NULL ? uri : "",
            hvrpc_code_name(st->code), st->message);
    return (int)st->code;
}

/* Creates, listens everywhere, registers echo on every endpoint, starts.
 * Returns 0, or the exit status after saying what failed. *out receives
 * the server as soon as it exists, so the caller frees it either way. */
static int start_server(serve_opts *o, hvrpc_server **out)
{
    hvrpc_server *srv;
    hvrpc_status st;

    if (hvrpc_server_create(&o->server, &srv, &st) != HVRPC_OK) {
        /* Every option came from the command line. */
        if (st.code == HVRPC_INVALID_ARGUMENT)
            return cli_usage_error("serve", "%s", st.message);
        return setup_failed("create", NULL, &st);
    }
    *out = srv;
    for (size_t i = 0; i < o->n_endpoints; i++) {
        serve_endpoint *e = &o->endpoints[i];

        if (hvrpc_server_listen(srv, e->uri, &e->ep, &st) != HVRPC_OK)
            return setup_failed("listen", e->uri, &st);
        if (hvrpc_echo_service_register(srv, e->ep, &st) != HVRPC_OK)
            return setup_failed("register echo on", e->uri, &st);
        /* The built-in services, on by default: `hvrpc health`, `list`,
         * `describe` and `call -d` work against any `hvrpc serve`. */
        if (!o->no_health &&
            ((o->health == NULL &&
              hvrpc_health_create(&o->health, &st) != HVRPC_OK) ||
             hvrpc_health_register(srv, e->ep, o->health, &st) != HVRPC_OK))
            return setup_failed("register health on", e->uri, &st);
        if (!o->no_reflection &&
            hvrpc_reflection_register(srv, e->ep, &st) != HVRPC_OK)
            return setup_failed("register reflection on", e->uri, &st);
        /* One bus across the endpoints: guests on vsock and host
         * processes on a unix socket reach each other. */
        if (!o->no_bus &&
            ((o->bus == NULL &&
              hvrpc_bus_create(NULL, &o->bus, &st) != HVRPC_OK) ||
             hvrpc_bus_register(srv, e->ep, o->bus, &st) != HVRPC_OK))
            return setup_failed("register bus on", e->uri, &st);
    }
    if (hvrpc_server_start(srv, &st) != HVRPC_OK)
        return setup_failed("start", NULL, &st);
    return 0;
}

/* The line scripts wait for: the address really listened on, so a tcp
 * port 0 shows the port the kernel chose. */
static void print_endpoints(const serve_opts *o)
{
    for (size_t i = 0; i < o->n_endpoints; i++) {
        const hvrpc_address *addr = hvrpc_endpoint_address(o->endpoints[i].ep);
        char text[HVRPC_HOST_MAX + 32]; /* the longest: tcp://[HOST]:PORT */

        hvrpc_address_format(addr, text, sizeof(text));
        printf("listening on %s\n", text);
    }
    fflush(stdout);
}

/* The bus address the bridge child connects to: the first unix://
 * endpoint, as really listened on. NULL when there is none. */
static const char *bridge_bus_uri(const serve_opts *o, char *buf, size_t cap)
{
    for (size_t i = 0; i < o->n_endpoints; i++) {
        const hvrpc_address *addr = hvrpc_endpoint_address(o->endpoints[i].ep);

        if (addr != NULL && addr->kind == HVRPC_ADDR_UNIX &&
            hvrpc_address_format(addr, buf, cap) > 0)
            return buf;
    }
    return NULL;
}

#ifdef _WIN32
/* Windows has no SIGTERM to wait for: Ctrl-C, Ctrl-Break, closing the
 * console, logoff and shutdown set an event the main thread waits on. */
static HANDLE stop_event;
static volatile LONG stop_ctrl = -1;

static BOOL WINAPI on_console_ctrl(DWORD ctrl)
{
    InterlockedExchange(&stop_ctrl, (LONG)ctrl);
    SetEvent(stop_event);
    return TRUE;
}
#endif

static int run_serve(int argc, char **argv)
{
    serve_opts o = {0};
    hvrpc_server *srv = NULL;
#ifndef _WIN32
    sigset_t stop_signals;
    int sig;
#endif
    int status;
    bool running;

    o.endpoints = calloc((size_t)argc, sizeof(*o.endpoints));
    o.bridge.args = calloc((size_t)argc, sizeof(*o.bridge.args));
    if (o.endpoints == NULL || o.bridge.args == NULL) {
        free(o.endpoints);
        free(o.bridge.args);
        return cli_out_of_memory("serve");
    }
    hvrpc_server_options_init(&o.server);
    o.server.log = log_to_stderr;
    o.server.log_arg = &o;
    if (!parse_serve(argc, argv, &o)) {
        serve_bridge_free(&o.bridge);
        free(o.bridge.args);
        free(o.endpoints);
        return 0;
    }

    /* Block the stop signals before the server starts its threads, which
     * inherit the mask: the signals then stay pending until sigwait()
     * takes them here, and no handler runs at all. */
#ifndef _WIN32
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    /* The bridge child's end, taken by serve_bridge_wait() too. */
    if (o.bridge.nats != NULL)
        sigaddset(&stop_signals, SIGCHLD);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
#else
    stop_event = CreateEventW(NULL, TRUE, FALSE, NULL);
    SetConsoleCtrlHandler(on_console_ctrl, TRUE);
#endif

    status = start_server(&o, &srv);
    running = status == 0;
    if (status == 0) {
        char bus[HVRPC_ADDRESS_STRLEN];

        print_endpoints(&o);
        status =
            serve_bridge_start(&o.bridge, bridge_bus_uri(&o, bus, sizeof bus));
    }
    if (status == 0) {
#ifndef _WIN32
        if (o.bridge.nats != NULL)
            status = serve_bridge_wait(&o.bridge, &stop_signals, &sig);
        else
            sigwait(&stop_signals, &sig);
        if (status == 0)
            fprintf(stderr, "info: %s received, stopping\n",
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
#else
        WaitForSingleObject(stop_event, INFINITE);
        fprintf(stderr,
                "info: console control event %ld received, "
                "stopping\n",
                (long)stop_ctrl);
#endif
    }
    /* The bridge first: it is a client of the bus about to stop. */
    serve_bridge_free(&o.bridge);
    free(o.bridge.args);
    if (running) {
        /* Health watchers hear NOT_SERVING before their streams end. */
        hvrpc_health_shutdown(o.health);
        hvrpc_server_stop(srv);
    }
    hvrpc_server_free(srv);
    hvrpc_health_free(o.health);
    hvrpc_bus_free(o.bus);
    free(o.endpoints);
    return status;
}

const cli_verb cli_verb_serve = {
    "serve",
    "serve echo, health, reflection and a bus on one or more endpoints",
    "Usage: hvrpc serve --listen URI [--listen URI ...] [--workers N]\n"
    "                   [--max-frame BYTES] [--no-health] [--no-reflection]\n"
    "                   [--no-bus] [--inline-handlers] [--verbose]\n"
    "                   [--bridge NATS_URLS --bridge-host-id ID\n"
    "                    --bridge-spool PATH [--bridge-NAME VALUE ...]]\n"
    "\n"
    "Serves hvrpc.echo.v1.Echo (proto/hvrpc/echo/v1/echo.proto) on every URI,\n"
    "with grpc.health.v1.Health, hvrpc.reflection.v1.Reflection and the\n"
    "message bus hvrpc.bus.v1.Bus beside it: one broker shared by every\n"
    "endpoint ('hvrpc pub', 'hvrpc sub', docs/BUS.md).\n"
    "Once all are listening it prints one line per endpoint on stdout,\n"
    "    listening on URI\n"
    "with the address really used (tcp port 0 and vsock port 'any' show the\n"
    "port the kernel chose), then serves until SIGINT or SIGTERM, stops (a\n"
    "unix socket file is removed) and exits 0. Log lines go to stderr as\n"
    "'LEVEL: text'.\n"
    "\n"
    "Options:\n"
    "  --listen URI        an endpoint to listen on; repeat for more (see\n"
    "                      'hvrpc help' for the URI forms)\n"
    "  --workers N         handler threads, 1-256 (default 4)\n"
    "  --max-frame BYTES   largest frame received or sent, 1024-1073741824\n"
    "                      (default 4194304, 4 MiB)\n"
    "  --no-health         do not serve grpc.health.v1.Health (served by\n"
    "                      default: 'hvrpc health URI')\n"
    "  --no-reflection     do not serve hvrpc.reflection.v1.Reflection "
    "(served\n"
    "                      by default: 'hvrpc list', 'describe', 'call -d')\n"
    "  --inline-handlers   run the services' handlers on the event-loop\n"
    "                      thread instead of the worker pool: one thread\n"
    "                      hand-off less per call (docs/BENCHMARKS.md)\n"
    "  --no-bus            do not serve hvrpc.bus.v1.Bus (served by default:\n"
    "                      'hvrpc pub', 'hvrpc sub')\n"
    "  --bridge URL[,URL]  also run hvrpc-bridge (docs/FLEET.md) as a child:\n"
    "                      this bus (the first unix:// endpoint) to the\n"
    "                      NATS JetStream cluster at URL; restarted when it\n"
    "                      ends, stopped with serve (Linux only)\n"
    "  --bridge-NAME VALUE the bridge's --NAME VALUE: --bridge-host-id ID and\n"
    "                      --bridge-spool PATH are required; e.g.\n"
    "                      --bridge-pattern, --bridge-tls-ca FILE,\n"
    "                      --bridge-user-file FILE, --bridge-creds FILE,\n"
    "                      --bridge-listen URI ('hvrpc-bridge --help')\n"
    "  --bridge-program P  the bridge program (default: hvrpc-bridge beside\n"
    "                      hvrpc, else in PATH)\n"
    "  -v, --verbose       log debug lines too\n"
    "  -h, --help          this text\n"
    "\n"
    "Examples:\n"
    "  hvrpc serve --listen unix:///tmp/echo.sock\n"
    "  hvrpc serve --listen unix://@echo --listen tcp://127.0.0.1:0\n"
    "  hvrpc serve --listen vsock://any:5000     (Linux guest or host)\n"
    "  hvrpc serve --listen vsock://any:any      (a port the kernel picks)\n"
    "  hvrpc serve --listen hybrid+vsock:///run/fc/v.sock:5000\n"
    "                                  (Firecracker host: binds v.sock_5000)\n"
    "  hvrpc serve --listen hvsock://wildcard/vsock:5000   (Windows only)\n"
    "\n"
    "Exit statuses:\n"
    "  0      stopped by SIGINT or SIGTERM\n"
    "  1-16   setting up failed with this status code (one line on stderr),\n"
    "         e.g. 6 ALREADY_EXISTS: the address is in use; 14 UNAVAILABLE:\n"
    "         cannot bind there; 12 UNIMPLEMENTED: no such transport here\n"
    "  64     bad arguments (also: the bridge refused its options)\n",
    run_serve,
};
