/*
 * serve.c - the blocking driver of models 01 to 04.
 *
 *   exchange_next() says READ   -> recv() what is there, and if nothing
 *                                  is, wait (poll on the socket, and
 *                                  between requests the stop pipe) first
 *                   says HANDLE -> run the handler right here
 *                   says WRITE  -> writev/sendfile until all of it is out
 *                   says CLOSE  -> close, lingering unless the client
 *                                  asked for it and has all of it
 *
 * The HTTP side - parsing, 100 Continue, errors, keep-alive, pipelining,
 * counting and logging - is the exchange's (exchange.c), shared with the
 * non-blocking driver conn.c.  What is left here is how to wait: every
 * step may block the calling thread or process, and while it waits for
 * this client it can do nothing for anybody else.  That is the whole cost
 * that models 02 to 06 try to avoid.
 */
#include "serve.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "accept.h"
#include "clock.h"
#include "exchange.h"
#include "net.h"
#include "output.h"
#include "server.h"
#include "stats.h"

/* One connection, on the stack of serve_connection. */
struct session {
	const struct server *srv;
	int fd;
	bool eager; /* between requests, read before waiting: see receive */
	unsigned int eager_requests; /* eager reads, for the stop check */
	struct exchange ex;
	struct net_peer peer; /* for the access log and the rate limit */
};

enum wait_result { WAIT_READABLE, WAIT_TIMEOUT, WAIT_STOP, WAIT_ERROR };

/*
 * Waits until the client sends something.  Between requests we also watch
 * the stop pipe; in the middle of one we do not, so that a request in hand
 * is finished before the server stops.
 */
static enum wait_result wait_for_bytes(struct session *s)
{
	const struct options *opt = &s->srv->opt;
	bool between = exchange_is_idle(&s->ex);
	long long deadline =
		between ? clock_now_ms() + opt->keepalive_timeout_ms
			: (long long)(exchange_started_us(&s->ex) / 1000) +
				  opt->header_timeout_ms;
#ifdef BREAK_NO_HEADER_TIMEOUT /* the lab: each byte restarts the clock */
	if (!between)
		deadline = clock_now_ms() + opt->header_timeout_ms;
#endif
	struct pollfd p[2] = {
		{ .fd = s->fd, .events = POLLIN },
		{ .fd = s->srv->stop_fd, .events = POLLIN },
	};

