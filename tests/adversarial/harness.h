/*
 * harness.h - the adversarial suite's server process, document root and
 * raw clients ("peers").
 *
 *   build/tests/adversarial path/to/server-binary [cmocka filter]
 *
 * Every test starts its own server (fork + exec, in its own process group)
 * with --port 0, reads "listening on http://127.0.0.1:PORT" from its
 * stdout, and the teardown stops it: SIGTERM, then SIGKILL to the group if
 * it has not exited within STOP_TIMEOUT_MS.  Every wait has a deadline, so a
 * server that misbehaves fails a test; it never hangs the suite.
 *
 * A struct peer is one loopback connection with a receive buffer, so
 * pipelined and keep-alive responses can be read one after another.
 *
 * Errors: functions return 0 (or a count) on success and -1 on failure.
 *
 * Thread safety: none; the suite is single-threaded.
 */
#ifndef ADVERSARIAL_HARNESS_H
#define ADVERSARIAL_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000
/* The longest any single exchange may take before a test fails. */
#define PEER_TIMEOUT_MS 10000

/*
 * The document root: index.html (small), big.bin (2 MiB of doc_byte) and
 * huge.bin (16 MiB of zeros, sparse): more than the kernel's socket
 * buffers hold (tcp_wmem's largest is 4 MiB by default), so a client that
 * stops reading really does stop the sending.
 */
#define DOC_INDEX "<!DOCTYPE html>\n<p>adversarial suite</p>\n"
#define DOC_BIG_LEN (2 * 1024 * 1024)
#define DOC_HUGE_LEN (16 * 1024 * 1024)

struct server_proc {
	pid_t pid; /* 0 when not running */
	int port;
	int out_fd;
	bool reaped; /* it exited on its own */
	int status;  /* its wait status once stopped, -1 if it was killed */
};

/* argv[1], its basename ("06_epoll_async"), and the root the suite made. */
extern const char *server_binary;
extern const char *server_model;
extern char doc_root[];

/* Milliseconds on CLOCK_MONOTONIC; a sleep that survives signals. */
int64_t now_ms(void);
void sleep_ms(int ms);

/* The byte at offset i of big.bin. */
unsigned char doc_byte(size_t i);

/* Makes doc_root with mkdtemp and fills it; removes it again. */
int docroot_create(void);
void docroot_remove(void);

/*
 * Starts the server with --port 0 --root doc_root --quiet and the options
 * in extra (NULL-terminated, may be NULL).  nofile > 0 sets the server's
 * RLIMIT_NOFILE (soft and hard) before exec.  Returns 0 or -1.
 */
int server_start(struct server_proc *s, const char *const *extra,
		 rlim_t nofile);

/*
 * SIGTERM, wait up to STOP_TIMEOUT_MS, then SIGKILL the process group.
 * Returns the wait status (0 for a clean exit), or -1 if it had to be
 * killed.  Idempotent.
 */
int server_stop(struct server_proc *s);

/* True while the server process has not exited. */
bool server_alive(struct server_proc *s);

/* CPU time the server process has used (user + system), in ms. */
long server_cpu_ms(const struct server_proc *s);

/* Raises this process's RLIMIT_NOFILE soft limit to at least n. */
int raise_nofile(rlim_t n);

struct peer {
	int fd;	   /* -1 when closed */
	char *buf; /* received, not yet consumed */
	size_t len;
	size_t cap;
	bool eof; /* the server closed (FIN or reset) */
};

struct reply {
	int status;
	bool close; /* Connection: close */
	size_t body_len;
	char *body; /* malloc'd, NUL-terminated; reply_free */
};

/*
 * Connects to 127.0.0.1:port.  rcvbuf > 0 sets SO_RCVBUF first (before the
 * handshake, so the window is small from the start).  The socket is
 * non-blocking with TCP_NODELAY.  Returns 0 or -1.
 */
int peer_open(struct peer *p, int port, int rcvbuf);

/* Closes (with a reset if abort), frees the buffer.  Idempotent. */
void peer_close(struct peer *p, bool abort);

/* Sends all of buf within timeout_ms.  Returns 0, or -1 (closed, late). */
int peer_send(struct peer *p, const void *buf, size_t len, int timeout_ms);
int peer_send_str(struct peer *p, const char *s, int timeout_ms);

/*
 * Reads what is there now, without waiting.  Returns bytes read, 0 when
 * nothing is there, -1 on EOF or reset (p->eof is set).
 */
ssize_t peer_fill(struct peer *p);

/*
 * Takes one complete response (Content-Length framing; none for HEAD or
 * 1xx/204/304) off the front of the buffer.  Returns 1 and fills r, 0 if it
 * is not complete yet, -1 if it is malformed.
 */
int peer_take_reply(struct peer *p, struct reply *r, bool head);

/* Waits for and takes one response.  Returns 0 or -1. */
int peer_read_reply(struct peer *p, struct reply *r, int timeout_ms);

/*
 * Reads and discards until the server closes.  Returns 1 when it closed,
 * 0 on timeout.
 */
int peer_wait_close(struct peer *p, int timeout_ms);

void reply_free(struct reply *r);

/* One GET on a fresh connection.  Returns the status, or -1. */
int fetch_status(int port, const char *path);

/*
 * active_connections from GET /api/stats (this request's own connection
 * included), or -1.
 */
int stats_active_connections(int port);

#endif /* ADVERSARIAL_HARNESS_H */
