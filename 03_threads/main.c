/*
 * 03_threads - a thread per connection.
 *
 * The model: the main thread accepts a connection and starts a detached
 * thread; the thread serves every request on it and ends, while the main
 * thread goes straight back to accept.  One slow client blocks only its
 * own thread, and all the threads share one address space.
 *
 * What it costs: a pthread_create() per connection (a stack and a clone(),
 * no page tables copied) and a thread per live connection: a stack (256 KiB
 * reserved, a few pages touched), a request buffer and a kernel task.
 *
 * How it fails: thousands of live connections mean thousands of threads,
 * and memory, the thread limit and context switches give out long before
 * the CPU does (the C10K problem).  Past --max-conns the main thread
 * answers 503 instead of starting a thread.
 *
 * What changed from 02_fork: pthread_create instead of fork, so nothing is
 * reaped (a detached thread frees itself) and the counters are shared for
 * free.  A stop waits for the live count to reach zero, or exits.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "accept.h"
#include "serve.h"
#include "server.h"

#define MODEL "03_threads"

/*
 * The live threads, for --max-conns and the stop.  The main thread counts
 * a thread in, the thread counts itself out as it ends: an atomic, so the
 * two never lose an update.
 */
static atomic_int live;
static pthread_attr_t attr;
static const struct server *the_server;

/*
 * LESSON: unlike 02's children, threads share one address space: the
 * counters need no shared mapping, and any memory that two threads write
 * needs an atomic or a lock.
 */

static int prepare(struct server *srv)
{
	int rc;

	the_server = srv;
	rc = pthread_attr_init(&attr);
	if (rc == 0)
		rc = pthread_attr_setstacksize(&attr, SERVE_STACK_SIZE);
	/* Detached: a thread's resources go back when it ends, no join. */
	if (rc == 0)
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	errno = rc;
	return rc == 0 ? 0 : -1;
}

/* The thread: serve the one connection, then end. */
static void *serve_in_thread(void *arg)
{
#ifdef BREAK_FD_RACE /* the lab: read the descriptor through &fd */
	arg = (void *)(intptr_t) * (int *)arg;
#endif
	serve_connection(the_server, (int)(intptr_t)arg);
	atomic_fetch_sub(&live, 1);
	return NULL;
}

static void dispatch(struct server *srv, int fd)
{
	sigset_t all, saved;
	pthread_t tid;
	int rc;

	if (atomic_load(&live) >= srv->opt.max_conns) {
		accept_reject(srv, fd, 503);
		return;
	}
	atomic_fetch_add(&live, 1);
	/*
	 * LESSON: a signal sent to the process goes to any thread that does
	 * not block it.  The stop handler only writes to the self-pipe, so it
	 * would work on any thread, but it would also cut short whatever that
	 * thread was blocked in (a read, the sleep of /api/sleep) with EINTR.
	 * A thread inherits its creator's mask: block all, create, restore.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	/*
	 * LESSON: the descriptor goes by value, cast through intptr_t.  &fd
	 * would give every thread the address of one loop variable, which
	 * the next accept overwrites before the thread has read it.
	 */
#ifndef BREAK_FD_RACE
	rc = pthread_create(&tid, &attr, serve_in_thread, (void *)(intptr_t)fd);
#else /* the lab: &fd, a stack slot that the next dispatch reuses */
	rc = pthread_create(&tid, &attr, serve_in_thread, &fd);
#endif
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (rc != 0) {
		atomic_fetch_sub(&live, 1);
		accept_reject(srv, fd, 503); /* EAGAIN: out of threads */
	}
}

/*
 * The threads watch the same stop pipe between requests, so each finishes
 * the request in hand and ends.  A thread cannot be killed alone as a
 * child can: if some are still busy after the grace period we exit, which
 * ends them (returning would unmap the counters they still use).
 */
static void wait_for_connections(void)
{
	int left = server_wait_live(&live);

	if (left > 0) {
		fprintf(stderr, "%s: %d connections cut off\n", MODEL, left);
		exit(0);
	}
	pthread_attr_destroy(&attr);
}

static int run(struct server *srv)
{
	int fd;

	/*
	 * LESSON: every thread serves files: one cache, under its lock.
	 * Every thread checks the rate limit too: one table of buckets,
	 * under striped locks, so two clients rarely wait for each other.
	 */
	if (app_open_files(&srv->app, &srv->opt, FILE_CACHE_SHARED) != 0 ||
	    server_open_ratelimit(srv, RATELIMIT_THREADS) != 0 ||
	    prepare(srv) != 0)
		return -1;
	while ((fd = accept_wait(srv)) >= 0) {
		/*
		 * LESSON: dispatch returns as soon as the thread exists, so
		 * the main thread accepts the next client while this one is
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
