/*
 * 06_epoll_async - an epoll loop, and a worker pool for handlers that block.
 *
 * The model: the state machine of 05, driven by epoll, whose interest list
 * lives in the kernel, so a turn costs what is ready, not what is open.
 * Deadlines sit in lists sorted by time.  A request whose route may block
 * goes to a pool of workers and comes back through an eventfd; socket I/O
 * never leaves the loop's thread.
 *
 * With --loops N there are N such loops, each a thread with its own
 * epoll set and its own listener on the one port (SO_REUSEPORT), sharing
 * the pool: one core each.
 *
 * What it costs: a struct conn of under 200 bytes per idle connection, N
 * worker threads, and reasoning: a completion list under a mutex, and the
 * rule that the loop does not touch a connection while a worker has it.
 *
 * How it fails: a loop is still one thread, so slow work not marked
 * may_block stalls every client of that loop as in 05.  With every worker
 * busy and the queue full, blocking requests get 503 while static files
 * keep flowing.
 *
 * What changed from 05_nonblocking_poll: epoll_ctl when a connection's
 * wants change instead of an array rebuilt every turn, sorted timer lists
 * instead of a scan, CONN_WANT_WORKER: the hand-off to the pool, and
 * --loops: a loop is a struct with its own listener and completion list,
 * so there can be several.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "accept.h"
#include "clock.h"
#include "conn.h"
#include "pool.h"
#include "server.h"

#define MODEL "06_epoll_async"

/*
 * How long a stopping server lets responses in flight finish.  The queued
 * blocking jobs are still run after it (pool_destroy drains the queue), so
 * a stop may take longer: see docs/06_epoll_async.md, Stopping.
 */
#define GRACE_MS 2000
/* Events taken from the kernel per epoll_wait. */
#define MAX_EVENTS 256

/* Finished hand-offs: a worker appends under the lock, then wakes us. */
struct done {
	pthread_mutex_t lock;
	struct conn_list list;
	int efd; /* an eventfd */
};

/* One event loop: a thread, its epoll set, its listener, its conns. */
struct loop {
	struct server *srv;
	struct conn_shared sh;
	int live; /* open connections */
	bool stopping;
	long long grace_end_ms;	    /* when stopping: close what is left */
	long long accept_paused_ms; /* listener ignored until then */
	struct conn_timers timers;  /* every open conn not with a worker */
	int epfd;
	int listen_fd;		 /* this loop's own */
	struct pool *pool;	 /* every loop's */
	struct conn_list closed; /* freed after the event batch */
	struct done done;
	pthread_t thread; /* all loops but the first, which is main's */
};

/* Open connections of every loop, for --max-conns. */
static atomic_int live_total;

/*
 * LESSON: the connections in one batch of events can affect each other: a
 * stop closes the idle ones, an accept may reuse a closed one's descriptor.
 * So a closed connection is only marked (fd -1) and parked until the batch
 * is done: a stale event still finds valid memory, and it says "closed".
 */
static void sweep_closed(struct loop *l)
{
	struct conn *c;

	while ((c = l->closed.head) != NULL) {
		conn_list_remove(&l->closed, c);
		free(c);
	}
}

/* Closes c; sweep_closed() frees it at the end of the turn. */
static void close_conn(struct loop *l, struct conn *c)
{
	conn_timers_remove(&l->timers, c);
	conn_close(c); /* close() also drops it from the epoll set */
	l->live--;
	atomic_fetch_sub(&live_total, 1);
	conn_list_append(&l->closed, c);
}

/*
 * LESSON: epoll keeps the interest list in the kernel: we say only what
 * changes (ADD once, MOD when read turns to write).  Level-triggered, like
 * poll: a socket with bytes left is reported again next turn, so one read
 * per turn is fair and nothing is lost.  Edge-triggered would save MODs,
 * but every handler would have to drain to EAGAIN under a per-turn cap.
 */
static void watch(struct loop *l, struct conn *c, enum conn_want want)
{
	struct epoll_event ev = {
		.events = want == CONN_WANT_WRITE ? EPOLLOUT : EPOLLIN,
		.data.ptr = c,
	};
	int op = c->events == 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD;

#ifdef BREAK_ET_NO_DRAIN /* the lab: edge-triggered, and nobody drains */
	ev.events |= EPOLLET;
#endif
	conn_timers_update(&l->timers, c);
	if (ev.events == c->events)
		return;
	if (epoll_ctl(l->epfd, op, c->fd, &ev) != 0) {
		close_conn(l, c);
		return;
	}
	c->events = ev.events;
}

