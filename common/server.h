/*
 * server.h - the process: the server's state, start-up (options, root,
 * log, counters, listener, signals), the stop, teardown, and the main()
 * that every model shares.
 *
 * Stopping: SIGINT and SIGTERM write one byte into a pipe that is never
 * drained (the self-pipe trick), so srv->stop_fd becomes readable for good.
 * Every loop that waits - accept, a keep-alive read, poll, epoll - also
 * waits on stop_fd, in every thread and in forked children alike, and so
 * learns of the stop without polling a flag on a timer.
 *
 * SIGHUP reopens the --access-log file (log rotation: log.h), in every
 * thread and in 02's children; without --access-log it is ignored.
 *
 * Thread safety: struct server is filled by server_setup() and only read
 * after, by every thread and child, except listen_fd, which only the main
 * thread uses.  Every function here is for the main thread, but
 * server_wait_live() may read a count other threads change, and
 * server_request_stop() is safe from any thread.
 */
#ifndef SERVER_H
#define SERVER_H

#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "app.h"
#include "http_parser.h"
#include "net.h"
#include "options.h"
#include "ratelimit.h"
#include "stats.h"

struct server {
	struct app app; /* what the handlers read: root, model, stats */
	struct options opt;
	char root[PATH_MAX]; /* --root, resolved */
	struct http_limits limits;
	int listen_fd;
	int stop_fd;		     /* readable once a stop was requested */
	int stop_write_fd;	     /* the signal handler writes here */
	int log_fd;		     /* access log, or -1 */
	struct stats *stats;	     /* shared mapping */
	struct ratelimit *ratelimit; /* --rate-limit, or NULL: no limit */
};

/*
 * Resolves the root, opens the log, maps the counters, opens the listener
 * (non-blocking; with TCP_NODELAY and a send timeout of
 * opt.keepalive_timeout_ms that every accepted socket inherits; shared
 * with SO_REUSEPORT when opt.loops > 1), ignores SIGPIPE, installs the stop
 * handlers (without SA_RESTART, so a blocked accept or read returns EINTR)
 * and the SIGHUP handler (with SA_RESTART).  Returns 0, or -1 with a
 * message in err.
 */
int server_setup(struct server *srv, const char *model,
		 const struct options *opt, char *err, size_t errsz);

/* Closes what server_setup opened. */
void server_teardown(struct server *srv);

/*
 * The main() every model shares: parses options, sets the server up, prints
 * "listening on http://HOST:PORT" (flushed), calls run(srv), tears down.
 * run returns 0 once the server has stopped, or -1 with errno if the model
 * could not start (its threads, its pool, its epoll set): server_main then
 * reports "MODEL: reason".  Returns the process exit status: 0, or 2 for
 * bad options or a failed start-up.
 */
int server_main(int argc, char **argv, const char *model,
		int (*run)(struct server *srv));

/*
 * 06 with --loops N: opens one more listener on the port srv->listen_fd
 * is bound to, configured alike, for an event loop of its own; the kernel
 * spreads new connections over the listeners (see net_listen_again).
 * Only when opt.loops > 1 (the first listener must share its port).
 * Returns the descriptor, the caller's to close, or -1 with errno set.
 */
int server_listen_again(const struct server *srv);

/*
 * With --rate-limit above 0, makes srv->ratelimit, the buckets, shared as
 * the model says (ratelimit.h); else leaves it NULL.  Called by each
 * model's run() before it serves anything - in 02 before the first fork,
 * so that every child has the same table.  Returns 0, or -1 with errno.
 */
int server_open_ratelimit(struct server *srv, enum ratelimit_sharing sharing);

/*
 * Frees what server_open_ratelimit made (server_teardown does); no request
 * may be under way.
 */
void server_close_ratelimit(struct server *srv);

/*
 * Requests a stop, as SIGINT and SIGTERM do: every wait sees stop_fd
 * readable.  For a model whose start-up failed half-way, to end the
 * threads it had started.  Safe from any thread.
 */
void server_request_stop(const struct server *srv);

/*
 * The first step of every stop: closes the listener (srv->listen_fd
 * becomes -1).  Clients that connect from now on are refused at once
 * instead of waiting in the backlog for a server that will not come.
 */
void server_stop_listening(struct server *srv);

/* How long 02 and 03 let the requests in hand finish after a stop. */
#define SERVER_GRACE_MS 10000

/*
 * The stop of the models with a process or thread per connection (02, 03):
 * waits until *live, their count of connections, falls to zero or
 * SERVER_GRACE_MS have passed.  Returns the count still live (0 when all
 * have finished).
 */
int server_wait_live(const atomic_int *live);

#endif /* SERVER_H */
