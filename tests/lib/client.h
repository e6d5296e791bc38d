/*
 * client.h - a tiny HTTP/1.1 client for the contract and adversarial suites.
 *
 * It sends raw bytes (the tests write requests by hand, so they can send
 * malformed ones) and reads responses with a deadline on every wait: a
 * server that never answers fails a test, it never hangs the suite.
 *
 * A struct client is one loopback TCP connection with its receive buffer.
 * Bytes read past the end of a response stay in the buffer for the next
 * client_read_reply(), which is what pipelining and HEAD checks need.
 *
 * Every client comes from a fixed table; client_close_all() closes whatever
 * a failed test left open, so one failure cannot block a one-connection-at-
 * a-time server (01) for the tests that follow.
 *
 * Errors: functions return 0 (or a pointer) on success and -1 (or NULL) on
 * failure; client_error() then describes the failure in words.
 *
 * Thread safety: none; the suite is single-threaded.
 */
#ifndef TESTS_CLIENT_H
#define TESTS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock.h" /* now_ms, sleep_ms: the tests use them with clients */

/* How long one wait may take before a test calls it a failure. */
#define CLIENT_TIMEOUT_MS 5000

/* The most clients open at once (the parallel tests open 100). */
#define CLIENT_MAX 256

#define REPLY_MAX_HEADERS 64

struct client {
	int fd;	   /* -1 when the slot is free */
	char *buf; /* received bytes not yet consumed */
	size_t len;
	size_t cap;
	bool eof;   /* the server closed (FIN or reset) */
	bool reset; /* ... with a reset (ECONNRESET) */
};

struct reply_header {
	const char *name;
	const char *value; /* without surrounding whitespace */
};

/* One parsed response; every string is owned by it (reply_free). */
struct reply {
	char version[16]; /* "HTTP/1.1" */
	int status;
	const char *reason;
	char *head;   /* the raw status line and headers, for messages */
	char *fields; /* a split copy the header views point into */
	struct reply_header headers[REPLY_MAX_HEADERS];
	size_t num_headers;
	char *body; /* NUL-terminated for strstr; may hold NULs */
	size_t body_len;
};

/* The description of the last failure. */
const char *client_error(void);

/*
 * Connects to 127.0.0.1:port within CLIENT_TIMEOUT_MS.  The socket is
 * non-blocking, close-on-exec and has TCP_NODELAY.  Returns NULL on error.
 */
struct client *client_open(int port);

/* Closes the connection and frees the slot.  NULL is ignored. */
void client_close(struct client *c);

/* Closes with SO_LINGER 0, so the server sees a reset rather than a FIN. */
void client_abort(struct client *c);

/* Closes every client still open. */
void client_close_all(void);

/*
 * Sends all len bytes within CLIENT_TIMEOUT_MS.  Returns 0, or -1 if the
 * deadline passed or the server closed (EPIPE, ECONNRESET).
 */
int client_send(struct client *c, const void *buf, size_t len);

/* client_send() of a C string. */
int client_send_str(struct client *c, const char *s);

/*
 * Reads one response before timeout_ms passes.  The body is framed as
 * RFC 9112 section 6.3 says: none for a reply to HEAD (head_request) or for
 * 1xx, 204 and 304; chunked; Content-Length; else until the server closes.
 * Returns 0 and fills r (free it with reply_free), or -1.
 */
int client_read_reply(struct client *c, struct reply *r, bool head_request,
		      int timeout_ms);

/*
 * Waits up to timeout_ms for the server to close the connection.  Returns 1
 * when it closed with nothing more sent, 0 on timeout, -1 if bytes arrived.
 */
int client_wait_close(struct client *c, int timeout_ms);

/* Frees what r owns and zeroes it.  Safe on a zeroed or freed reply. */
void reply_free(struct reply *r);

/* The first header named name (any case), or NULL. */
const char *reply_header(const struct reply *r, const char *name);

/* How many times a header named name appears. */
size_t reply_header_count(const struct reply *r, const char *name);

/*
 * True when the comma-separated list header name contains token (any case),
 * as for Connection: close or Allow: GET, HEAD.
 */
bool reply_header_has_token(const struct reply *r, const char *name,
			    const char *token);

/*
 * One exchange on a fresh connection: connect, send request, read one
 * reply, close.  Returns 0 or -1 (client_error() says why).
 */
int fetch(int port, const char *request, struct reply *r);

#endif /* TESTS_CLIENT_H */