/* The loop c belongs to: the one whose conn_shared it points to. */
static struct loop *home_of(struct conn *c)
{
	return (struct loop *)((char *)c->sh - offsetof(struct loop, sh));
}

/* On a worker thread: run the handler, then send c home. */
static void worker_job(void *arg)
{
	struct conn *c = arg;
	struct done *done = &home_of(c)->done;

	conn_handle_request(c);
	pthread_mutex_lock(&done->lock);
	conn_list_append(&done->list, c);
	pthread_mutex_unlock(&done->lock);
	eventfd_write(done->efd, 1); /* adds up: many finish, one wake-up */
}

/*
 * Gives c's request to the pool.  Until it is back, the loop neither
 * watches nor times out c: nobody reads it, nobody frees it.  Returns
 * CONN_WANT_WORKER, or what c wants after a 503 if the queue is full or
 * the pool is gone (the last moments of a stop).
 */
static enum conn_want hand_off(struct loop *l, struct conn *c)
{
	conn_timers_remove(&l->timers, c);
	if (c->events != 0 && epoll_ctl(l->epfd, EPOLL_CTL_DEL, c->fd, NULL))
		return CONN_WANT_CLOSE;
	c->events = 0;
	if (l->pool != NULL && pool_submit(l->pool, worker_job, c) == 0)
		return CONN_WANT_WORKER;
	return conn_refuse_handoff(c, 503);
}

/* Turns what a connection wants into what the loop does. */
static void apply(struct loop *l, struct conn *c, enum conn_want want)
{
	/* A stopping server closes connections as soon as they go idle. */
	if (want == CONN_WANT_READ && l->stopping && conn_is_idle(c))
		want = CONN_WANT_CLOSE;
	if (want == CONN_WANT_WORKER)
		want = hand_off(l, c);
	switch (want) {
	case CONN_WANT_READ:
	case CONN_WANT_WRITE:
		watch(l, c, want);
		break;
	case CONN_WANT_WORKER: /* a worker has it now */
		break;
	case CONN_WANT_CLOSE:
		close_conn(l, c);
		break;
	}
}

/* Watches one of the loop's own descriptors; the tag tells which. */
static int watch_fd(struct loop *l, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev);
}

/*
 * LESSON: on EMFILE the client stays in the backlog and the listener stays
 * readable: accepting again at once would spin.  So the listener rests for
 * a moment; timeouts and closes free descriptors, and the waiting clients
 * are accepted then.  (The other cure, a spare descriptor closed to accept
 * and drop the client, sheds the client instead of making it wait.)
 */
static void pause_accepting(struct loop *l)
{
	l->accept_paused_ms = clock_now_ms() + ACCEPT_PAUSE_MS;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->listen_fd, NULL);
}

/* Accepts every waiting client (until EAGAIN). */
static void accept_clients(struct loop *l)
{
	while (!l->stopping) {
		int fd = accept_nowait(l->listen_fd);
		struct conn *c = NULL;

		if (fd < 0) {
			if (errno != EAGAIN)
				pause_accepting(l);
			return;
		}
		/* Past the cap, or out of memory: answer 503 and close. */
		if (atomic_fetch_add(&live_total, 1) < l->srv->opt.max_conns)
			c = malloc(sizeof(*c));
		if (c == NULL) {
			atomic_fetch_sub(&live_total, 1);
			accept_reject(l->srv, fd, 503);
			continue;
		}
		conn_open(c, &l->sh, fd);
		l->live++;
		watch(l, c, CONN_WANT_READ);
	}
}

/* Closes every connection that is between requests. */
static void close_idle(struct loop *l)
{
	struct conn *c, *next;

	c = l->timers.lists[CONN_TIMER_KEEPALIVE].head; /* idle ones are here */
	for (; c != NULL; c = next) {
		next = c->next;
		if (conn_is_idle(c))
			close_conn(l, c);
	}
}

/* SIGTERM: stop accepting, close the idle, let the busy finish. */
static void begin_stop(struct loop *l)
{
	l->stopping = true;
	l->grace_end_ms = clock_now_ms() + GRACE_MS;
	/* The stop pipe stays readable: level-triggered, it would spin. */
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->srv->stop_fd, NULL);
	close(l->listen_fd); /* it leaves the epoll set too */
	l->listen_fd = -1;
	close_idle(l);
}

/*
 * The eventfd woke us: take every finished connection at once (wake-ups
 * coalesce, so one may stand for many) and start their responses.
 */
