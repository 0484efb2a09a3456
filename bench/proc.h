/*
 * bench/proc.h - child processes for hvrpc-bench: spawn, talk in lines,
 * read their memory, stop them.
 */
#ifndef HVRPC_BENCH_PROC_H
#define HVRPC_BENCH_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct proc {
    pid_t pid;  /* 0 when not running */
    int in_fd;  /* the child's stdin, -1 once closed */
    int out_fd; /* the child's stdout */
    char buf[65536];
    size_t off, len; /* unread bytes of buf */
} proc;

/* Starts argv[0] with pipes on its stdin and stdout (stderr is ours). The
 * child is killed if this process dies. 0, or -1 with err filled. */
int proc_spawn(proc *p, char *const argv[], char *err, size_t err_size);

/* Reads one line (without the newline) into line. 1 for a line, 0 at EOF,
 * -1 when none came within timeout_ms. Longer lines are cut to fit. */
int proc_read_line(proc *p, char *line, size_t size, int timeout_ms);

/* Writes s to the child's stdin. 0 or -1. */
int proc_write(proc *p, const char *s);

/* Closes the child's stdin. */
void proc_close_stdin(proc *p);

/* Sends sig when the child is still running. */
void proc_signal(proc *p, int sig);

/* Waits up to timeout_ms for the child to exit, then kills it. Closes the
 * pipes. Returns the exit code, 128 + signal, or -1 when it had to be
 * killed. Safe on a proc that never started. */
int proc_finish(proc *p, int timeout_ms);

/* VmRSS of the process in KiB, -1 when unknown. */
long proc_rss_kib(pid_t pid);

#endif /* HVRPC_BENCH_PROC_H */
