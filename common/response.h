/*
 * response.h - building an HTTP/1.1 response as bytes plus a file range.
 *
 * A handler fills a struct response: a status, a content type, extra header
 * lines, and a body that is either bytes in memory or a range of an open
 * file.  resp_finish() then writes the status line and every header into
 * resp->head.  The response never touches a socket: the exchange
 * (exchange.h) hands head, body and file range to output.c, which sends
 * them with writev and sendfile for both drivers, serve.c and conn.c.
 *
 * Ownership: body_buf is inside the struct; resp->body may instead borrow
 * from the request's buffer (echo) or from static storage, and must outlive
 * the sending, or hold a reference to what it borrows (resp_set_body_ref:
 * a file cache entry), which resp_release() drops.  file_fd, when >= 0, is
 * owned by the response and closed by resp_release().
 *
 * Thread safety: every function works only on the struct it is given.
 */
#ifndef RESPONSE_H
#define RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "http_parser.h"

#define RESP_HEAD_MAX 1024 /* status line and all headers */
#define RESP_EXTRA_MAX 384 /* handler-added header lines */
#define RESP_BODY_MAX 4096 /* generated bodies: JSON, error pages */

#define SERVER_NAME "concurrency-servers"

struct response {
	int status;
	const char *content_type; /* static string, NULL for none */
	bool keep_alive;	  /* Connection: keep-alive or close */
	bool head_only;		  /* HEAD: send the headers only */

	char extra[RESP_EXTRA_MAX]; /* "Name: value\r\n" lines */
	size_t extra_len;

	const char *body; /* in-memory body (may point into body_buf) */
	size_t body_len;
	char body_buf[RESP_BODY_MAX];
	void (*body_unref)(void *ref); /* NULL, or body is held by ref */
	void *body_ref;

	int file_fd; /* -1, or a file range sent after body */
	off_t file_offset;
	size_t file_len;

	char head[RESP_HEAD_MAX]; /* filled by resp_finish() */
	size_t head_len;
};

/* Resets r to an empty 200 response with no body and file_fd -1. */
void resp_init(struct response *r);

/*
 * Closes the file and drops the body's reference, if any.  Safe to call
 * twice.
 */
void resp_release(struct response *r);

/*
 * Appends "name: value\r\n".  Returns 0, or -1 if it does not fit or the
 * value holds a CR or LF (which would let a client inject headers); nothing
 * is added then.
 */
int resp_add_header(struct response *r, const char *name, const char *value_fmt,
		    ...) __attribute__((format(printf, 3, 4)));

/*
 * Formats the body into body_buf and points body at it.  Returns 0, or -1 if
 * it was truncated (the body then holds what fit).
 */
int resp_printf(struct response *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Borrows len bytes at body as the body (not copied). */
void resp_set_body(struct response *r, const char *body, size_t len);

/*
 * Borrows len bytes at body, which stay valid until unref(ref) is called:
 * r takes the caller's reference and resp_release() drops it, once, when
 * the body has been sent (or will not be).  For bodies shared between
 * responses on other threads, such as a file cache entry's.
 */
void resp_set_body_ref(struct response *r, const char *body, size_t len,
		       void (*unref)(void *ref), void *ref);

/*
 * Appends header lines the server built itself ("Name: value
" each),
 * as they are: no client bytes, so no CR/LF check.  Returns 0, or -1 if
 * they do not fit (nothing is added then).
 */
int resp_add_lines(struct response *r, const char *lines, size_t len);

/* Makes the body the range [offset, offset + len) of fd; r takes fd. */
void resp_set_file(struct response *r, int fd, off_t offset, size_t len);

/*
 * Makes r a complete error response for status: a short text/html body that
 * names the status, and Connection: close for every 4xx/5xx caused by a
 * broken request (the caller decides keep_alive; this sets it false).
 * Drops any file and extra header lines set before: add headers (Allow,
 * Retry-After) after calling it.
 */
void resp_error(struct response *r, int status);

/*
 * Writes the status line and headers into r->head: Date, Server,
 * Content-Type, Content-Length, Connection, the security headers and the
 * extra lines.  If req is a HEAD request the body is dropped from what is
 * sent (Content-Length still gives its length).  Returns 0, or -1 if the
 * head did not fit (then r has become a 500).
 *
 * Afterwards head[0..head_len), then body[0..body_len), then file_len bytes
 * of file_fd from file_offset are exactly what goes on the wire: for HEAD,
 * 1xx, 204 and 304 body_len and file_len are 0 and the file is closed.
 * 1xx responses are the status line alone.  Call it once per response.
 */
int resp_finish(struct response *r, const struct http_request *req);

/* Bytes of body (memory plus file range) that will be sent (0 for HEAD). */
size_t resp_body_bytes(const struct response *r);

/* The reason phrase for a status ("Not Found"); "Unknown" if none. */
const char *resp_reason(int status);

#endif /* RESPONSE_H */
