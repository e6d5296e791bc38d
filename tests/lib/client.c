/*
 * client.c - the test suites' HTTP client: see client.h.
 *
 * Every socket is non-blocking and every wait is a poll() with the time
 * left before a deadline, so no call here can block for longer than the
 * caller allowed.
 *
 * One function frames responses, take_reply(), and it never waits: it
 * takes a response off the front of the buffer if all of it is there, and
 * otherwise notes how many bytes the buffer must hold before another try
 * can succeed (c->want), so a 2 MiB body is parsed once, not once per
 * recv.  client_read_reply() is that function in a loop around recv;
 * client_take_reply() is one call of it, for suites that poll many
 * connections themselves.
 */
#include "client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "errmsg.h"

/* A body bigger than this is a server bug, not something to buffer. */
#define CLIENT_BODY_MAX (8u * 1024 * 1024)
#define CLIENT_HEAD_MAX (64u * 1024)
/* A response is buffered whole before it is taken. */
#define CLIENT_BUF_MAX (CLIENT_BODY_MAX + CLIENT_HEAD_MAX)
/* The room a recv into the buffer asks for. */
#define CLIENT_RECV_MIN 16384u

static struct client clients[CLIENT_MAX];
static bool clients_ready;

const char *client_error(void)
{
	return errmsg_get();
}

static struct client *slot_take(void)
{
	size_t i;

	if (!clients_ready) {
		for (i = 0; i < CLIENT_MAX; i++)
			clients[i].fd = -1;
		clients_ready = true;
	}
	for (i = 0; i < CLIENT_MAX; i++) {
		if (clients[i].fd == -1) {
			/* Still free (fd -1) until client_open succeeds. */
			memset(&clients[i], 0, sizeof(clients[i]));
			clients[i].fd = -1;
			return &clients[i];
		}
	}
	errmsg_set("more than %d clients open", CLIENT_MAX);
	return NULL;
}

/* Finishes a non-blocking connect before the deadline. */
static int connect_wait(int fd, const struct sockaddr_in *sa)
{
	int64_t deadline = now_ms() + CLIENT_TIMEOUT_MS;
	int err = 0;
	socklen_t len = sizeof(err);

	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
		return 0;
	if (errno != EINPROGRESS) {
		errmsg_set("connect: %s", strerror(errno));
		return -1;
	}
	if (clock_wait_fd(fd, POLLOUT, deadline) != 1) {
		errmsg_set("connect: no answer within %d ms",
			   CLIENT_TIMEOUT_MS);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err) {
		errmsg_set("connect: %s", strerror(err ? err : errno));
		return -1;
	}
	return 0;
}

struct client *client_open(int port)
{
	return client_open_rcvbuf(port, 0);
}

/* Binds fd to the local address src (port 0); 0, or -1 with a message. */
static int bind_source(int fd, const char *src)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };

	if (inet_pton(AF_INET, src, &sa.sin_addr) != 1) {
		errmsg_set("%s: not an IPv4 address", src);
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)&sa, sizeof(sa)) == -1) {
		errmsg_set("bind %s: %s", src, strerror(errno));
		return -1;
	}
	return 0;
}

