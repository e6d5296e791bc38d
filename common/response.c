/*
 * response.c - turning a struct response into a status line and headers.
 *
 * Nothing here touches a socket.  resp_finish() writes the head into a fixed
 * buffer inside the response and leaves body_len and file_len saying exactly
 * what follows it on the wire, so the blocking and the event-loop models can
 * send the same three parts each in their own way.
 */
#include "response.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "compat.h"
#include "http_date.h"

/*
 * Sent on every response.  nosniff stops a browser from running an echoed
 * body as script because it "looks like" HTML; DENY stops framing.
 *
 * LESSON: the Content-Security-Policy goes on every response, not only on
 * HTML: /api/echo answers with the client's own Content-Type, so a page
 * that posts <script> as text/html would otherwise have it run with this
 * origin's rights.  Under this policy a browser runs no inline script or
 * style at all and loads only from this origin - which is why www/ keeps
 * its script and style in live.js and live.css.  frame-ancestors is the
 * modern X-Frame-Options; base-uri and form-action close the two doors
 * default-src leaves open.
 */
#define CSP_POLICY                                                             \
	"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "        \
	"form-action 'self'"
#define SECURITY_HEADERS                                                       \
	"X-Content-Type-Options: nosniff\r\n"                                  \
	"X-Frame-Options: DENY\r\n"                                            \
	"Referrer-Policy: no-referrer\r\n"                                     \
	"Content-Security-Policy: " CSP_POLICY "\r\n"

void resp_init(struct response *r)
{
	r->status = 200;
	r->content_type = NULL;
	r->keep_alive = true;
	r->head_only = false;
	r->extra[0] = '\0';
	r->extra_len = 0;
	r->body = NULL;
	r->body_len = 0;
	r->body_buf[0] = '\0';
	r->body_unref = NULL;
	r->body_ref = NULL;
	r->file_fd = -1;
	r->file_offset = 0;
	r->file_len = 0;
	r->head[0] = '\0';
	r->head_len = 0;
}

void resp_release(struct response *r)
{
	if (r->file_fd >= 0)
		close(r->file_fd);
	r->file_fd = -1;
	r->file_offset = 0;
	r->file_len = 0;
	if (r->body_unref != NULL) {
		r->body_unref(r->body_ref);
		r->body_unref = NULL;
		r->body_ref = NULL;
		r->body = NULL;
		r->body_len = 0;
	}
}

int resp_add_header(struct response *r, const char *name, const char *value_fmt,
		    ...)
{
	size_t room = sizeof(r->extra) - r->extra_len;
	char *line = r->extra + r->extra_len;
	va_list ap;
	int n, m;

	n = snprintf(line, room, "%s: ", name);
	if (n < 0 || (size_t)n >= room)
		goto out_undo;
	va_start(ap, value_fmt);
	m = vsnprintf(line + n, room - (size_t)n, value_fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)(n + m) + 2 >= room)
		goto out_undo;
	/*
	 * LESSON: a value may carry client bytes (a path in Location).  A CR
	 * or LF in it would let the client write headers of its own choosing
	 * into our response: "response splitting".
	 */
	if (strpbrk(line, "\r\n") != NULL)
		goto out_undo;
	memcpy(line + n + m, "\r\n", 3);
	r->extra_len += (size_t)(n + m) + 2;
	return 0;

out_undo:
	r->extra[r->extra_len] = '\0';
	return -1;
}

int resp_printf(struct response *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(r->body_buf, sizeof(r->body_buf), fmt, ap);
	va_end(ap);
	r->body = r->body_buf;
	if (n < 0) {
		r->body_len = 0;
		return -1;
	}
	if ((size_t)n >= sizeof(r->body_buf)) {
		r->body_len = sizeof(r->body_buf) - 1;
		return -1;
	}
	r->body_len = (size_t)n;
	return 0;
}

void resp_set_body(struct response *r, const char *body, size_t len)
{
	r->body = body;
	r->body_len = len;
}

void resp_set_body_ref(struct response *r, const char *body, size_t len,
		       void (*unref)(void *ref), void *ref)
{
	if (r->body_unref != NULL)
		r->body_unref(r->body_ref);
	r->body = body;
	r->body_len = len;
	r->body_unref = unref;
	r->body_ref = ref;
}

int resp_add_lines(struct response *r, const char *lines, size_t len)
{
	if (len >= sizeof(r->extra) - r->extra_len)
		return -1;
	memcpy(r->extra + r->extra_len, lines, len);
	r->extra_len += len;
	r->extra[r->extra_len] = '\0';
	return 0;
}

void resp_set_file(struct response *r, int fd, off_t offset, size_t len)
{
	if (r->file_fd >= 0 && r->file_fd != fd)
		close(r->file_fd);
	r->file_fd = fd;
	r->file_offset = offset;
	r->file_len = len;
}

void resp_error(struct response *r, int status)
{
	const char *reason = resp_reason(status);

	resp_release(r);
	r->extra[0] = '\0';
	r->extra_len = 0;
	r->status = status;
	r->keep_alive = false;
	r->content_type = "text/html; charset=utf-8";
	resp_printf(r,
		    "<!doctype html><title>%d %s</title>"
		    "<h1>%d %s</h1>\n",
		    status, reason, status, reason);
}

/* 1xx, 204 and 304 never have a body (RFC 9110 section 6.4.1). */
static bool status_has_body(int status)
{
	return status >= 200 && status != 204 && status != 304;
}

