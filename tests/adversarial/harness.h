/*
 * harness.h - the adversarial suite's document root and server options.
 *
 *   build/tests/adversarial-suite path/to/server-binary [cmocka filter]
 *
 * Every test starts its own server with --port 0 through tests/lib
 * (server_proc.h), talks to it with tests/lib's client (client.h), and
 * the teardown stops it: SIGTERM, then SIGKILL to the group if it has not
 * exited within STOP_TIMEOUT_MS.  Every wait has a deadline, so a server
 * that misbehaves fails a test; it never hangs the suite.
 *
 * Errors: functions return 0 (or a count) on success and -1 on failure.
 *
 * Thread safety: none; the suite is single-threaded.
 */
#ifndef ADVERSARIAL_HARNESS_H
#define ADVERSARIAL_HARNESS_H

#include <stddef.h>
#include <sys/resource.h>

#include "client.h"
#include "server_proc.h"

#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000
/* The longest any single exchange may take before a test fails. */
#define EXCHANGE_TIMEOUT_MS 10000

/*
 * The document root: index.html (small), big.bin (2 MiB of doc_byte) and
 * huge.bin (16 MiB of zeros, sparse): more than the kernel's socket
 * buffers hold (tcp_wmem's largest is 4 MiB by default), so a client that
 * stops reading really does stop the sending.
 */
#define DOC_INDEX "<!DOCTYPE html>\n<p>adversarial suite</p>\n"
#define DOC_BIG_LEN (2 * 1024 * 1024)
#define DOC_HUGE_LEN (16 * 1024 * 1024)

/* argv[1], its basename ("06_epoll_async"), and the root the suite made. */
extern const char *server_binary;
extern const char *server_model;
extern char doc_root[];

/* The byte at offset i of big.bin. */
unsigned char doc_byte(size_t i);

/* Makes doc_root with mkdtemp and fills it; removes it again. */
int docroot_create(void);
void docroot_remove(void);

/*
 * Starts the server with --port 0 --root doc_root --quiet and the options
 * in extra (NULL-terminated, may be NULL).  nofile > 0 sets the server's
 * RLIMIT_NOFILE (soft and hard).  Returns 0, or -1 (server_error() says
 * why).  server_terminate() and server_kill() stop it.
 */
int harness_start(struct server_proc *s, const char *const *extra,
		  rlim_t nofile);

/* Raises this process's RLIMIT_NOFILE soft limit to at least n. */
int raise_nofile(rlim_t n);

/* One GET on a fresh connection.  Returns the status, or -1. */
int fetch_status(int port, const char *path);

/*
 * active_connections from GET /api/stats (this request's own connection
 * included), or -1.
 */
int stats_active_connections(int port);

#endif /* ADVERSARIAL_HARNESS_H */
