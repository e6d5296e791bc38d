/*
 * client.c - the test suites' HTTP client: see client.h.
 *
 * Every socket is non-blocking and every wait is a poll() with the time
 * left before a deadline, so no call here can block for longer than the
 * caller allowed.
 */
#include "client.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

/* A response bigger than this is a server bug, not something to buffer. */
#define CLIENT_BUF_MAX (8u * 1024 * 1024)
#define CLIENT_HEAD_MAX (64u * 1024)

static struct client clients[CLIENT_MAX];
static bool clients_ready;
static char last_error[512];

const char *client_error(void)
{
	return last_error;
}

__attribute__((format(printf, 1, 2))) static void set_error(const char *fmt,
							    ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
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
			memset(&clients[i], 0, sizeof(clients[i]));
			return &clients[i];
		}
	}
	set_error("more than %d clients open", CLIENT_MAX);
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
		set_error("connect: %s", strerror(errno));
		return -1;
	}
	if (clock_wait_fd(fd, POLLOUT, deadline) != 1) {
		set_error("connect: no answer within %d ms", CLIENT_TIMEOUT_MS);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err) {
		set_error("connect: %s", strerror(err ? err : errno));
		return -1;
	}
	return 0;
}

struct client *client_open(int port)
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
		set_error("socket: %s", strerror(errno));
		return NULL;
	}
	/* The byte-at-a-time test needs each byte in its own segment. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect_wait(fd, &sa) == -1) {
		close(fd);
		return NULL;
	}
	c->fd = fd;
	return c;
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
	int64_t deadline = now_ms() + CLIENT_TIMEOUT_MS;
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
			set_error("send: %s", strerror(errno));
			return -1;
		}
		if (clock_wait_fd(c->fd, POLLOUT, deadline) != 1) {
			set_error("send: server read nothing for %d ms",
				  CLIENT_TIMEOUT_MS);
			return -1;
		}
	}
	return 0;
}

int client_send_str(struct client *c, const char *s)
{
	return client_send(c, s, strlen(s));
}

/* Makes room for at least want more bytes.  Returns 0 or -1. */
static int buf_reserve(struct client *c, size_t want)
{
	size_t cap = c->cap ? c->cap : 16384;
	char *p;

	if (c->cap - c->len >= want)
		return 0;
	while (cap - c->len < want)
		cap *= 2;
	if (cap > CLIENT_BUF_MAX + 1) {
		set_error("response larger than %u bytes", CLIENT_BUF_MAX);
		return -1;
	}
	/* One byte spare, so the buffer can be NUL-terminated. */
	p = realloc(c->buf, cap + 1);
	if (!p) {
		set_error("out of memory");
		return -1;
	}
	c->buf = p;
	c->cap = cap;
	return 0;
}

/*
 * Reads what has arrived, waiting until deadline.  Returns 1 when bytes
 * were added, 0 when the server has closed, -1 on timeout or error.
 */
static int fill(struct client *c, int64_t deadline)
{
	for (;;) {
		ssize_t n;
		int w;

		if (c->eof)
			return 0;
		if (buf_reserve(c, 16384) == -1)
			return -1;
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
		if (n > 0) {
			c->len += (size_t)n;
			c->buf[c->len] = '\0';
			return 1;
		}
		if (n == 0 || errno == ECONNRESET) {
			c->eof = true;
			c->reset = n == -1;
			return 0;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN) {
			set_error("recv: %s", strerror(errno));
			return -1;
		}
		w = clock_wait_fd(c->fd, POLLIN, deadline);
		if (w == 0) {
			set_error("no response within the deadline");
			return -1;
		}
		if (w == -1) {
			set_error("poll: %s", strerror(errno));
			return -1;
		}
	}
}

