/*
 * server.h - what every model's main() shares: the server's state, start-up
 * (options, root, log, counters, listener, signals) and the stop request.
 *
 * Stopping: SIGINT and SIGTERM write one byte into a pipe that is never
 * drained (the self-pipe trick), so srv->stop_fd becomes readable for good.
 * Every loop that waits - accept, a keep-alive read, poll, epoll - also
 * waits on stop_fd, in every thread and in forked children alike, and so
 * learns of the stop without polling a flag on a timer.
 *
 * Thread safety: server_setup/server_teardown are for main() only; the rest
 * may be called from any thread or child.
 */
#ifndef SERVER_H
#define SERVER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "http_parser.h"
#include "options.h"
#include "stats.h"

struct server {
	const char *model; /* "01_blocking", for /api/stats and pages */
	struct options opt;
	char root[PATH_MAX]; /* --root, resolved */
	struct http_limits limits;
	int listen_fd;
	int stop_fd;	     /* readable once a stop was requested */
	int stop_write_fd;   /* the signal handler writes here */
	int log_fd;	     /* access log, or -1 */
	struct stats *stats; /* shared mapping */
};

/*
 * Resolves the root, opens the log, maps the counters, opens the listener,
 * ignores SIGPIPE and installs the stop handlers (without SA_RESTART, so a
 * blocked accept or read returns EINTR).  Returns 0, or -1 with a message
 * in err.
 */
int server_setup(struct server *srv, const char *model,
		 const struct options *opt, char *err, size_t errsz);

/* Closes what server_setup opened. */
void server_teardown(struct server *srv);

/* True once SIGINT/SIGTERM arrived (or server_request_stop ran). */
bool server_stopping(const struct server *srv);

/* Asks for a stop as a signal would. */
void server_request_stop(const struct server *srv);

/*
 * The main() every model shares: parses options, sets the server up, prints
 * "listening on http://HOST:PORT" (flushed), calls run(srv), tears down.
 * Returns the process exit status (0, or 2 for bad options or start-up).
 */
int server_main(int argc, char **argv, const char *model,
		int (*run)(struct server *srv));

/*
 * The blocking models' accept: waits until a client connects or a stop is
 * requested.  Returns the connected socket (close-on-exec), or -1 when the
 * server is stopping.  Transient errors (a client that gave up, EINTR) are
 * retried; running out of descriptors or memory waits 100 ms and retries,
 * so the caller's loop neither spins nor dies.
 */
int server_accept(const struct server *srv);

/*
 * The size of one connection's request buffer: http_request_buffer_size()
 * of srv->limits, room for any request they allow, chunk framing included.
 * The parser refuses a request (413, 414, 431) before it outgrows this.
 */
size_t server_request_buffer_size(const struct server *srv);

/* Milliseconds on CLOCK_MONOTONIC, for timeouts. */
long long server_now_ms(void);

#endif /* SERVER_H */
