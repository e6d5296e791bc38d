/*
 * conn.c - the non-blocking driver of models 05 and 06.
 *
 * The same exchange as serve.c drives (exchange.c: parse, answer, send,
 * keep-alive, pipelining), but no call here ever waits.  Where serve.c
 * would block, a function here stops, remembers how far it got in struct
 * conn, and tells the loop what to wait for.  The loop calls back when the
 * socket is ready and the work resumes where it stopped.
 */
#include "conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "output.h"
#include "server.h"
#include "stats.h"

void conn_shared_init(struct conn_shared *sh, const struct server *srv,
		      enum conn_handlers handlers)
{
	memset(sh, 0, sizeof(*sh));
	sh->srv = srv;
	sh->handlers = handlers;
	sh->buf_size = http_request_buffer_size(&srv->limits);
	sh->max_cached = CONN_BUFFERS_CACHED;
}

void conn_shared_destroy(struct conn_shared *sh)
{
	while (sh->free_blocks != NULL) {
		struct conn_buffers *b = sh->free_blocks;

		sh->free_blocks = b->next_free;
		free(b);
	}
	sh->cached = 0;
}

struct conn_buffers *conn_buffers_get(struct conn_shared *sh,
				      const struct net_peer *peer)
{
	struct conn_buffers *b = sh->free_blocks;

	if (b != NULL) {
		sh->free_blocks = b->next_free;
		sh->cached--;
	} else {
		/*
		 * LESSON: a block is about a megabyte (the largest request
		 * the limits allow), but the kernel only backs the pages
		 * that are touched: a small GET costs a few pages of RSS.
		 */
		b = malloc(sizeof(*b) + sh->buf_size);
		if (b == NULL)
			return NULL;
	}
	b->next_free = NULL;
	exchange_init(&b->ex, sh->srv, b->buf, sh->buf_size, peer);
	return b;
}

void conn_buffers_put(struct conn_shared *sh, struct conn_buffers *b)
{
	if (b == NULL)
		return;
	exchange_release(&b->ex);
	if (sh->cached >= sh->max_cached) {
		free(b);
		return;
	}
	b->next_free = sh->free_blocks;
	sh->free_blocks = b;
	sh->cached++;
}

/* Enters a state whose deadline is ms from now. */
static void set_state(struct conn *c, enum conn_state state, int ms)
{
	c->state = state;
	c->deadline_ms = clock_now_ms() + ms;
}

void conn_open(struct conn *c, struct conn_shared *sh, int fd)
{
	memset(c, 0, sizeof(*c));
	c->sh = sh;
	c->fd = fd;
	/* TCP_NODELAY came from the listener (server_setup). */
	net_peer_unknown(&c->peer);
	if (exchange_needs_peer(sh->srv))
		net_peer_of(fd, &c->peer);
	set_state(c, CONN_IDLE, sh->srv->opt.keepalive_timeout_ms);
	stats_conn_opened(sh->srv->stats);
}

/* Gives the block back: c holds nothing while idle or lingering. */
static void drop_buffers(struct conn *c)
{
	conn_buffers_put(c->sh, c->b);
	c->b = NULL;
}

void conn_close(struct conn *c)
{
	if (c->fd < 0)
		return;
	drop_buffers(c);
	close(c->fd);
	c->fd = -1;
	stats_conn_closed(c->sh->srv->stats);
}

/*
 * LESSON: the non-blocking form of serve.c's lingering close.  We cannot
 * sit in a read loop for a second, so we shut our side down, give the
 * buffers back and let the loop call us when input arrives; each call
 * discards what came.  EOF, EXCHANGE_LINGER_BYTES or EXCHANGE_LINGER_MS
 * ends it.
 */
static enum conn_want start_lingering(struct conn *c)
{
	drop_buffers(c);
	if (shutdown(c->fd, SHUT_WR) != 0)
		return CONN_WANT_CLOSE;
	c->drained = 0;
	set_state(c, CONN_LINGERING, EXCHANGE_LINGER_MS);
	return CONN_WANT_READ;
}

static enum conn_want linger(struct conn *c)
{
	char sink[4096];
	ssize_t n = read(c->fd, sink, sizeof(sink));

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return CONN_WANT_READ;
	if (n <= 0)
		return CONN_WANT_CLOSE;
	c->drained += (size_t)n;
	return c->drained < EXCHANGE_LINGER_BYTES ? CONN_WANT_READ
						  : CONN_WANT_CLOSE;
}

/* A request is in progress: its header clock runs from its first byte. */
static void mark_reading(struct conn *c)
{
	c->state = CONN_READING;
	c->deadline_ms = (long long)(exchange_started_us(&c->b->ex) / 1000) +
			 c->sh->srv->opt.header_timeout_ms;
}