	for (;;) {
		int ms = clock_timeout_ms(deadline), n;

		if (ms == 0)
			return WAIT_TIMEOUT;
		n = poll(p, between ? 2 : 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return WAIT_ERROR;
		if (n == 0)
			return WAIT_TIMEOUT;
		/* Between requests a stop wins: nothing is in hand yet. */
		if (between && p[1].revents != 0)
			return WAIT_STOP;
		if (p[0].revents != 0)
			return WAIT_READABLE;
		return WAIT_STOP;
	}
}

/* How many eager requests between two looks at the stop pipe. */
#define STOP_CHECK_EVERY 64

/* True once a stop was asked for; never waits. */
static bool stop_requested(const struct session *s)
{
	struct pollfd p = { .fd = s->srv->stop_fd, .events = POLLIN };

	return poll(&p, 1, 0) > 0;
}

/*
 * Reads what has arrived, without waiting: MSG_DONTWAIT makes this one
 * call non-blocking on a blocking socket.  Returns the bytes read, 0 on
 * EOF, or -1 with errno (EAGAIN: nothing has arrived).
 */
static ssize_t read_now(struct session *s)
{
	size_t room;
	char *in = exchange_input(&s->ex, &room);
	ssize_t n;

	do
		n = recv(s->fd, in, room, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n > 0)
		exchange_received(&s->ex, (size_t)n);
	return n;
}

/*
 * Gets more of the request: returns 0 to go on (bytes arrived, or a slow
 * request got its 408 queued), -1 to close at once: the client left,
 * idled past the keep-alive timeout, or we are stopping.
 *
 * LESSON: read first, wait second.  A poll() that finds the bytes already
 * there is a system call for nothing, and so is a read that finds none:
 * so guess which comes first.  In the middle of a request, the rest is
 * usually right behind the part we have: read first.  Between requests,
 * the next one is already there on a new connection (it follows the
 * handshake) and from a client that sends without waiting for our
 * answers; one that waits for each answer (a browser, wrk) hardly ever
 * has its next request in before we come back from writing.  So a connection
 * starts eager, and the first read between requests that finds nothing
 * ends that: from then on, between requests, we wait first.  Every wait
 * between requests still watches the stop pipe; a read that succeeds is
 * not a wait, as a poll that reports the client and the stop together
 * has always served the client.
 */
static int receive(struct session *s)
{
	bool between = exchange_is_idle(&s->ex);
	bool wait_first = between && !s->eager;

	/*
	 * A client that always has its next request in never makes an eager
	 * connection wait, so it would never see the stop pipe: look at it,
	 * without waiting, every STOP_CHECK_EVERY eager requests.
	 */
	if (between && !wait_first &&
	    ++s->eager_requests % STOP_CHECK_EVERY == 0 && stop_requested(s))
		return -1;

	for (;;) {
		ssize_t n;

		if (wait_first) {
			switch (wait_for_bytes(s)) {
			case WAIT_READABLE:
				break;
			case WAIT_TIMEOUT:
				if (between)
					return -1;
				exchange_timeout(&s->ex); /* 408: slowloris */
				return 0;
			case WAIT_STOP:
			case WAIT_ERROR:
				return -1;
			}
		}
		n = read_now(s);
		if (n > 0)
			return 0;
		if (n == 0 || errno != EAGAIN)
			return -1; /* closed by the client, or reset */
		if (between && !wait_first)
			s->eager = false; /* it made us wait: it will again */
		wait_first = true;
	}
}

/* Writes all the pending output; -1 if the client is gone or stalled. */
static int send_all(struct session *s)
{
	for (;;) {
		ssize_t n = output_send(s->fd, &s->ex, SIZE_MAX);

		if (n == 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -1; /* EPIPE, ECONNRESET, or SO_SNDTIMEO */
	}
}

/*
 * The lingering close of exchange.h: half-close, so the client reads our
 * response and then EOF, and discard its late bytes for a bounded time.
 */
static void lingering_close(int fd)
{
	long long deadline = clock_now_ms() + EXCHANGE_LINGER_MS;
	size_t drained = 0;
	char sink[4096];

	if (shutdown(fd, SHUT_WR) != 0)
		goto out_close;
	while (drained < EXCHANGE_LINGER_BYTES) {
		int ms = clock_timeout_ms(deadline);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (ms == 0 || poll(&p, 1, ms) <= 0)
			break;
		n = read(fd, sink, sizeof(sink));
		if (n <= 0)
			break; /* EOF: the client has everything */
		drained += (size_t)n;
	}
out_close:
	close(fd);
}

/* Runs the exchange until the connection ends; returns requests served. */
static int session_run(struct session *s)
{
	int served = 0;

	for (;;) {
		switch (exchange_next(&s->ex)) {
		case EXCHANGE_READ:
			if (receive(s) != 0)
				goto out_close;
			break;
		case EXCHANGE_HANDLE:
			exchange_handle(&s->ex);
			served++;
			break;
		case EXCHANGE_WRITE:
			if (send_all(s) != 0)
				goto out_close;
			break;
		case EXCHANGE_CLOSE:
#ifdef BREAK_NO_LINGER /* the lab: a plain close, RST if bytes wait */
			goto out_close;
#endif
			if (output_may_close_at_once(s->fd, &s->ex))
				goto out_close;
			lingering_close(s->fd);
			return served;
		}
	}
out_close:
	close(s->fd);
	return served;
}

int serve_connection(const struct server *srv, int fd)
{
	struct session s = { .srv = srv, .fd = fd, .eager = true };
	size_t cap = http_request_buffer_size(&srv->limits);
	char *buf = malloc(cap);
	int served;

	stats_conn_opened(srv->stats);
	if (buf == NULL) {
		accept_reject(srv, fd, 503);
		stats_conn_closed(srv->stats);
		return 0;
	}
	/*
	 * TCP_NODELAY and the send timeout came from the listener
	 * (server_setup); the peer's address is for the log and the limit.
	 */
	net_peer_unknown(&s.peer);
	if (exchange_needs_peer(srv))
		net_peer_of(fd, &s.peer);
	exchange_init(&s.ex, srv, buf, cap, &s.peer);
	served = session_run(&s);
	exchange_release(&s.ex);
	free(buf);
	stats_conn_closed(srv->stats);
	return served;
}
