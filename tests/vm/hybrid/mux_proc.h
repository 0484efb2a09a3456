/*
 * mux_proc.h - vmm_mux (the stand-in for a hybrid vsock VMM, vmm_mux.c) in
 * a child process, for the tests that talk hybrid+vsock:// through it
 * (test_hybrid.c here, tests/fault/test_connect.c).
 */
#ifndef HVRPC_TEST_MUX_PROC_H
#define HVRPC_TEST_MUX_PROC_H

#include <sys/types.h>

typedef struct mux_proc {
    pid_t pid;  /* 0: not running */
    int out_fd; /* its stdout; -1: none */
} mux_proc;

/* Starts argv[0] (vmm_mux) with argv and waits up to 10 s for its READY
 * line. The child dies with this process. 0, or -1 (m->pid may still be
 * set: mux_stop() it). */
int mux_start(mux_proc *m, char *const argv[]);

/* SIGTERM, then its exit status (0 expected), or -1. */
int mux_stop(mux_proc *m);

#endif /* HVRPC_TEST_MUX_PROC_H */