static void finish_handoffs(struct loop *l)
{
	struct conn_list list;
	struct conn *c;
	eventfd_t count;

	eventfd_read(l->done.efd, &count);
	pthread_mutex_lock(&l->done.lock);
	list = l->done.list;
	l->done.list = (struct conn_list){ NULL, NULL };
	pthread_mutex_unlock(&l->done.lock);
	while ((c = list.head) != NULL) {
		conn_list_remove(&list, c);
		apply(l, c, conn_finish_handoff(c));
	}
}

/* Milliseconds until the earliest deadline, for epoll; -1 for none. */
static int next_timeout(struct loop *l)
{
	long long now = clock_now_ms(), first = CLOCK_NEVER;
	struct conn *c;

	/* The lists are sorted: no scan (see conn_timers in conn.h). */
	c = conn_timers_first(&l->timers);
	if (c != NULL && conn_deadline_ms(c) < first)
		first = conn_deadline_ms(c);
	if (l->accept_paused_ms > now && l->accept_paused_ms < first)
		first = l->accept_paused_ms;
	if (l->stopping && l->grace_end_ms < first)
		first = l->grace_end_ms;
	return clock_timeout_ms(first);
}

/* Watches the listener again once its rest is over. */
static void resume_accepting(struct loop *l)
{
	if (l->accept_paused_ms == 0 || clock_now_ms() < l->accept_paused_ms)
		return;
	l->accept_paused_ms = 0;
	if (!l->stopping)
		watch_fd(l, l->listen_fd, &l->listen_fd);
}

/* One turn: wait for readiness, then let every ready connection run. */
static void wait_and_dispatch(struct loop *l)
{
	struct epoll_event evs[MAX_EVENTS];
	int i, n;

	resume_accepting(l);
	n = epoll_wait(l->epfd, evs, MAX_EVENTS, next_timeout(l));
	for (i = 0; i < n; i++) {
		void *tag = evs[i].data.ptr;
		struct conn *c = tag;
		uint32_t ev = evs[i].events;

		if (tag == &l->srv->stop_fd)
			begin_stop(l);
		else if (tag == &l->listen_fd)
			accept_clients(l);
		else if (tag == &l->done)
			finish_handoffs(l);
		else if (c->fd < 0)
			continue; /* closed earlier in this batch */
		else if (ev & EPOLLOUT)
			apply(l, c, conn_on_writable(c));
		else
			apply(l, c, conn_on_readable(c));
	}
}

/* Times out every connection whose deadline has passed. */
static void expire_timeouts(struct loop *l)
{
	long long now = clock_now_ms();
	struct conn *c;

	/* LESSON: only the expired are looked at, not every connection. */
	while ((c = conn_timers_first(&l->timers)) != NULL &&
	       conn_deadline_ms(c) <= now)
		apply(l, c, conn_on_timeout(c));
}

/*
 * The end of the grace period, once the pool is gone (run): close
 * whatever is still open.
 */
static void close_all(struct loop *l)
{
	struct conn *c;

	/*
	 * The workers have finished: their conns are ours.  A request
	 * pipelined behind one of them can no longer be handed off (hand_off
	 * answers it 503); the loop below then closes every connection.
	 */
	l->pool = NULL;
	while ((c = l->done.list.head) != NULL) {
		conn_list_remove(&l->done.list, c);
		apply(l, c, conn_finish_handoff(c)); /* one last try to send */
	}
	while ((c = conn_timers_first(&l->timers)) != NULL)
		close_conn(l, c);
	sweep_closed(l);
}

/* Sets l up; it owns listen_fd from now on, unless this fails. */
static int loop_init(struct loop *l, struct server *srv, struct pool *pool,
		     int listen_fd)
{
	memset(l, 0, sizeof(*l));
	l->srv = srv;
	l->pool = pool;
	l->listen_fd = listen_fd;
	conn_shared_init(&l->sh, srv, CONN_HANDLERS_OFFLOAD_BLOCKING);
	pthread_mutex_init(&l->done.lock, NULL);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		goto out_destroy_lock;
	l->done.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->done.efd < 0 || watch_fd(l, l->done.efd, &l->done) != 0 ||
	    watch_fd(l, srv->stop_fd, &srv->stop_fd) != 0 ||
	    watch_fd(l, listen_fd, &l->listen_fd) != 0)
		goto out_close_epoll;
	pool_set_depth_gauge(l->pool,
			     stats_queue_gauge(srv->stats, srv->opt.queue));
	return 0;

out_close_epoll:
	if (l->done.efd >= 0)
		close(l->done.efd);
	close(l->epfd);
out_destroy_lock:
	pthread_mutex_destroy(&l->done.lock);
	return -1;
}

static void loop_destroy(struct loop *l)
{
	if (l->listen_fd >= 0)
		close(l->listen_fd);
	close(l->done.efd);
	close(l->epfd);
	pthread_mutex_destroy(&l->done.lock);
	conn_shared_destroy(&l->sh);
}

