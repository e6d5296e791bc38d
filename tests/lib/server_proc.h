/*
 * server_proc.h - a server binary run as a child process of a test suite.
 *
 * server_spawn() forks and execs the server with --port 0 among its
 * options and reads the line every model prints once it listens,
 * "listening on http://127.0.0.1:PORT", to learn the ephemeral port.  The
 * child gets a process group of its own (so 02's workers can be killed
 * with it), stdin from /dev/null, stdout on a pipe, stderr shared with the
 * suite (a sanitizer's report must be seen), no other inherited
 * descriptor, default signal dispositions, and PR_SET_PDEATHSIG: it dies
 * with the suite.  Every wait has a deadline, so a server that never
 * starts or never stops fails a test; it never hangs the suite.
 *
 * Every server started and not yet reaped is remembered, so that
 * server_kill_all() can stop them when a suite exits early.
 *
 * Errors: functions return 0 (or true) on success and -1 on failure;
 * server_error() then describes the failure in words.  Nothing here
 * prints or exits.
 *
 * Thread safety: none; the suites are single-threaded.
 */
#ifndef TESTS_SERVER_PROC_H
#define TESTS_SERVER_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

/* A server process a suite started. */
struct server_proc {
	pid_t pid; /* 0 when not running */
	int port;
	int out_fd;	     /* the read end of its stdout, -1 once closed */
	bool reaped;	     /* it has exited and been waited for */
	int status;	     /* its wait status once reaped */
	int base_fds;	     /* the caller's: entries of /proc/PID/fd idle */
	char extra_out[128]; /* stdout after the address, kept at exit */
	size_t extra_len;
};

struct server_spawn_opts {
	int start_timeout_ms; /* for the "listening on" line */
	rlim_t nofile; /* > 0: the child's RLIMIT_NOFILE, soft and hard */
};

/*
 * Starts argv[0] with the NULL-terminated argv, which must ask for
 * 127.0.0.1 and --port 0, and waits up to o->start_timeout_ms for its
 * address.  Returns 0 with s->pid and s->port set, or -1 (the process, if
 * any, is killed and reaped).
 */
int server_spawn(struct server_proc *s, char *const argv[],
		 const struct server_spawn_opts *o);

/*
 * True while the process has not exited.  Once it has, reaps it, stores
 * its wait status in s->status (and *status, if not NULL), kills what is
 * left of its group, keeps the rest of its stdout in s->extra_out and sets
 * s->pid to 0.
 */
bool server_alive(struct server_proc *s, int *status);

/*
 * Sends SIGTERM and waits up to timeout_ms.  Returns the wait status, or
 * -1 if it did not exit in time (it is then killed) or was not running.
 */
int server_terminate(struct server_proc *s, int timeout_ms);

/*
 * Waits up to timeout_ms for a server already asked to stop (by a signal
 * the caller sent) to exit, without signalling it again: a second SIGTERM
 * would find the default action restored once the server has begun to
 * tear down.  Returns the wait status, or -1 if it did not exit in time
 * (it is then killed) or was not running.
 */
int server_wait_exit(struct server_proc *s, int timeout_ms);

/* SIGKILLs the server's process group and reaps it.  Idempotent. */
void server_kill(struct server_proc *s);

/*
 * SIGKILLs every server started and not yet reaped, with its group.
 * Async-signal-safe (kill(2) only): for a handler of a fatal signal.
 */
void server_kill_all(void);

/* server_kill_all(), then waits for each of them: for atexit(). */
void server_reap_all(void);

/*
 * Makes sure no server outlives the suite: server_reap_all() at exit, and
 * server_kill_all() before SIGINT, SIGTERM or SIGHUP ends the suite.
 */
void server_kill_all_at_exit(void);

/* Describes a wait status: "exit status 1", "killed by signal 6 (...)". */
void server_describe_status(int status, char *out, size_t outsz);

/* The description of the last failure. */
const char *server_error(void);

#endif /* TESTS_SERVER_PROC_H */