/*
 * The exchange wants bytes.  Between requests the block goes back and the
 * keep-alive clock runs; in a request, the header clock runs from its
 * first byte, however many reads and writes came in between.
 */
static enum conn_want wait_for_input(struct conn *c)
{
	if (exchange_is_idle(&c->b->ex)) {
		drop_buffers(c);
		set_state(c, CONN_IDLE, c->sh->srv->opt.keepalive_timeout_ms);
		return CONN_WANT_READ;
	}
	mark_reading(c);
	return CONN_WANT_READ;
}

/*
 * Sends as much of the output as the socket takes.  Returns true when all
 * of it is out; false with *want set when the loop must wait (a partial
 * write is normal: we wait for the socket to drain) or the client is gone.
 */
static bool flush_output(struct conn *c, enum conn_want *want)
{
	size_t budget = CONN_WRITE_BUDGET;
	bool progress = false;

	while (budget > 0) {
		ssize_t n = output_send(c->fd, &c->b->ex, budget);

		if (n == 0)
			return true;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0) {
			*want = CONN_WANT_CLOSE; /* EPIPE, ECONNRESET: gone */
			return false;
		}
		progress = true;
		budget -= (size_t)n < budget ? (size_t)n : budget;
	}
	/*
	 * LESSON: the write deadline moves only on progress, so a client
	 * that stops reading is dropped after keepalive_timeout_ms instead
	 * of holding its block forever.
	 */
	if (progress || c->state != CONN_WRITING)
		set_state(c, CONN_WRITING,
			  c->sh->srv->opt.keepalive_timeout_ms);
	*want = CONN_WANT_WRITE;
	return false;
}

/* A complete request: run it here, or hand it to a worker (06). */
static bool run_handler(struct conn *c, enum conn_want *want)
{
	struct exchange *ex = &c->b->ex;

	/* Yield after a few pipelined ones: the loop comes back (writable). */
	if (++c->answered > CONN_PIPELINE_BUDGET) {
		/*
		 * Under the write clock: a header deadline already passed
		 * would bring the loop straight back for 16 more.
		 */
		set_state(c, CONN_WRITING,
			  c->sh->srv->opt.keepalive_timeout_ms);
		*want = CONN_WANT_WRITE;
		return false;
	}
	if (c->sh->handlers == CONN_HANDLERS_OFFLOAD_BLOCKING &&
	    exchange_may_block(ex)) {
		c->state = CONN_HANDED_OFF;
		c->deadline_ms = CLOCK_NEVER;
		*want = CONN_WANT_WORKER;
		return false;
	}
	/* LESSON: in 05 a blocking handler runs here, and the loop waits. */
	exchange_handle(ex);
	return true;
}

/* Moves the exchange on until it has to wait for the socket or a worker. */
static enum conn_want drive(struct conn *c)
{
	enum conn_want want = CONN_WANT_CLOSE;

	for (;;) {
		switch (exchange_next(&c->b->ex)) {
		case EXCHANGE_READ:
			return wait_for_input(c);
		case EXCHANGE_HANDLE:
			if (!run_handler(c, &want))
				return want;
			break;
		case EXCHANGE_WRITE:
			if (!flush_output(c, &want))
				return want;
			break;
		case EXCHANGE_CLOSE:
			if (output_may_close_at_once(c->fd, &c->b->ex))
				return CONN_WANT_CLOSE;
			return start_lingering(c);
		}
	}
}

/*
 * Reads once into the block.  One read per event is enough: if more is
 * waiting, the loop reports the socket readable again next turn, after
 * everybody else has had theirs.  Returns bytes read, 0 on EOF, -1 errno.
 */
static ssize_t read_some(struct conn *c)
{
	size_t room;
	char *in = exchange_input(&c->b->ex, &room);
	ssize_t n;

	do
		n = read(c->fd, in, room);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		exchange_received(&c->b->ex, (size_t)n);
	return n;
}

/*
 * Readable while idle or reading: take a block if we have none, read, and
 * drive.  EOF or a reset ends the connection; if nothing came after all,
 * an idle connection gives its block straight back.
 */
static enum conn_want read_and_drive(struct conn *c)
{
	size_t room = 1;
	ssize_t n;

	if (c->b == NULL) {
		c->b = conn_buffers_get(c->sh, &c->peer);
		if (c->b == NULL)
			return CONN_WANT_CLOSE; /* out of memory: shed it */
	}
	exchange_input(&c->b->ex, &room);
	if (room == 0)
		return drive(c); /* a full buffer waits for the handler */
	n = read_some(c);
	if (n > 0) {
		if (c->state == CONN_IDLE)
			mark_reading(c);
		return drive(c);
	}
	if (n < 0 && errno == EAGAIN) {
		if (c->state == CONN_IDLE)
			drop_buffers(c);
		return CONN_WANT_READ;
	}
	return CONN_WANT_CLOSE; /* EOF or reset */
}

