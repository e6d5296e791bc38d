/*
 * 05_nonblocking_poll - one thread, non-blocking sockets, a poll() loop.
 *
 * The model: every socket is non-blocking and one thread waits for all of
 * them at once in poll().  Each turn builds the array of descriptors from
 * what each connection wants (to read or to write), and each ready one
 * does what it can without waiting: the state machine in common/conn.c.
 *
 * What it costs: no thread or process per client, only a struct conn of
 * under 200 bytes, and a buffer block while a request is in flight.  But a
 * turn is O(n) in the connections: the array is rebuilt and copied into
 * the kernel, which checks every socket, and we scan every deadline.
 *
 * How it fails: a handler that blocks (/api/sleep, /api/cpu) stops the only
 * thread: meanwhile nobody is read, written or accepted.  With thousands
 * of idle connections the O(n) turns eat the CPU.
 *
 * What changed from 04_threadpool: no threads, no serve_connection: conn.c
 * says "want read / want write / close" and this file turns it into poll
 * events.  06 has the same helpers in the same order, so diff -u lines up.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "accept.h"
#include "clock.h"
#include "conn.h"
#include "server.h"

#define MODEL "05_nonblocking_poll"

/* How long a stopping server lets responses in flight finish. */
#define GRACE_MS 2000

struct loop {
	struct server *srv;
	struct conn_shared sh;
	int live; /* open connections */
	bool stopping;
	long long grace_end_ms;	    /* when stopping: close what is left */
	long long accept_paused_ms; /* listener ignored until then */
	struct conn_list conns;	    /* every open connection */
	struct pollfd *pfds;	    /* [0] stop, [1] listener, [2..] conns */
	void **tags;		    /* what each pfds[i] is */
	struct conn_list closed;    /* freed after the event batch */
};

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
	conn_list_remove(&l->conns, c);
	conn_close(c);
	l->live--;
	conn_list_append(&l->closed, c);
}

/*
 * LESSON: poll keeps no state between calls.  Watching is only a note in
 * the connection; the next turn copies every note into the array again.
 */
static void watch(struct loop *l, struct conn *c, enum conn_want want)
{
	(void)l;
	c->events = want == CONN_WANT_WRITE ? POLLOUT : POLLIN;
}

/* Turns what a connection wants into what the loop does. */
static void apply(struct loop *l, struct conn *c, enum conn_want want)
{
	/* A stopping server closes connections as soon as they go idle. */
	if (want == CONN_WANT_READ && l->stopping && conn_is_idle(c))
		want = CONN_WANT_CLOSE;
	switch (want) {
	case CONN_WANT_READ:
	case CONN_WANT_WRITE:
		watch(l, c, want);
		break;
	case CONN_WANT_WORKER: /* only when offloading, which 05 never does */
	case CONN_WANT_CLOSE:
		close_conn(l, c);
		break;
	}
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
		conn_list_append(&l->conns, c);
		watch(l, c, CONN_WANT_READ);
	}
}

