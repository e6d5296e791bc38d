/*
 * conn.c - the non-blocking connection state machine of models 05 and 06.
 *
 * The same steps as serve.c - read, parse, app_handle, writev the head and
 * body, sendfile the file, next request - but no call here ever waits.
 * Where serve.c would block, a function here stops, remembers how far it
 * got in struct conn, and tells the loop what to wait for.  The loop calls
 * back when the socket is ready and the work resumes where it stopped.
 */
#include "conn.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "app.h"
#include "log.h"
#include "server.h"
#include "stats.h"

static enum conn_want process_input(struct conn *c);

void conn_shared_init(struct conn_shared *sh, const struct server *srv,
		      bool hand_off)
{
	memset(sh, 0, sizeof(*sh));
	sh->srv = srv;
	sh->hand_off = hand_off;
	sh->buf_size = server_request_buffer_size(srv);
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

struct conn_buffers *conn_buffers_get(struct conn_shared *sh)
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
	b->used = 0;
	b->req_len = 0;
	resp_init(&b->resp);
	return b;
}

void conn_buffers_put(struct conn_shared *sh, struct conn_buffers *b)
{
	if (b == NULL)
		return;
	resp_release(&b->resp);
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
	c->deadline_ms = server_now_ms() + ms;
}

void conn_open(struct conn *c, struct conn_shared *sh, int fd)
{
	memset(c, 0, sizeof(*c));
	c->sh = sh;
	c->fd = fd;
	strcpy(c->peer, "-");
	net_peer_address(fd, c->peer, sizeof(c->peer));
	net_set_nodelay(fd);
	set_state(c, CONN_IDLE, sh->srv->opt.keepalive_timeout_ms);
	stats_conn_opened(sh->srv->stats);
}

void conn_close(struct conn *c)
{
	if (c->fd < 0)
		return;
	conn_buffers_put(c->sh, c->b);
	c->b = NULL;
	close(c->fd);
	c->fd = -1;
	stats_conn_closed(c->sh->srv->stats);
}

/* Counts, logs and releases the response that has just been sent. */
static void record_response(struct conn *c)
{
	struct conn_buffers *b = c->b;
	const struct server *srv = c->sh->srv;

	stats_record(srv->stats, b->resp.status,
		     stats_now_us() - c->started_us);
	log_access(srv->log_fd, c->peer, b->req_len > 0 ? &b->req : NULL,
		   b->resp.status, resp_body_bytes(&b->resp));
	resp_release(&b->resp);
}

/*
 * LESSON: the non-blocking form of serve.c's lingering close.  We cannot
 * sit in a read loop for a second, so we shut our side down, give the
 * buffers back and let the loop call us when input arrives; each call
 * discards what came.  EOF, CONN_LINGER_BYTES or CONN_LINGER_MS ends it.
 */
static enum conn_want start_lingering(struct conn *c)
{
	conn_buffers_put(c->sh, c->b);
	c->b = NULL;
	if (shutdown(c->fd, SHUT_WR) != 0)
		return CONN_WANT_CLOSE;
	c->sent = 0;
	set_state(c, CONN_LINGERING, CONN_LINGER_MS);
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
	c->sent += (size_t)n;
	return c->sent < CONN_LINGER_BYTES ? CONN_WANT_READ : CONN_WANT_CLOSE;
}

/* A request begins now: its header timeout runs from here. */
static void start_request(struct conn *c)
{
	c->started_us = stats_now_us();
	c->continued = false;
	set_state(c, CONN_READING, c->sh->srv->opt.header_timeout_ms);
}

/*
 * The response has gone out.  Keep-alive: answer what was pipelined behind
 * the request, else give the block back and wait idle.
 */
static enum conn_want response_done(struct conn *c)
{
	struct conn_buffers *b = c->b;
	bool keep = b->resp.keep_alive && !c->failed;

