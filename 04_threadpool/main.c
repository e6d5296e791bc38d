/*
 * 04_threadpool - a fixed pool of threads fed by a bounded queue.
 *
 * The model: --threads workers are started once; the main thread accepts
 * a connection and pushes it onto a queue of --queue slots, and the first
 * idle worker takes it and serves every request on it.  When the queue is
 * full the main thread answers 503 at once rather than wait.
 *
 * What it costs: nothing per connection but a queue slot; the threads and
 * their stacks are paid for once, at start-up, and the thread count never
 * grows (N workers + 1 acceptor) however many clients come.
 *
 * How it fails: each connection holds its worker until the client closes
 * it, idle keep-alive time included.  N idle keep-alive clients occupy all
 * N workers, and client N+1 waits in the queue until one of them reaches
 * --keepalive-timeout, with the CPU idle (Apache's worker MPM, and why it
 * grew the event MPM).
 *
 * What changed from 03_threads: pool_submit instead of pthread_create, so
 * the threads are made once; a full queue, not a count, is the limit.  A
 * stop drains the queue and joins the workers (pool_destroy).
 */
#include <stdint.h>

#include "accept.h"
#include "pool.h"
#include "serve.h"
#include "server.h"

#define MODEL "04_threadpool"

/* The workers, and the server they serve (a job gets one argument). */
static struct pool *pool;
static const struct server *the_server;

static int prepare(struct server *srv)
{
	the_server = srv;
	/* LESSON: every thread is made here, once: none per connection. */
	pool = pool_create(srv->opt.threads, srv->opt.queue);
	if (pool == NULL)
		return -1;
	pool_set_depth_gauge(pool,
			     stats_queue_gauge(srv->stats, srv->opt.queue));
	return 0;
}

/* The job: serve the one connection, then take the next job. */
static void serve_in_worker(void *arg)
{
	serve_connection(the_server, (int)(intptr_t)arg);
}

static void dispatch(struct server *srv, int fd)
{
	/*
	 * LESSON: a full queue is answered 503 at once.  Blocking here
	 * would stop accept and let the kernel's backlog fill silently; an
	 * unbounded queue would hide the overload as ever longer waits.
	 */
	if (pool_submit(pool, serve_in_worker, (void *)(intptr_t)fd) != 0)
		accept_reject(srv, fd, 503);
}

/*
 * The workers watch the same stop pipe between requests, so each finishes
 * the request in hand; pool_destroy lets them take what is still queued
 * (a client whose request has arrived gets its answer), then joins them.
 */
static void wait_for_connections(void)
{
	pool_destroy(pool);
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
		 * LESSON: dispatch returns as soon as the connection is
		 * queued, so the main thread accepts the next client while
		 * a worker serves this one.
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
