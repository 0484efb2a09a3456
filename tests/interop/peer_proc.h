/*
 * tests/interop/peer_proc.h - running the Go ttrpc peer as a child process.
 *
 * The child is started with fork/exec in a process group of its own and
 * dies with its parent (PR_SET_PDEATHSIG), so a test that crashes or is
 * killed by ctest's timeout never leaves a peer running. peer_proc_stop()
 * signals the whole group and always reaps the child.
 */
#ifndef HVRPC_TEST_PEER_PROC_H
#define HVRPC_TEST_PEER_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct peer_proc {
    pid_t pid;  /* 0 when not running (never started, or reaped) */
    int out_fd; /* read end of the child's stdout, or -1 */
    int status; /* wait status once reaped */
} peer_proc;

#define PEER_PROC_INIT                                                         \
    {                                                                          \
        0, -1, -1                                                              \
    }

/* Starts argv[0] with argv (NULL-terminated). With capture_stdout, the
 * child's stdout is a pipe read through out_fd; stderr is inherited.
 * Returns 0, or -1 with a message on stderr. */
int peer_proc_start(peer_proc *p, char *const argv[], bool capture_stdout);

/* Reads the child's stdout until a line equal to want arrives (true), or
 * EOF, an error or timeout_ms passes (false). */
bool peer_proc_wait_line(peer_proc *p, const char *want, int timeout_ms);

/* Waits up to timeout_ms for the child to exit by itself and reaps it.
 * True when it did (p->status holds the wait status). */
bool peer_proc_wait(peer_proc *p, int timeout_ms);

/* Stops the child: SIGTERM, up to grace_ms for it to exit, then SIGKILL;
 * always reaps it and closes out_fd. Returns true when the child exited
 * by itself with status 0 after the SIGTERM. Safe to call again, and on
 * a child that was never started or already reaped (then returns
 * whether that exit was clean). */
bool peer_proc_stop(peer_proc *p, int grace_ms);

/* Describes a wait status ("exit 1", "signal 9") into buf. */
const char *peer_proc_describe(int status, char *buf, size_t size);

/* Creates a fresh private directory under $TMPDIR (or /tmp) into buf.
 * Returns 0, or -1. Short, so socket paths under it fit sun_path. */
int peer_tmpdir(char *buf, size_t size);

/* Monotonic milliseconds. */
long long peer_now_ms(void);

#endif /* HVRPC_TEST_PEER_PROC_H */