/* client_open_rcvbuf(), from src when it is not NULL. */
static struct client *open_client(int port, int rcvbuf, const char *src)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct client *c = slot_take();
	int one = 1;
	int fd;

	if (!c)
		return NULL;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		errmsg_set("socket: %s", strerror(errno));
		return NULL;
	}
	if (src != NULL && bind_source(fd, src) == -1) {
		close(fd);
		return NULL;
	}
	/* Before the handshake, so the window is small from the start. */
	if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
				     sizeof(rcvbuf)) == -1) {
		errmsg_set("SO_RCVBUF: %s", strerror(errno));
		close(fd);
		return NULL;
	}
	/* The byte-at-a-time tests need each byte in its own segment. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect_wait(fd, &sa) == -1) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	return c;
}

struct client *client_open_rcvbuf(int port, int rcvbuf)
{
	return open_client(port, rcvbuf, NULL);
}

struct client *client_open_from(int port, const char *src)
{
	return open_client(port, 0, src);
}

void client_close(struct client *c)
{
	if (!c || c->fd == -1)
		return;
	close(c->fd);
	free(c->buf);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

void client_abort(struct client *c)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (!c || c->fd == -1)
		return;
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	client_close(c);
}

void client_close_all(void)
{
	size_t i;

	if (!clients_ready)
		return;
	for (i = 0; i < CLIENT_MAX; i++)
		client_close(&clients[i]);
}

int client_send(struct client *c, const void *buf, size_t len)
{
	return client_send_within(c, buf, len, CLIENT_TIMEOUT_MS);
}

int client_send_within(struct client *c, const void *buf, size_t len,
		       int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	const char *p = buf;

	while (len > 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno != EAGAIN) {
			errmsg_set("send: %s", strerror(errno));
			return -1;
		}
		if (clock_wait_fd(c->fd, POLLOUT, deadline) != 1) {
			errmsg_set("send: server read nothing for %d ms",
				   timeout_ms);
			return -1;
		}
	}
	return 0;
}

int client_send_str(struct client *c, const char *s)
{
	return client_send(c, s, strlen(s));
}

/*
 * Makes room in the buffer for a recv: CLIENT_RECV_MIN bytes, or what is
 * left below CLIENT_BUF_MAX.  Returns 0, or -1 if the buffer is full.
 */
static int buf_make_room(struct client *c)
{
	size_t cap = c->cap ? c->cap : CLIENT_RECV_MIN;
	char *p;

	if (c->cap - c->len >= CLIENT_RECV_MIN)
		return 0;
	while (cap - c->len < CLIENT_RECV_MIN && cap < CLIENT_BUF_MAX)
		cap *= 2;
	if (cap > CLIENT_BUF_MAX)
		cap = CLIENT_BUF_MAX;
	if (cap == c->cap) {
		if (c->len < c->cap)
			return 0;
		errmsg_set("response larger than %u bytes", CLIENT_BUF_MAX);
		return -1;
	}
	/* One byte spare, so the buffer can be NUL-terminated. */
	p = realloc(c->buf, cap + 1);
	if (!p) {
		errmsg_set("out of memory");
		return -1;
	}
	c->buf = p;
	c->cap = cap;
	return 0;
}

/*
 * One recv of at most max bytes into buf, waiting until deadline for
 * something to arrive.  Returns the bytes read, 0 when the server has
 * closed (c->eof, and c->reset if with a reset), -1 on timeout or error.
 */
static ssize_t recv_wait(struct client *c, void *buf, size_t max,
			 int64_t deadline)
{
	for (;;) {
		ssize_t n;
		int w;

		if (c->eof)
			return 0;
		n = recv(c->fd, buf, max, 0);
		if (n > 0)
			return n;
		if (n == 0 || errno == ECONNRESET) {
			c->eof = true;
			c->reset = n == -1;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			errmsg_set("recv: %s", strerror(errno));
			return -1;
		}
		w = clock_wait_fd(c->fd, POLLIN, deadline);
		if (w == 0) {
			errmsg_set("no response within the deadline");
			return -1;
		}
		if (w == -1) {
			errmsg_set("poll: %s", strerror(errno));
			return -1;
		}
	}
}

/*
 * Reads what has arrived into the buffer, waiting until deadline.  Returns
 * 1 when bytes were added, 0 when the server has closed, -1 on timeout or
 * error.
 */
static int fill(struct client *c, int64_t deadline)
{
	ssize_t n;

	if (c->eof)
		return 0;
	if (buf_make_room(c) == -1)
		return -1;
	n = recv_wait(c, c->buf + c->len, c->cap - c->len, deadline);
	if (n <= 0)
		return (int)n;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	return 1;
}