/* A loop's life: until a stop, and the grace after it. */
static void loop_run(struct loop *l)
{
	while (!l->stopping ||
	       (l->live > 0 && clock_now_ms() < l->grace_end_ms)) {
		wait_and_dispatch(l);
		expire_timeouts(l);
		sweep_closed(l);
	}
}

/* Every loop but the first runs on a thread of its own. */
static void *loop_thread(void *arg)
{
	loop_run(arg);
	return NULL;
}

/*
 * Sets up the loops; the first takes the listener server_setup opened
 * (so the stop closes it there, and server_teardown finds -1), the others
 * open their own.  Returns how many are ready: all, or fewer on an error
 * (errno set).
 *
 * LESSON: N loops on one listener would all wake for every client (the
 * thundering herd); EPOLLEXCLUSIVE wakes one, but the one that wakes takes
 * every client waiting, so a burst of keep-alive clients can all land on
 * one loop and stay there.  A listener per loop (SO_REUSEPORT) lets the
 * kernel hash each client to a loop: an even spread, no shared queue, and
 * each loop closes its own listener at the stop.  The price: the hash
 * does not look at load, so a busy loop gets its share all the same.
 * docs/06_epoll_async.md has the measurements.
 */
static int loops_init(struct loop *loops, int n, struct server *srv,
		      struct pool *pool)
{
	int i;

	for (i = 0; i < n; i++) {
		int fd = i == 0 ? srv->listen_fd : server_listen_again(srv);

		if (fd < 0)
			break;
		if (loop_init(&loops[i], srv, pool, fd) != 0) {
			int saved = errno;

			if (i > 0)
				close(fd);
			errno = saved;
			break;
		}
	}
	if (i > 0)
		srv->listen_fd = -1; /* the first loop owns it now */
	return i;
}

/*
 * Starts every loop but the first on a thread of its own, with every
 * signal blocked, so the stop's signal interrupts the main thread only.
 * Returns how many loops run, the first included: n, or fewer (errno).
 */
static int loops_start(struct loop *loops, int n)
{
	sigset_t all, saved;
	int i;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	for (i = 1; i < n; i++) {
		errno = pthread_create(&loops[i].thread, NULL, loop_thread,
				       &loops[i]);
		if (errno != 0)
			break;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return i;
}

/*
 * Runs the first loop on this thread until the stop, then joins the
 * others.  After a failed start-up a stop is requested first, so that
 * the loops already running end.
 */
static void loops_run(struct server *srv, struct loop *loops, int started,
		      int wanted)
{
	if (started < wanted)
		server_request_stop(srv);
	loop_run(&loops[0]);
	for (int i = 1; i < started; i++)
		pthread_join(loops[i].thread, NULL);
}

static int run(struct server *srv)
{
	int n = srv->opt.loops, ready = 0, started = 0, err;
	struct loop *loops = calloc((size_t)n, sizeof(*loops));
	struct pool *pool = NULL;

	/*
	 * LESSON: files are never may_block, so only the loops' threads serve
	 * them, never a worker: with one loop the cache is its alone and
	 * needs no lock, as in 05; with --loops N the loops share it, locked.
	 * The rate limit likewise: the loop checks a request when it is
	 * complete, before any worker sees it.  With --loops N one client's
	 * connections land on any loop (the kernel hashes its port too), so
	 * the loops share one table, under striped locks.
	 */
	if (app_open_files(&srv->app, &srv->opt,
			   n > 1 ? FILE_CACHE_SHARED : FILE_CACHE_PRIVATE) !=
		    0 ||
	    server_open_ratelimit(srv, n > 1 ? RATELIMIT_THREADS
					     : RATELIMIT_PRIVATE) != 0) {
		free(loops);
		return -1;
	}
	/* LESSON: one pool for every loop: blocking work has no core. */
	if (loops != NULL)
		pool = pool_create(srv->opt.threads, srv->opt.queue);
	if (pool != NULL)
		ready = loops_init(loops, n, srv, pool);
	if (ready == n)
		started = loops_start(loops, n);
	err = started == n ? 0 : errno;
	if (started > 0)
		loops_run(srv, loops, started, n);
	/* The workers finish what they hold; then each loop closes its own. */
	if (pool != NULL)
		pool_destroy(pool);
	for (int i = 0; i < ready; i++) {
		close_all(&loops[i]);
		loop_destroy(&loops[i]);
	}
	free(loops);
	app_close_files(&srv->app);
	errno = err;
	return err == 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
	return server_main(argc, argv, MODEL, run);
}