	record_response(c);
	if (c->failed)
		return start_lingering(c);
	if (!keep)
		return CONN_WANT_CLOSE;
	/* Pipelining: what follows the request is the start of the next. */
	memmove(b->buf, b->buf + b->req_len, b->used - b->req_len);
	b->used -= b->req_len;
	b->req_len = 0;
	if (b->used > 0) {
		start_request(c);
		/* Yield after a few: the loop comes back at once (writable). */
		if (++c->answered >= CONN_PIPELINE_BUDGET)
			return CONN_WANT_WRITE;
		return process_input(c);
	}
	conn_buffers_put(c->sh, b);
	c->b = NULL;
	set_state(c, CONN_IDLE, c->sh->srv->opt.keepalive_timeout_ms);
	return CONN_WANT_READ;
}

/* Builds the iovec of what is left of head + in-memory body. */
static int pending_iov(struct conn *c, struct iovec iov[2])
{
	struct response *r = &c->b->resp;
	size_t body = r->head_only ? 0 : r->body_len;
	size_t skip = c->sent;
	int n = 0;

	if (skip < r->head_len) {
		iov[n].iov_base = r->head + skip;
		iov[n++].iov_len = r->head_len - skip;
		skip = 0;
	} else {
		skip -= r->head_len;
	}
	if (skip < body) {
		iov[n].iov_base = (char *)r->body + skip;
		iov[n++].iov_len = body - skip;
	}
	return n;
}

/*
 * One writev or sendfile: bytes sent, 0 when all is out, or -1 (errno).
 * c->sent counts head, body and file bytes, so nothing in the response
 * changes while it goes out and the log still sees its full size.
 */
static ssize_t send_some(struct conn *c, size_t max)
{
	struct response *r = &c->b->resp;
	size_t mem = r->head_len + (r->head_only ? 0 : r->body_len);
	size_t file_len = r->head_only || r->file_fd < 0 ? 0 : r->file_len;
	struct iovec iov[2];
	size_t done;
	off_t off;
	ssize_t n;

	if (c->sent < mem) {
		n = writev(c->fd, iov, pending_iov(c, iov));
	} else {
		done = c->sent - mem;
		if (done == file_len)
			return 0;
		off = r->file_offset + (off_t)done;
		n = sendfile(c->fd, r->file_fd, &off,
			     file_len - done < max ? file_len - done : max);
		if (n == 0) {
			errno = EIO; /* the file shrank under us */
			return -1;
		}
	}
	if (n > 0)
		c->sent += (size_t)n;
	return n;
}

/*
 * Sends as much of the response as the socket takes.  A partial write is
 * normal: we remember how far we got and wait for the socket to drain.
 */
static enum conn_want write_response(struct conn *c)
{
	size_t budget = CONN_WRITE_BUDGET;
	bool progress = false;

	while (budget > 0) {
		ssize_t n = send_some(c, budget);

		if (n == 0)
			return response_done(c);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0)
			return CONN_WANT_CLOSE; /* EPIPE, ECONNRESET: gone */
		progress = true;
		budget -= (size_t)n < budget ? (size_t)n : budget;
	}
	/*
	 * LESSON: the write deadline moves only on progress, so a client
	 * that stops reading is dropped after keepalive_timeout_ms instead
	 * of holding its block forever.
	 */
	if (progress)
		set_state(c, CONN_WRITING,
			  c->sh->srv->opt.keepalive_timeout_ms);
	return CONN_WANT_WRITE;
}

/* The response in c->b is finished: start sending it. */
static enum conn_want start_response(struct conn *c)
{
	c->sent = 0;
	set_state(c, CONN_WRITING, c->sh->srv->opt.keepalive_timeout_ms);
	return write_response(c);
}

/* Answers status for a request that could not be read (or timed out). */
static enum conn_want send_error(struct conn *c, int status)
{
	struct conn_buffers *b = c->b;

	b->req_len = 0; /* the log shows "-" for the request */
	app_handle_error(c->sh->srv, NULL, status, &b->resp);
	c->failed = true;
	return start_response(c);
}

/*
 * LESSON: the interim 100 Continue is 25 bytes on a socket whose send
 * buffer is empty (we only read while no response is pending), so one
 * non-blocking send always takes it.  If the client is gone, the next read
 * or write says so.
 */
static void send_continue(struct conn *c)
{
	static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
	ssize_t n = send(c->fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);

	(void)n;
	c->continued = true;
}

/* Runs the handler for the request at the front of the buffer. */
static void handle(struct conn *c)
{
	app_handle(c->sh->srv, &c->b->req, &c->b->resp);
}