/* Drops the first n bytes of the buffer. */
static void consume(struct client *c, size_t n)
{
	if (!c->buf) /* nothing received yet */
		return;
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	c->buf[c->len] = '\0';
}

/* Byte offset just past "\r\n\r\n", or 0 if the head is incomplete. */
static size_t head_end(const struct client *c)
{
	const char *p;

	if (c->len < 4)
		return 0;
	p = memmem(c->buf, c->len, "\r\n\r\n", 4);
	return p ? (size_t)(p - c->buf) + 4 : 0;
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	return s;
}

/* "HTTP/1.1 200 OK" into r.  Returns 0 or -1. */
static int parse_status_line(char *line, struct reply *r)
{
	char *sp = strchr(line, ' ');
	char *end;
	long status;

	if (!sp || sp - line >= (long)sizeof(r->version) ||
	    strncmp(line, "HTTP/1.", 7) != 0)
		return -1;
	memcpy(r->version, line, (size_t)(sp - line));
	r->version[sp - line] = '\0';
	if (!isdigit((unsigned char)sp[1]) || !isdigit((unsigned char)sp[2]) ||
	    !isdigit((unsigned char)sp[3]))
		return -1;
	status = strtol(sp + 1, &end, 10);
	if (end != sp + 4 || (*end != ' ' && *end != '\0'))
		return -1;
	r->status = (int)status;
	r->reason = *end ? end + 1 : end;
	return 0;
}

/* Splits the head (hlen bytes of c->buf) into r.  Returns 0 or -1. */
static int parse_head(const char *buf, size_t hlen, struct reply *r)
{
	char *line, *next;

	r->head = strndup(buf, hlen);
	r->fields = strndup(buf, hlen);
	if (!r->head || !r->fields) {
		errmsg_set("out of memory");
		return -1;
	}
	line = r->fields;
	next = strstr(line, "\r\n");
	*next = '\0';
	if (parse_status_line(line, r) == -1) {
		errmsg_set("malformed status line: \"%s\"", line);
		return -1;
	}
	for (line = next + 2; *line != '\r'; line = next + 2) {
		char *colon;

		next = strstr(line, "\r\n");
		*next = '\0';
		colon = strchr(line, ':');
		if (!colon || colon == line || line[0] == ' ') {
			errmsg_set("malformed header line: \"%s\"", line);
			return -1;
		}
		if (r->num_headers == REPLY_MAX_HEADERS) {
			errmsg_set("more than %d header fields",
				   REPLY_MAX_HEADERS);
			return -1;
		}
		*colon = '\0';
		r->headers[r->num_headers].name = line;
		r->headers[r->num_headers].value = trim(colon + 1);
		r->num_headers++;
	}
	return 0;
}

/* Appends n bytes at p to the body, which stays NUL-terminated. */
static int append_body(struct reply *r, const char *p, size_t n)
{
	char *body = realloc(r->body, r->body_len + n + 1);

	if (!body) {
		errmsg_set("out of memory");
		return -1;
	}
	if (n)
		memcpy(body + r->body_len, p, n);
	r->body = body;
	r->body_len += n;
	r->body[r->body_len] = '\0';
	return 0;
}

/*
 * The length of the CRLF-terminated line at c->buf + pos, without CRLF.
 * Returns 1, 0 if the line is not all there (c->want set), or -1.
 */
static int find_line(struct client *c, size_t pos, size_t *len)
{
	const char *crlf =
		c->len > pos ? memmem(c->buf + pos, c->len - pos, "\r\n", 2)
			     : NULL;

	if (crlf) {
		*len = (size_t)(crlf - (c->buf + pos));
		return 1;
	}
	if (c->len - pos > CLIENT_HEAD_MAX) {
		errmsg_set("chunk line too long");
		return -1;
	}
	c->want = c->len + 1;
	return 0;
}

