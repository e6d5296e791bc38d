/*
 * 02_fork - a child process per connection.
 *
 * The model: the parent accepts a connection and fork()s; the child serves
 * every request on it and exits, while the parent goes straight back to
 * accept.  One slow client blocks only its own child.
 *
 * What it costs: a fork() per connection (a copy of the page tables, then
 * a page fault for each page either side writes first) and a process per
 * live connection.  Children share nothing but what was mapped shared
 * before the fork: no common cache.
 *
 * How it fails: a burst of short connections spends its time forking, and
 * thousands of live ones eat memory and the process table.  Past
 * --max-conns the parent answers 503 instead of forking.
 *
 * What changed from 01_blocking: serve_connection runs in a child; the
 * parent reaps children in a SIGCHLD handler and, on a stop, waits for
 * them (a grace period, then SIGKILL).
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "accept.h"
#include "log.h"
#include "serve.h"
#include "server.h"

#define MODEL "02_fork"

/*
 * The live children, for --max-conns and the stop.  The SIGCHLD handler
 * takes them out of the table while the parent puts them in, so the parent
 * blocks SIGCHLD meanwhile; a lock-free atomic is safe in a handler.
 */
static atomic_int live;
static pid_t *children; /* max_conns slots, 0 = free */
static sigset_t sigchld;
static const struct server *the_server;

/*
 * LESSON: after fork() a child's globals are its own copy-on-write copy.
 * /api/stats sees every child's requests only because the counters live in
 * a MAP_SHARED mapping made before the first fork (stats.c).
 */

/* Reaps the children that have exited; flags 0 waits for one at least. */
static void reap_children(int flags)
{
	for (;;) {
		pid_t pid = waitpid(-1, NULL, flags);

		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return; /* none has exited (WNOHANG), or none is left */
		for (int i = 0; i < the_server->opt.max_conns; i++) {
			if (children[i] == pid)
				children[i] = 0;
		}
		atomic_fetch_sub(&live, 1);
		stats_process_exited(the_server->stats);
		flags |= WNOHANG;
	}
}

/*
 * LESSON: children are reaped in a SIGCHLD handler, not in the accept
 * loop: accept_wait() sleeps in poll() until a client or a stop comes,
 * so zombies would pile up for as long as the server is idle.  One SIGCHLD
 * may stand for many exits (signals do not queue), hence the loop; errno
 * is saved because the handler interrupts code that may be about to read
 * it.  SA_RESTART spares the parent's other calls an EINTR.
 */
static void on_sigchld(int sig)
{
	int saved = errno;

	(void)sig;
	reap_children(WNOHANG);
	errno = saved;
}

static int prepare(struct server *srv)
{
	struct sigaction sa = { .sa_handler = on_sigchld,
				.sa_flags = SA_RESTART | SA_NOCLDSTOP };

	the_server = srv;
	children = calloc((size_t)srv->opt.max_conns, sizeof(*children));
	if (children == NULL)
		return -1;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&sigchld);
	sigaddset(&sigchld, SIGCHLD);
#ifdef BREAK_NO_REAP /* the lab: no handler, and the zombies stay */
	return 0;
#endif
	return sigaction(SIGCHLD, &sa, NULL);
}

/* The child: serve the one connection, then leave. */
static void serve_in_child(struct server *srv, int fd, const sigset_t *mask)
{
	signal(SIGCHLD, SIG_DFL); /* the parent's children are not ours */
	sigprocmask(SIG_SETMASK, mask, NULL);
	close(srv->listen_fd);
	serve_connection(srv, fd);
	/*
	 * LESSON: _exit, not exit: exit() would run the parent's atexit
	 * handlers and flush a copy of its stdio buffers a second time.
	 */
	_exit(0);
}

static void dispatch(struct server *srv, int fd)
{
	sigset_t saved;
	pid_t pid;
	int i;

	if (atomic_load(&live) >= srv->opt.max_conns) {
		accept_reject(srv, fd, 503);
		return;
	}
	/*
	 * The parent never logs: after a SIGHUP it reopens the log here, or
	 * it would keep the rotated file open and every child would reopen.
	 */
	log_reopen_if_requested();
	sigprocmask(SIG_BLOCK, &sigchld, &saved);
	pid = fork();
	if (pid == 0)
		serve_in_child(srv, fd, &saved);
	if (pid > 0) {
		for (i = 0; children[i] != 0; i++)
			; /* a slot is free: live < max_conns */
		children[i] = pid;
		atomic_fetch_add(&live, 1);
		stats_process_started(srv->stats);
	}
	sigprocmask(SIG_SETMASK, &saved, NULL);
	if (pid < 0)
		accept_reject(srv, fd, 503); /* fork failed: EAGAIN, ENOMEM */
	else
		close(fd); /* LESSON: the child has its own copy; drop ours */
}

/*
 * The children watch the same stop pipe (inherited) between requests, so
 * each finishes the request in hand and exits.  Those still busy after the
 * grace period are killed, and every child is reaped before we return.
 */
static void wait_for_connections(void)
{
	int left = server_wait_live(&live);

	sigprocmask(SIG_BLOCK, &sigchld, NULL);
	if (left > 0)
		fprintf(stderr, "%s: %d connections cut off\n", MODEL, left);
	for (int i = 0; i < the_server->opt.max_conns; i++) {
		if (children[i] != 0)
			kill(children[i], SIGKILL);
	}
	while (atomic_load(&live) > 0)
		reap_children(0);
	free(children);
}

static int run(struct server *srv)
{
	int fd;

	/*
	 * LESSON: each child gets a copy of this cache as it is at the
	 * fork - empty, since the parent serves nothing - and fills its
	 * own, which dies with it: it helps only the requests of one
	 * keep-alive connection.
	 */
	/*
	 * LESSON: the rate limit cannot work that way - a client that opens
	 * a new connection per request would get a new child, and a fresh
	 * copy of the buckets, each time.  So the buckets are made here,
	 * before the first fork, in a MAP_SHARED mapping every child sees,
	 * under process-shared locks (ratelimit.c says why robust ones).
	 */
	if (app_open_files(&srv->app, &srv->opt, FILE_CACHE_PRIVATE) != 0 ||
	    server_open_ratelimit(srv, RATELIMIT_PROCESSES) != 0 ||
	    prepare(srv) != 0)
		return -1;
	while ((fd = accept_wait(srv)) >= 0) {
		/*
		 * LESSON: dispatch returns as soon as the child exists, so
		 * the parent accepts the next client while this one is
		 * served.
		 */
		dispatch(srv, fd);
	}
	server_stop_listening(srv);
	wait_for_connections();
	app_close_files(&srv->app);
	return 0;
}

int main(int argc, char **argv)
{
	return server_main(argc, argv, MODEL, run);
}