/*
 * Parses what is buffered: answers a complete request, errors, or asks for
 * more bytes.  Called after each read and after each response (pipelining).
 */
static enum conn_want process_input(struct conn *c)
{
	struct conn_buffers *b = c->b;
	const struct server *srv = c->sh->srv;
	ssize_t n = http_parse_request(b->buf, b->used, &srv->limits, &b->req,
				       NULL);

	if (n == HTTP_ERROR)
		return send_error(c, b->req.status);
	if (n == HTTP_INCOMPLETE) {
		if (b->req.header_len > 0 && b->req.expect_continue &&
		    !c->continued)
			send_continue(c);
		if (b->used == c->sh->buf_size)
			return send_error(c, b->req.header_len > 0 ? 413 : 431);
		return CONN_WANT_READ;
	}
	b->req_len = (size_t)n;
	if (c->sh->hand_off && app_may_block(srv, &b->req)) {
		c->state = CONN_HANDED_OFF;
		c->deadline_ms = LLONG_MAX;
		return CONN_WANT_NOTHING;
	}
	/* LESSON: in 05 a blocking handler runs here, and the loop waits. */
	handle(c);
	return start_response(c);
}

/*
 * Reads once into the block.  One read per event is enough: if more is
 * waiting, the loop reports the socket readable again next turn, after
 * everybody else has had theirs.  Returns bytes read, 0 on EOF, -1 errno.
 */
static ssize_t read_some(struct conn *c)
{
	struct conn_buffers *b = c->b;
	ssize_t n;

	do
		n = read(c->fd, b->buf + b->used, c->sh->buf_size - b->used);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		b->used += (size_t)n;
	return n;
}

/*
 * An idle connection became readable: take a block and read into it.  If
 * nothing came after all, give the block straight back.
 */
static enum conn_want read_first(struct conn *c)
{
	ssize_t n;

	c->b = conn_buffers_get(c->sh);
	if (c->b == NULL)
		return CONN_WANT_CLOSE; /* out of memory: shed this client */
	n = read_some(c);
	if (n > 0) {
		start_request(c);
		return process_input(c);
	}
	conn_buffers_put(c->sh, c->b);
	c->b = NULL;
	if (n < 0 && errno == EAGAIN)
		return CONN_WANT_READ;
	return CONN_WANT_CLOSE; /* EOF or reset between requests */
}

enum conn_want conn_on_readable(struct conn *c)
{
	ssize_t n;

	c->answered = 0;
	switch (c->state) {
	case CONN_IDLE:
		return read_first(c);
	case CONN_READING:
		if (c->b->used == c->sh->buf_size)
			return process_input(c);
		n = read_some(c);
		if (n > 0)
			return process_input(c);
		if (n < 0 && errno == EAGAIN)
			return CONN_WANT_READ;
		return CONN_WANT_CLOSE; /* the client gave up mid-request */
	case CONN_HANDED_OFF:
		return CONN_WANT_NOTHING;
	case CONN_WRITING:
		/* An error or hang-up while we wait to write: try, and see. */
		return write_response(c);
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
		return write_response(c);
	case CONN_READING:
		/* Pipelined requests left over from a capped turn. */
		return process_input(c);
	case CONN_HANDED_OFF:
		return CONN_WANT_NOTHING;
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
		return send_error(c, 408);
	case CONN_HANDED_OFF:
		return CONN_WANT_NOTHING;
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
	handle(c);
}

enum conn_want conn_finish_handoff(struct conn *c)
{
	c->answered = 0;
	return start_response(c);
}

enum conn_want conn_refuse_handoff(struct conn *c, int status)
{
	c->answered = 0;
	app_handle_error(c->sh->srv, &c->b->req, status, &c->b->resp);
	return start_response(c);
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

void conn_timers_update(struct conn_timers *t, struct conn *c)
{
	enum conn_timer kind = conn_timer_kind(c);

	if (kind == c->timer && c->deadline_ms == c->timer_ms)
		return; /* unchanged: it keeps its place */
	conn_timers_remove(t, c);
	c->timer = kind;
	c->timer_ms = c->deadline_ms;
	if (kind != CONN_TIMER_NONE)
		conn_list_append(&t->lists[kind], c);
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