/* Closes every connection that is between requests. */
static void close_idle(struct loop *l)
{
	struct conn *c, *next;

	for (c = l->conns.head; c != NULL; c = next) {
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
	server_stop_listening(l->srv);
	close_idle(l);
}

/* Milliseconds until the earliest deadline, for poll; -1 for none. */
static int next_timeout(struct loop *l)
{
	long long now = clock_now_ms(), first = CLOCK_NEVER;
	struct conn *c;

	/* LESSON: O(n) again: every deadline is looked at, every turn. */
	for (c = l->conns.head; c != NULL; c = c->next)
		if (conn_deadline_ms(c) < first)
			first = conn_deadline_ms(c);
	if (l->accept_paused_ms > now && l->accept_paused_ms < first)
		first = l->accept_paused_ms;
	if (l->stopping && l->grace_end_ms < first)
		first = l->grace_end_ms;
	return clock_timeout_ms(first);
}

/*
 * LESSON: this is poll's cost.  Every turn the whole array is rebuilt and
 * copied into the kernel, which checks every socket in it; then we scan
 * all of it for the few that are ready.  A negative fd is skipped.
 */
static int build_pollfds(struct loop *l)
{
	bool accepting = !l->stopping && clock_now_ms() >= l->accept_paused_ms;
	struct conn *c;
	int n = 2;

	l->pfds[0] = (struct pollfd){ .fd = l->stopping ? -1 : l->srv->stop_fd,
				      .events = POLLIN };
	l->pfds[1] = (struct pollfd){ .fd = accepting ? l->srv->listen_fd : -1,
				      .events = POLLIN };
	l->tags[0] = &l->srv->stop_fd;
	l->tags[1] = &l->srv->listen_fd;
	for (c = l->conns.head; c != NULL; c = c->next, n++) {
		l->pfds[n] = (struct pollfd){ .fd = c->fd,
					      .events = (short)c->events };
		l->tags[n] = c;
	}
	return n;
}

/* One turn: wait for readiness, then let every ready connection run. */
static void wait_and_dispatch(struct loop *l)
{
	int i, n = build_pollfds(l);

	if (poll(l->pfds, (nfds_t)n, next_timeout(l)) <= 0)
		return; /* a timeout, or EINTR: the next turn sees why */
	for (i = 0; i < n; i++) {
		void *tag = l->tags[i];
		struct conn *c = tag;
		short ev = l->pfds[i].revents;

		if (ev == 0)
			continue;
		if (tag == &l->srv->stop_fd)
			begin_stop(l);
		else if (tag == &l->srv->listen_fd)
			accept_clients(l);
		else if (c->fd < 0)
			continue; /* closed earlier in this batch */
		else if (ev & POLLOUT)
			apply(l, c, conn_on_writable(c));
		else
			apply(l, c, conn_on_readable(c));
	}
}

/* Times out every connection whose deadline has passed. */
static void expire_timeouts(struct loop *l)
{
	long long now = clock_now_ms();
	struct conn *c, *next;

	/* LESSON: and O(n) once more: every connection is looked at. */
	for (c = l->conns.head; c != NULL; c = next) {
		next = c->next;
		if (conn_deadline_ms(c) <= now)
			apply(l, c, conn_on_timeout(c));
	}
}

/* The end of the grace period: close whatever is still open. */
static void close_all(struct loop *l)
{
	while (l->conns.head != NULL)
		close_conn(l, l->conns.head);
	sweep_closed(l);
}

static int loop_init(struct loop *l, struct server *srv)
{
	size_t slots = (size_t)srv->opt.max_conns + 2;

	memset(l, 0, sizeof(*l));
	l->srv = srv;
	conn_shared_init(&l->sh, srv, CONN_HANDLERS_INLINE);
	l->pfds = calloc(slots, sizeof(*l->pfds));
	if (l->pfds == NULL)
		return -1;
	l->tags = calloc(slots, sizeof(*l->tags));
	if (l->tags == NULL)
		goto out_free_pfds;
	return 0;

out_free_pfds:
	free(l->pfds);
	return -1;
}

static void loop_destroy(struct loop *l)
{
	free(l->tags);
	free(l->pfds);
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

static int run(struct server *srv)
{
	struct loop l;

	/*
	 * One thread serves files: its cache needs no lock.  LESSON: the
	 * loop checks every request against the rate limit, and it is the
	 * only thread: thousands of clients, and the buckets need no lock.
	 */
	if (app_open_files(&srv->app, &srv->opt, FILE_CACHE_PRIVATE) != 0 ||
	    server_open_ratelimit(srv, RATELIMIT_PRIVATE) != 0 ||
	    loop_init(&l, srv) != 0)
		return -1;
	loop_run(&l);
	close_all(&l);
	loop_destroy(&l);
	app_close_files(&srv->app);
	return 0;
}

int main(int argc, char **argv)
{
	return server_main(argc, argv, MODEL, run);
}
