/*
 * serve.c - the blocking connection loop shared by models 01 to 04.
 *
 *   wait for bytes (poll on the socket and the stop pipe, with a timeout)
 *   -> read -> http_parse_request -> app_handle -> write head and body
 *   -> sendfile the file range -> next request on the same connection
 *
 * Every step may block the calling thread or process: while it waits for
 * this client it can do nothing for anybody else.  That is the whole cost
 * that models 02 to 06 try to avoid.
 */
#include "serve.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "app.h"
#include "log.h"
#include "net.h"
#include "response.h"
#include "server.h"
#include "stats.h"

/* How long we keep reading after an error response: see lingering_close. */
#define LINGER_MS 1000
#define LINGER_BYTES (256 * 1024)

/* One connection's state, on the stack of serve_connection. */
struct session {
	const struct server *srv;
	int fd;
	char peer[NET_ADDR_MAX];
	char *buf;
	size_t cap;
	size_t used;
	long long request_started_ms; /* first byte of the current request */
	uint64_t request_started_us;
	bool failed; /* an error response was sent: close with a linger */
};

/* Writes all of iov, retrying on EINTR and short writes. */
static int write_all(int fd, struct iovec *iov, int iovcnt)
{
	while (iovcnt > 0) {
		ssize_t n = writev(fd, iov, iovcnt);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1; /* EPIPE, ECONNRESET, or SO_SNDTIMEO */
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int send_file_range(int fd, struct response *resp)
{
	off_t off = resp->file_offset;
	size_t left = resp->file_len;

	while (left > 0) {
		ssize_t n = sendfile(fd, resp->file_fd, &off, left);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1; /* error, or the file shrank under us */
		left -= (size_t)n;
	}
	return 0;
}

/*
 * Sends a finished response: head and in-memory body in one writev, then
 * the file range with sendfile, so file bytes never pass through user space.
 */
static int send_response(int fd, struct response *resp)
{
	struct iovec iov[2] = {
		{ .iov_base = resp->head, .iov_len = resp->head_len },
		{ .iov_base = (void *)resp->body, .iov_len = 0 },
	};

	if (!resp->head_only)
		iov[1].iov_len = resp->body_len;
	if (write_all(fd, iov, iov[1].iov_len > 0 ? 2 : 1) != 0)
		return -1;
	if (!resp->head_only && resp->file_fd >= 0 && resp->file_len > 0)
		return send_file_range(fd, resp);
	return 0;
}

/*
 * LESSON: closing a socket that still has unread request bytes makes the
 * kernel send RST, and the client may lose the error response we just
 * wrote.  So after an error we half-close, then read and discard for a
 * moment (Apache calls this a lingering close) before the real close.
 */
static void lingering_close(int fd)
{
	long long deadline = server_now_ms() + LINGER_MS;
	size_t drained = 0;
	char sink[4096];

	shutdown(fd, SHUT_WR);
	while (drained < LINGER_BYTES) {
		long long left = deadline - server_now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = read(fd, sink, sizeof(sink));
		if (n <= 0)
			break;
		drained += (size_t)n;
	}
	close(fd);
}

/* Records, logs and sends one response; 0 if the connection may go on. */
static int finish_request(struct session *s, const struct http_request *req,
			  struct response *resp)
{
	int rc = send_response(s->fd, resp);

	stats_record(s->srv->stats, resp->status,
		     stats_now_us() - s->request_started_us);
	log_access(s->srv->log_fd, s->peer, req, resp->status,
		   resp_body_bytes(resp));
	resp_release(resp);
	return rc == 0 && resp->keep_alive ? 0 : -1;
}

/* Answers a request the parser refused, or one that timed out. */
static void send_error(struct session *s, int status)
{
	struct response resp;

	app_handle_error(s->srv, NULL, status, &resp);
	finish_request(s, NULL, &resp);
	s->failed = true;
}

static void send_continue(int fd)
{
	static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct iovec iov = { .iov_base = (void *)msg,
			     .iov_len = sizeof(msg) - 1 };

	write_all(fd, &iov, 1);
}

enum wait_result { WAIT_READABLE, WAIT_TIMEOUT, WAIT_STOP, WAIT_ERROR };

/*
 * Waits until the client sends something.  Between requests we also watch
 * the stop pipe; in the middle of one we do not, so that a request in hand
 * is finished before the server stops.
 */
static enum wait_result wait_for_bytes(struct session *s)
{
	const struct options *opt = &s->srv->opt;
	bool between = s->used == 0;
	long long deadline =
		between ? server_now_ms() + opt->keepalive_timeout_ms
			: s->request_started_ms + opt->header_timeout_ms;
	struct pollfd p[2] = {
		{ .fd = s->fd, .events = POLLIN },
		{ .fd = s->srv->stop_fd, .events = POLLIN },
	};

	for (;;) {
		long long left = deadline - server_now_ms();
		int n;

		if (left <= 0)
			return WAIT_TIMEOUT;
		n = poll(p, between ? 2 : 1, (int)left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return WAIT_ERROR;
		if (n == 0)
			return WAIT_TIMEOUT;
		if (p[0].revents != 0)
			return WAIT_READABLE;
		return WAIT_STOP;
	}
}

/* Reads what the client sent; 0 on success, -1 when the connection ended. */
static int read_more(struct session *s)
{
	for (;;) {
		ssize_t n = read(s->fd, s->buf + s->used, s->cap - s->used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1; /* closed by the client, or reset */
		if (s->used == 0) {
			s->request_started_ms = server_now_ms();
			s->request_started_us = stats_now_us();
		}
		s->used += (size_t)n;
		return 0;
	}
}

/* Handles one complete request of n bytes; 0 if the connection goes on. */
static int handle_request(struct session *s, struct http_request *req, size_t n)
{
	struct response resp;
	int rc;

	app_handle(s->srv, req, &resp);
	rc = finish_request(s, req, &resp);
	/* Pipelining: what follows the request is the start of the next. */
	memmove(s->buf, s->buf + n, s->used - n);
	s->used -= n;
	if (s->used > 0) {
		s->request_started_ms = server_now_ms();
		s->request_started_us = stats_now_us();
	}
	return rc;
}

/* The request/response loop; returns the number of requests served. */
static int session_run(struct session *s)
{
	bool continued = false;
	int served = 0;

	for (;;) {
		struct http_request req;
		ssize_t n = http_parse_request(s->buf, s->used, &s->srv->limits,
					       &req, NULL);

		if (n > 0) {
			served++;
			continued = false;
			if (handle_request(s, &req, (size_t)n) != 0)
				return served;
			continue;
		}
		if (n == HTTP_ERROR) {
			send_error(s, req.status);
			return served;
		}
		if (req.header_len > 0 && req.expect_continue && !continued) {
			send_continue(s->fd);
			continued = true;
		}
		if (s->used == s->cap) {
			send_error(s, req.header_len > 0 ? 413 : 431);
			return served;
		}
		switch (wait_for_bytes(s)) {
		case WAIT_READABLE:
			if (read_more(s) != 0)
				return served;
			break;
		case WAIT_TIMEOUT:
			if (s->used > 0) {
				send_error(s, 408);
				return served;
			}
			return served;
		case WAIT_STOP:
		case WAIT_ERROR:
			return served;
		}
	}
}

/*
 * LESSON: a send timeout bounds how long a client that stops reading can
 * hold this thread inside write() or sendfile().
 */
static void set_send_timeout(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

int serve_connection(const struct server *srv, int fd)
{
	struct session s = { .srv = srv, .fd = fd, .peer = "-" };
	int served;

	stats_conn_opened(srv->stats);
	s.cap = server_request_buffer_size(srv);
	s.buf = malloc(s.cap);
	if (s.buf == NULL) {
		serve_reject(srv, fd, 503);
		stats_conn_closed(srv->stats);
		return 0;
	}
	net_peer_address(fd, s.peer, sizeof(s.peer));
	net_set_nodelay(fd);
	set_send_timeout(fd, srv->opt.keepalive_timeout_ms);
	served = session_run(&s);
	free(s.buf);
	if (s.failed)
		lingering_close(fd);
	else
		close(fd);
	stats_conn_closed(srv->stats);
	return served;
}

void serve_reject(const struct server *srv, int fd, int status)
{
	struct response resp;
	struct iovec iov[2];
	char sink[4096];

	app_handle_error(srv, NULL, status, &resp);
	iov[0] = (struct iovec){ .iov_base = resp.head,
				 .iov_len = resp.head_len };
	iov[1] = (struct iovec){ .iov_base = (void *)resp.body,
				 .iov_len = resp.body_len };
	/* A fresh socket's send buffer is empty: this write does not block. */
	if (writev(fd, iov, 2) < 0) {
		close(fd);
		return;
	}
	stats_record(srv->stats, status, 0);
	/* Discard a request already received, so close() sends FIN not RST. */
	shutdown(fd, SHUT_WR);
	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	close(fd);
}