/*
 * RFC 9112 section 7.1: chunks, a last chunk, trailers, from c->buf + pos.
 * Copies the chunk data into r.  Returns 1 with *end just past the
 * trailers, 0 if more bytes are needed (c->want set), or -1.
 */
static int frame_chunked(struct client *c, struct reply *r, size_t pos,
			 size_t *end)
{
	size_t len;
	int rc;

	for (;;) {
		unsigned long size;
		char *stop;

		rc = find_line(c, pos, &len);
		if (rc != 1)
			return rc;
		size = strtoul(c->buf + pos, &stop, 16);
		if (stop == c->buf + pos || size > CLIENT_BODY_MAX) {
			errmsg_set("bad chunk size line");
			return -1;
		}
		pos += len + 2;
		if (size == 0)
			break;
		if (c->len < pos + size + 2) {
			c->want = pos + size + 2;
			return 0;
		}
		if (append_body(r, c->buf + pos, size) == -1)
			return -1;
		if (memcmp(c->buf + pos + size, "\r\n", 2) != 0) {
			errmsg_set("chunk data not followed by CRLF");
			return -1;
		}
		pos += size + 2;
	}
	do { /* the trailer section, up to the empty line */
		rc = find_line(c, pos, &len);
		if (rc != 1)
			return rc;
		pos += len + 2;
	} while (len > 0);
	*end = pos;
	return 1;
}

/* A body of n bytes at c->buf + pos: as frame_body(). */
static int frame_length(struct client *c, struct reply *r, size_t pos, size_t n,
			size_t *end)
{
	if (c->len < pos + n) {
		c->want = pos + n;
		return 0;
	}
	if (append_body(r, c->buf + pos, n) == -1)
		return -1;
	*end = pos + n;
	return 1;
}

/*
 * The body from c->buf + pos, framed as RFC 9112 section 6.3 says, copied
 * into r.  Returns 1 with *end just past it, 0 if more bytes are needed
 * (c->want set), or -1.
 */
static int frame_body(struct client *c, struct reply *r, bool head_request,
		      size_t pos, size_t *end)
{
	const char *te = reply_header(r, "Transfer-Encoding");
	const char *cl = reply_header(r, "Content-Length");
	unsigned long long n;
	char *stop;

	if (head_request || r->status / 100 == 1 || r->status == 204 ||
	    r->status == 304)
		return frame_length(c, r, pos, 0, end);
	if (te)
		return frame_chunked(c, r, pos, end);
	if (!cl) { /* the body ends when the server closes */
		if (!c->eof) {
			c->want = c->len + 1;
			return 0;
		}
		return frame_length(c, r, pos, c->len - pos, end);
	}
	errno = 0;
	n = strtoull(cl, &stop, 10);
	if (errno || stop == cl || *stop || !isdigit((unsigned char)*cl) ||
	    n > CLIENT_BODY_MAX) {
		errmsg_set("bad Content-Length \"%s\"", cl);
		return -1;
	}
	return frame_length(c, r, pos, (size_t)n, end);
}

/*
 * Takes one response off the front of the buffer if all of it is there,
 * without waiting.  Returns 1 and fills r, 0 if more bytes are needed
 * (c->want says how many the buffer must hold first), or -1 if the
 * response is malformed or too large.
 */
static int take_reply(struct client *c, struct reply *r, bool head_request)
{
	size_t hlen = head_end(c), end = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	if (hlen == 0) {
		if (c->len > CLIENT_HEAD_MAX) {
			errmsg_set("response head over %u bytes",
				   CLIENT_HEAD_MAX);
			return -1;
		}
		c->want = c->len + 1;
		return 0;
	}
	if (parse_head(c->buf, hlen, r) == -1) {
		reply_free(r);
		return -1;
	}
	rc = frame_body(c, r, head_request, hlen, &end);
	if (rc == 1)
		consume(c, end);
	else
		reply_free(r);
	return rc;
}