static void consume(struct client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	if (c->buf)
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
		set_error("out of memory");
		return -1;
	}
	line = r->fields;
	next = strstr(line, "\r\n");
	*next = '\0';
	if (parse_status_line(line, r) == -1) {
		set_error("malformed status line: \"%s\"", line);
		return -1;
	}
	for (line = next + 2; *line != '\r'; line = next + 2) {
		char *colon;

		next = strstr(line, "\r\n");
		*next = '\0';
		colon = strchr(line, ':');
		if (!colon || colon == line || line[0] == ' ') {
			set_error("malformed header line: \"%s\"", line);
			return -1;
		}
		if (r->num_headers == REPLY_MAX_HEADERS) {
			set_error("more than %d header fields",
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

/* Waits until c->buf holds at least n bytes.  Returns 0 or -1. */
static int need_bytes(struct client *c, size_t n, int64_t deadline)
{
	while (c->len < n) {
		int got = fill(c, deadline);

		if (got == 0)
			set_error("server closed after %zu of %zu bytes",
				  c->len, n);
		if (got != 1)
			return -1;
	}
	return 0;
}

/* Appends n bytes of c->buf to the body and consumes them. */
static int take_body(struct client *c, struct reply *r, size_t n)
{
	char *p = realloc(r->body, r->body_len + n + 1);

	if (!p) {
		set_error("out of memory");
		return -1;
	}
	memcpy(p + r->body_len, c->buf, n);
	r->body = p;
	r->body_len += n;
	r->body[r->body_len] = '\0';
	consume(c, n);
	return 0;
}

/* Waits for a CRLF-terminated line; returns its length without CRLF. */
static ssize_t need_line(struct client *c, int64_t deadline)
{
	for (;;) {
		const char *crlf =
			c->len ? memmem(c->buf, c->len, "\r\n", 2) : NULL;

		if (crlf)
			return crlf - c->buf;
		if (c->len > CLIENT_HEAD_MAX) {
			set_error("chunk line too long");
			return -1;
		}
		if (fill(c, deadline) != 1) {
			if (c->eof)
				set_error("server closed inside chunked body");
			return -1;
		}
	}
}

/* RFC 9112 section 7.1: chunks, a last chunk, trailers. */
static int read_chunked(struct client *c, struct reply *r, int64_t deadline)
{
	for (;;) {
		ssize_t line = need_line(c, deadline);
		unsigned long size;
		char *end;

		if (line < 0)
			return -1;
		size = strtoul(c->buf, &end, 16);
		if (end == c->buf || size > CLIENT_BUF_MAX) {
			set_error("bad chunk size line");
			return -1;
		}
		consume(c, (size_t)line + 2);
		if (size == 0)
			break;
		if (need_bytes(c, size + 2, deadline) == -1 ||
		    take_body(c, r, size) == -1)
			return -1;
		if (memcmp(c->buf, "\r\n", 2) != 0) {
			set_error("chunk data not followed by CRLF");
			return -1;
		}
		consume(c, 2);
	}
	for (;;) { /* trailer section up to the empty line */
		ssize_t line = need_line(c, deadline);

		if (line < 0)
			return -1;
		consume(c, (size_t)line + 2);
		if (line == 0)
			return 0;
	}
}

static int read_body(struct client *c, struct reply *r, bool head_request,
		     int64_t deadline)
{
	const char *te = reply_header(r, "Transfer-Encoding");
	const char *cl = reply_header(r, "Content-Length");
	unsigned long long n;
	char *end;

	if (head_request || r->status / 100 == 1 || r->status == 204 ||
	    r->status == 304)
		return take_body(c, r, 0);
	if (te)
		return read_chunked(c, r, deadline);
	if (!cl) { /* the body ends when the server closes */
		while (fill(c, deadline) == 1)
			;
		if (!c->eof)
			return -1;
		return take_body(c, r, c->len);
	}
	errno = 0;
	n = strtoull(cl, &end, 10);
	if (errno || end == cl || *end || !isdigit((unsigned char)*cl) ||
	    n > CLIENT_BUF_MAX) {
		set_error("bad Content-Length \"%s\"", cl);
		return -1;
	}
	if (need_bytes(c, (size_t)n, deadline) == -1)
		return -1;
	return take_body(c, r, (size_t)n);
}

int client_read_reply(struct client *c, struct reply *r, bool head_request,
		      int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	size_t hlen;

	memset(r, 0, sizeof(*r));
	while ((hlen = head_end(c)) == 0) {
		if (c->len > CLIENT_HEAD_MAX) {
			set_error("response head over %u bytes",
				  CLIENT_HEAD_MAX);
			return -1;
		}
		if (fill(c, deadline) != 1) {
			if (c->eof)
				set_error("server closed the connection%s "
					  "with %zu bytes of a head",
					  c->reset ? " (reset)" : "", c->len);
			return -1;
		}
	}
	if (parse_head(c->buf, hlen, r) == -1)
		goto fail;
	consume(c, hlen);
	if (read_body(c, r, head_request, deadline) == -1)
		goto fail;
	return 0;
fail:
	reply_free(r);
	return -1;
}

int client_wait_close(struct client *c, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	if (c->len > 0) {
		set_error("%zu unexpected bytes after the response", c->len);
		return -1;
	}
	switch (fill(c, deadline)) {
	case 0:
		return 1;
	case 1:
		set_error("%zu unexpected bytes after the response: \"%.40s\"",
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
	struct client *c = client_open(port);
	int rc = -1;

	memset(r, 0, sizeof(*r));
	if (!c)
		return -1;
	if (client_send_str(c, request) == 0)
		rc = client_read_reply(c, r, strncmp(request, "HEAD ", 5) == 0,
				       CLIENT_TIMEOUT_MS);
	client_close(c);
	return rc;
}