enum conn_want conn_on_readable(struct conn *c)
{
	c->answered = 0;
	switch (c->state) {
	case CONN_IDLE:
	case CONN_READING:
		return read_and_drive(c);
	case CONN_HANDED_OFF:
		return CONN_WANT_WORKER;
	case CONN_WRITING:
		/* An error or hang-up while we wait to write: try, and see. */
		return drive(c);
	case CONN_LINGERING:
		return linger(c);
	}
	return CONN_WANT_CLOSE;
}

enum conn_want conn_on_writable(struct conn *c)
{
	c->answered = 0;
	switch (c->state) {
	case CONN_WRITING:
	case CONN_READING: /* pipelined requests left from a capped turn */
		return drive(c);
	case CONN_HANDED_OFF:
		return CONN_WANT_WORKER;
	case CONN_IDLE:
	case CONN_LINGERING:
		break;
	}
	return CONN_WANT_READ;
}

enum conn_want conn_on_timeout(struct conn *c)
{
	c->answered = 0;
	switch (c->state) {
	case CONN_READING:
		/* Slow or stalled request (slowloris): 408, then close. */
		exchange_timeout(&c->b->ex);
		return drive(c);
	case CONN_HANDED_OFF:
		return CONN_WANT_WORKER;
	case CONN_IDLE:
	case CONN_WRITING:
	case CONN_LINGERING:
		break;
	}
	return CONN_WANT_CLOSE;
}

long long conn_deadline_ms(const struct conn *c)
{
	return c->deadline_ms;
}

enum conn_timer conn_timer_kind(const struct conn *c)
{
	switch (c->state) {
	case CONN_IDLE:
	case CONN_WRITING:
		return CONN_TIMER_KEEPALIVE;
	case CONN_READING:
		return CONN_TIMER_HEADER;
	case CONN_LINGERING:
		return CONN_TIMER_LINGER;
	case CONN_HANDED_OFF:
		break;
	}
	return CONN_TIMER_NONE;
}

bool conn_is_idle(const struct conn *c)
{
	return c->state == CONN_IDLE;
}

void conn_handle_request(struct conn *c)
{
	exchange_handle(&c->b->ex);
}

/*
 * Back from a worker, or refused one: the response is ready to go, so the
 * connection is writing, under the write clock.  Left in CONN_HANDED_OFF,
 * a yield after pipelined requests would wait with no deadline at all.
 */
static enum conn_want resume_after_handoff(struct conn *c)
{
	c->answered = 0;
	set_state(c, CONN_WRITING, c->sh->srv->opt.keepalive_timeout_ms);
	return drive(c);
}

enum conn_want conn_finish_handoff(struct conn *c)
{
	return resume_after_handoff(c);
}

enum conn_want conn_refuse_handoff(struct conn *c, int status)
{
	exchange_refuse(&c->b->ex, status);
	return resume_after_handoff(c);
}

void conn_list_append(struct conn_list *l, struct conn *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail != NULL)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

void conn_list_remove(struct conn_list *l, struct conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

/* Inserts c into l, sorted by deadline, looking from the tail. */
static void insert_sorted(struct conn_list *l, struct conn *c)
{
	struct conn *after = l->tail;

	while (after != NULL && after->timer_ms > c->timer_ms)
		after = after->prev;
	if (after == l->tail) {
		conn_list_append(l, c); /* the usual case: O(1) */
		return;
	}
	c->prev = after;
	c->next = after != NULL ? after->next : l->head;
	c->next->prev = c;
	if (after != NULL)
		after->next = c;
	else
		l->head = c;
}

void conn_timers_update(struct conn_timers *t, struct conn *c)
{
	enum conn_timer kind = conn_timer_kind(c);

	if (kind == c->timer && c->deadline_ms == c->timer_ms)
		return; /* unchanged: it keeps its place */
	conn_timers_remove(t, c);
	c->timer = kind;
	c->timer_ms = c->deadline_ms;
	if (kind != CONN_TIMER_NONE)
		insert_sorted(&t->lists[kind], c);
}

void conn_timers_remove(struct conn_timers *t, struct conn *c)
{
	if (c->timer != CONN_TIMER_NONE)
		conn_list_remove(&t->lists[c->timer], c);
	c->timer = CONN_TIMER_NONE;
}

struct conn *conn_timers_first(const struct conn_timers *t)
{
	struct conn *first = NULL;

	for (int k = 0; k < CONN_TIMERS; k++) {
		struct conn *c = t->lists[k].head;

		if (c != NULL &&
		    (first == NULL || c->deadline_ms < first->deadline_ms))
			first = c;
	}
	return first;
}
