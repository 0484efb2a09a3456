/*
 * tests/integration/server_proc.h - an echo server in a child process.
 *
 * server_proc_start() forks a child that creates a server, listens on a
 * fresh address of the chosen transport (a unix socket in a mkdtemp
 * directory, tcp://127.0.0.1:0, or vsock://any:any: VMADDR_CID_ANY and a
 * port the kernel picks; clients then connect to CID 1, vsock_loopback) or
 * on the address given, registers the built-in echo service,
 * starts it and reports the address it really listens on through a pipe.
 * The child then serves until it receives SIGTERM, which makes it call
 * hvrpc_server_stop() and hvrpc_server_free() and exit with status 0 (under
 * the sanitizers the leak check runs at that exit, so a leak in the server
 * shows as a non-zero exit status). The child dies with its parent.
 *
 * The parent must call server_proc_cleanup() on every path: it kills a
 * child still running, reaps it and removes the socket directory.
 * Fork only while the calling process has no other threads (no client
 * alive): the child continues with the caller's single thread.
 */
#ifndef HVRPC_TEST_SERVER_PROC_H
#define HVRPC_TEST_SERVER_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <hvrpc/hvrpc.h>

typedef struct server_proc_options {
    const char *transport; /* "unix", "tcp" or "vsock" */
    /* Listen here instead of a fresh address of the transport (transport
     * is then ignored). The reported uri is where a client connects:
     * vsock CID any becomes CID 1 (local); a hybrid vsock listener is
     * reported as the hybrid+vsock URI it binds (clients reach it through
     * a VMM, not directly). */
    const char *listen_uri;
    unsigned workers;   /* handler threads; 0: the server's default */
    uint32_t max_frame; /* frame data limit; 0: the server's default */
    /* Optional, in the child: adjusts the server options before the
     * server is created, and registers more services on the endpoint
     * after echo (non-zero fails the start). tests/streaming uses them. */
    void (*tune)(hvrpc_server_options *so);
    int (*register_more)(hvrpc_server *srv, hvrpc_endpoint *ep);
} server_proc_options;

typedef struct server_proc {
    pid_t pid;       /* the child, 0 when none was started */
    int reaped;      /* 1 once waitpid() collected it */
    int wait_status; /* its waitpid() status, once reaped */
    int report_fd;   /* read end of the child's pipe, -1 when closed */
    char dir[64];    /* unix: the mkdtemp directory, "" otherwise */
    char uri[192];   /* the address a client connects to */
    /* The address the server listens on, resolved: vsock://any:1234,
     * tcp://127.0.0.1:4321. */
    char listen_uri[192];
} server_proc;

/* Starts the child and waits (up to 10 s) for its report. Returns 0 with
 * sp->uri set, or -1 with a reason in err (the child is then reaped and
 * everything removed). */
int server_proc_start(server_proc *sp, const server_proc_options *o, char *err,
                      size_t err_size);

/* Sends sig to the child when it is still running. 0 or -1. */
int server_proc_signal(server_proc *sp, int sig);

/* Waits up to timeout_ms for the child to exit and reaps it. Returns 0 and
 * the waitpid() status in *status (may be NULL), or -1 on timeout (the
 * child is left running). Calling it again after the child was reaped
 * returns the same status. */
int server_proc_wait(server_proc *sp, int timeout_ms, int *status);

/* The graceful end: SIGTERM, then waits up to timeout_ms. Returns the
 * child's exit code (0 expected), 128 + signal when it died of a signal,
 * or -1 when it did not exit in time (it is then killed and reaped). */
int server_proc_stop(server_proc *sp, int timeout_ms);

/* Kills the child when still running, reaps it, closes the pipe and
 * removes the socket directory. Safe to call more than once. */
void server_proc_cleanup(server_proc *sp);

#endif /* HVRPC_TEST_SERVER_PROC_H */