/*
 * The head is written without printf.  Every response writes one, and
 * formatting "Content-Length: %zu" through vsnprintf() parses the format,
 * sets up a string stream and calls a routine per conversion: in a
 * profile of 06 serving a small file, that was 7 % of the server's CPU.
 * The head's parts are strings whose lengths we know or can count, and
 * two numbers; appending them is a memcpy() each.
 */

/* Appends s[0..n) to r->head, kept NUL-terminated; -1 if it does not fit. */
static int head_put(struct response *r, const char *s, size_t n)
{
	if (n >= sizeof(r->head) - r->head_len)
		return -1;
	memcpy(r->head + r->head_len, s, n);
	r->head_len += n;
	r->head[r->head_len] = '\0';
	return 0;
}

/* A string literal, its length known when compiling. */
#define HEAD_PUT_LIT(r, lit) head_put(r, lit, sizeof(lit) - 1)

static int head_put_str(struct response *r, const char *s)
{
	return head_put(r, s, strlen(s));
}

/* v in decimal. */
static int head_put_uint(struct response *r, unsigned long long v)
{
	char digits[20]; /* 2^64 - 1 has 20 */
	size_t i = sizeof(digits);

	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return head_put(r, digits + i, sizeof(digits) - i);
}

/* "HTTP/1.1 404 Not Found\r\n"; statuses are three digits, 100-599. */
static int head_put_status_line(struct response *r)
{
	if (HEAD_PUT_LIT(r, "HTTP/1.1 ") < 0 ||
	    head_put_uint(r, (unsigned int)r->status) < 0 ||
	    HEAD_PUT_LIT(r, " ") < 0 ||
	    head_put_str(r, resp_reason(r->status)) < 0)
		return -1;
	return HEAD_PUT_LIT(r, "\r\n");
}

/* Content-Type and Content-Length, for a status that has a body. */
static int head_put_content(struct response *r)
{
	if (r->content_type != NULL && (HEAD_PUT_LIT(r, "Content-Type: ") < 0 ||
					head_put_str(r, r->content_type) < 0 ||
					HEAD_PUT_LIT(r, "\r\n") < 0))
		return -1;
	if (HEAD_PUT_LIT(r, "Content-Length: ") < 0 ||
	    head_put_uint(r, r->body_len + r->file_len) < 0)
		return -1;
	return HEAD_PUT_LIT(r, "\r\n");
}

static int write_head(struct response *r)
{
	r->head_len = 0;
	if (head_put_status_line(r) < 0)
		return -1;
	/* An interim response is only its status line (100 Continue). */
	if (r->status < 200)
		return HEAD_PUT_LIT(r, "\r\n");
	if (HEAD_PUT_LIT(r, "Date: ") < 0 ||
	    head_put_str(r, http_date_now()) < 0 ||
	    HEAD_PUT_LIT(r, "\r\nServer: " SERVER_NAME "\r\n") < 0)
		return -1;
	if (status_has_body(r->status) && head_put_content(r) < 0)
		return -1;
	if (r->keep_alive ? HEAD_PUT_LIT(r, "Connection: keep-alive\r\n") < 0
			  : HEAD_PUT_LIT(r, "Connection: close\r\n") < 0)
		return -1;
	if (HEAD_PUT_LIT(r, SECURITY_HEADERS) < 0 ||
	    head_put(r, r->extra, r->extra_len) < 0)
		return -1;
	return HEAD_PUT_LIT(r, "\r\n");
}

int resp_finish(struct response *r, const struct http_request *req)
{
	int rc = 0;

	if (req != NULL && req->method == HTTP_HEAD)
		r->head_only = true;
	if (write_head(r) < 0) {
		/* Fits: no extra lines and a short fixed body. */
		resp_error(r, 500);
		write_head(r);
		rc = -1;
	}
	/*
	 * LESSON: HEAD gets the very headers GET would, Content-Length
	 * included, and then no body.  We drop it here, once, so that no
	 * sender can forget to.
	 */
	if (r->head_only || !status_has_body(r->status)) {
		resp_release(r);
		r->body_len = 0;
	}
	return rc;
}

size_t resp_body_bytes(const struct response *r)
{
	if (r->head_only)
		return 0;
	return r->body_len + r->file_len;
}

static const struct {
	int status;
	const char *reason;
} reasons[] = {
	{ 100, "Continue" },
	{ 200, "OK" },
	{ 204, "No Content" },
	{ 206, "Partial Content" },
	{ 301, "Moved Permanently" },
	{ 304, "Not Modified" },
	{ 400, "Bad Request" },
	{ 403, "Forbidden" },
	{ 404, "Not Found" },
	{ 405, "Method Not Allowed" },
	{ 408, "Request Timeout" },
	{ 413, "Content Too Large" },
	{ 414, "URI Too Long" },
	{ 416, "Range Not Satisfiable" },
	{ 417, "Expectation Failed" },
	{ 429, "Too Many Requests" },
	{ 431, "Request Header Fields Too Large" },
	{ 500, "Internal Server Error" },
	{ 501, "Not Implemented" },
	{ 503, "Service Unavailable" },
	{ 505, "HTTP Version Not Supported" },
};

const char *resp_reason(int status)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(reasons); i++)
		if (reasons[i].status == status)
			return reasons[i].reason;
	return "Unknown";
}