static void set_closed_error(const struct client *c)
{
	errmsg_set("server closed the connection%s with %zu bytes of an "
		   "unfinished response",
		   c->reset ? " (reset)" : "", c->len);
}

int client_read_reply(struct client *c, struct reply *r, bool head_request,
		      int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		int rc = take_reply(c, r, head_request);

		if (rc != 0)
			return rc == 1 ? 0 : -1;
		if (c->eof) {
			set_closed_error(c);
			return -1;
		}
		while (c->len < c->want && fill(c, deadline) == 1)
			;
		/* Short of want: a timeout or an error, unless it closed. */
		if (c->len < c->want && !c->eof)
			return -1;
	}
}

int client_take_reply(struct client *c, struct reply *r, bool head_request)
{
	int64_t now = now_ms();
	int rc;

	/* What has arrived, without waiting (a deadline of now). */
	while (fill(c, now) == 1)
		;
	rc = take_reply(c, r, head_request);
	if (rc == 0 && c->eof) {
		set_closed_error(c);
		return -1;
	}
	return rc;
}

int client_read_head(struct client *c, struct reply *r, int timeout_ms)
{
	/* A reply to HEAD is a head and no body: the body stays unread. */
	return client_read_reply(c, r, true, timeout_ms);
}

ssize_t client_read_some(struct client *c, void *buf, size_t max,
			 int timeout_ms)
{
	size_t n = c->len < max ? c->len : max;

	if (n > 0) { /* what the buffer holds goes first */
		memcpy(buf, c->buf, n);
		consume(c, n);
		return (ssize_t)n;
	}
	return recv_wait(c, buf, max, now_ms() + timeout_ms);
}

long client_drain(struct client *c, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	long got = 0;

	for (;;) {
		got += (long)c->len;
		consume(c, c->len);
		if (c->eof)
			return got;
		if (fill(c, deadline) == -1)
			return -1;
	}
}

int client_wait_close(struct client *c, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	if (c->len > 0) {
		errmsg_set("%zu unexpected bytes after the response", c->len);
		return -1;
	}
	switch (fill(c, deadline)) {
	case 0:
		return 1;
	case 1:
		errmsg_set("%zu unexpected bytes after the response: \"%.40s\"",
			   c->len, c->buf);
		return -1;
	default:
		return 0;
	}
}

void reply_free(struct reply *r)
{
	free(r->head);
	free(r->fields);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

const char *reply_header(const struct reply *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->num_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			return r->headers[i].value;
	return NULL;
}

size_t reply_header_count(const struct reply *r, const char *name)
{
	size_t i, n = 0;

	for (i = 0; i < r->num_headers; i++)
		if (strcasecmp(r->headers[i].name, name) == 0)
			n++;
	return n;
}

bool reply_header_has_token(const struct reply *r, const char *name,
			    const char *token)
{
	size_t tlen = strlen(token);
	size_t i;

	for (i = 0; i < r->num_headers; i++) {
		const char *p = r->headers[i].value;

		if (strcasecmp(r->headers[i].name, name) != 0)
			continue;
		while (*p) {
			size_t n;

			p += strspn(p, " \t,");
			n = strcspn(p, " \t,");
			if (n == tlen && strncasecmp(p, token, n) == 0)
				return true;
			p += n;
		}
	}
	return false;
}

int fetch(int port, const char *request, struct reply *r)
{
	return fetch_within(port, request, r, CLIENT_TIMEOUT_MS);
}

int fetch_within(int port, const char *request, struct reply *r, int timeout_ms)
{
	struct client *c = client_open(port);
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (!c)
		return -1;
	if (client_send_str(c, request) == 0)
		rc = client_read_reply(c, r, strncmp(request, "HEAD ", 5) == 0,
				       timeout_ms);
	client_close(c);
	return rc;
}
