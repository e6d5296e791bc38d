/*
 * 06_epoll_async - an epoll loop, and a worker pool for handlers that block.
 *
 * The model: the state machine of 05, driven by epoll, whose interest list
 * lives in the kernel, so a turn costs what is ready, not what is open.
 * Deadlines sit in lists sorted by time.  A request whose route may block
 * goes to a pool of workers and comes back through an eventfd; socket I/O
 * never leaves the loop's thread.
 *
 * What it costs: a struct conn of under 200 bytes per idle connection, N
 * worker threads, and reasoning: a completion list under a mutex, and the
 * rule that the loop does not touch a connection while a worker has it.
 *
 * How it fails: the loop is still one thread, so slow work not marked
 * may_block stalls everybody as in 05.  With every worker busy and the
 * queue full, blocking requests get 503 while static files keep flowing.
 *
 * What changed from 05_nonblocking_poll: epoll_ctl when a connection's
 * wants change instead of an array rebuilt every turn, sorted timer lists
 * instead of a scan, and CONN_WANT_WORKER: the hand-off to the pool.
 */
#include <errno.h>
#include <pthread.h>
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

/* How long a stopping server lets responses in flight finish. */
#define GRACE_MS 2000
/* Events taken from the kernel per epoll_wait. */
#define MAX_EVENTS 256

struct loop {
	struct server *srv;
	struct conn_shared sh;
	int live; /* open connections */
	bool stopping;
	long long grace_end_ms;	    /* when stopping: close what is left */
	long long accept_paused_ms; /* listener ignored until then */
	struct conn_timers timers;  /* every open conn not with a worker */
	int epfd;
	struct pool *pool;
	struct conn_list closed; /* freed after the event batch */
};

/* Finished hand-offs: a worker appends under the lock, then wakes us. */
static struct {
	pthread_mutex_t lock;
	struct conn_list list;
	int efd; /* an eventfd */
} done = { .lock = PTHREAD_MUTEX_INITIALIZER, .efd = -1 };

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

/* On a worker thread: run the handler, then send c home. */
static void worker_job(void *arg)
{
	struct conn *c = arg;

	conn_handle_request(c);
	pthread_mutex_lock(&done.lock);
	conn_list_append(&done.list, c);
	pthread_mutex_unlock(&done.lock);
	eventfd_write(done.efd, 1); /* adds up: many finish, one wake-up */
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
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, l->srv->listen_fd, NULL);
}

/* Accepts every waiting client (until EAGAIN). */
static void accept_clients(struct loop *l)
{
	while (!l->stopping) {
		int fd = accept_nowait(l->srv->listen_fd);
		struct conn *c;

		if (fd < 0) {
			if (errno != EAGAIN)
				pause_accepting(l);
			return;
		}
		/* Past the cap, or out of memory: answer 503 and close. */
		c = l->live < l->srv->opt.max_conns ? malloc(sizeof(*c)) : NULL;
		if (c == NULL) {
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
	server_stop_listening(l->srv); /* it leaves the epoll set too */
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

	eventfd_read(done.efd, &count);
	pthread_mutex_lock(&done.lock);
	list = done.list;
	done.list = (struct conn_list){ NULL, NULL };
	pthread_mutex_unlock(&done.lock);
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
		watch_fd(l, l->srv->listen_fd, &l->srv->listen_fd);
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
		else if (tag == &l->srv->listen_fd)
			accept_clients(l);
		else if (tag == &done)
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

/* The end of the grace period: close whatever is still open. */
static void close_all(struct loop *l)
{
	struct conn *c;

	/*
	 * The workers finish: their conns are ours.  A request pipelined
	 * behind one of them can no longer be handed off (hand_off answers
	 * it 503); the loop below then closes every connection.
	 */
	pool_destroy(l->pool);
	l->pool = NULL;
	while ((c = done.list.head) != NULL) {
		conn_list_remove(&done.list, c);
		apply(l, c, conn_finish_handoff(c)); /* one last try to send */
	}
	while ((c = conn_timers_first(&l->timers)) != NULL)
		close_conn(l, c);
	sweep_closed(l);
}

static int loop_init(struct loop *l, struct server *srv)
{
	memset(l, 0, sizeof(*l));
	l->srv = srv;
	conn_shared_init(&l->sh, srv, CONN_HANDLERS_OFFLOAD_BLOCKING);
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return -1;
	done.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (done.efd < 0 || watch_fd(l, done.efd, &done) != 0 ||
	    watch_fd(l, srv->stop_fd, &srv->stop_fd) != 0 ||
	    watch_fd(l, srv->listen_fd, &srv->listen_fd) != 0)
		goto out_close_epoll;
	l->pool = pool_create(srv->opt.threads, srv->opt.queue);
	if (l->pool == NULL)
		goto out_close_epoll;
	pool_set_depth_gauge(l->pool,
			     stats_queue_gauge(srv->stats, srv->opt.queue));
	return 0;

out_close_epoll:
	if (done.efd >= 0)
		close(done.efd);
	close(l->epfd);
	return -1;
}

static void loop_destroy(struct loop *l)
{
	close(done.efd);
	close(l->epfd);
	conn_shared_destroy(&l->sh);
}

static int run(struct server *srv)
{
	struct loop l;

	/*
	 * LESSON: files are never may_block, so only the loop's thread
	 * serves them, never a worker: the cache is the loop's alone, and
	 * needs no lock, as in 05.
	 */
	if (app_open_files(&srv->app, &srv->opt, FILE_CACHE_PRIVATE) != 0 ||
	    loop_init(&l, srv) != 0)
		return -1;
	while (!l.stopping || (l.live > 0 && clock_now_ms() < l.grace_end_ms)) {
		wait_and_dispatch(&l);
		expire_timeouts(&l);
		sweep_closed(&l);
	}
	close_all(&l);
	loop_destroy(&l);
	app_close_files(&srv->app);
	return 0;
}

int main(int argc, char **argv)
{
	return server_main(argc, argv, MODEL, run);
}
