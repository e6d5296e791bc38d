/*
 * client.h - a tiny HTTP/1.1 client for the suites and the soak check.
 *
 * It sends raw bytes (the tests write requests by hand, so they can send
 * malformed ones) and reads responses with a deadline on every wait: a
 * server that never answers fails a test, it never hangs the suite.
 *
 * A struct client is one loopback TCP connection with its receive buffer.
 * Bytes read past the end of a response stay in the buffer for the next
 * client_read_reply(), which is what pipelining and HEAD checks need.
 * Beyond whole responses, a client can read a head and then its body at
 * the pace a test chooses (client_read_head, client_read_some), count or
 * discard what arrives until the server closes (client_drain), and take a
 * response without waiting (client_take_reply) when a test polls many
 * connections itself on their fd.
 *
 * Every client comes from a fixed table; client_close_all() closes whatever
 * a failed test left open, so one failure cannot block a one-connection-at-
 * a-time server (01) for the tests that follow.  A pointer is valid until
 * its client is closed: the next client_open() may reuse the slot.
 *
 * Errors: functions return 0 (or a pointer) on success and -1 (or NULL) on
 * failure; client_error() then describes the failure in words.
 *
 * Thread safety: none; the suites are single-threaded.
 */
#ifndef TESTS_CLIENT_H
#define TESTS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "clock.h" /* now_ms, sleep_ms: the tests use them with clients */

/* How long one wait may take before a test calls it a failure. */
#define CLIENT_TIMEOUT_MS 5000

/* The most clients open at once (an adversarial test opens 1,000). */
#define CLIENT_MAX 1024

#define REPLY_MAX_HEADERS 64

struct client {
	int fd;	   /* -1 when the slot is free */
	char *buf; /* received bytes not yet consumed */
	size_t len;
	size_t cap;
	bool eof;    /* the server closed (FIN or reset) */
	bool reset;  /* ... with a reset (ECONNRESET) */
	size_t want; /* the reader's: len it waits for before parsing again */
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

/*
 * client_open() with SO_RCVBUF set to rcvbuf bytes (if > 0) before the
 * handshake, so the window the server sees is small from the start: a
 * client that reads slowly, or not at all, really holds the server back.
 */
struct client *client_open_rcvbuf(int port, int rcvbuf);

/*
 * client_open() from the local IPv4 address src ("127.0.0.2": loopback
 * takes every address of 127/8), so one test can be several clients.
 */
struct client *client_open_from(int port, const char *src);

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
 * client_send() within timeout_ms instead of CLIENT_TIMEOUT_MS; with 0 it
 * sends only what the socket takes at once.
 */
int client_send_within(struct client *c, const void *buf, size_t len,
		       int timeout_ms);

/*
 * Reads one response before timeout_ms passes.  The body is framed as
 * RFC 9112 section 6.3 says: none for a reply to HEAD (head_request) or for
 * 1xx, 204 and 304; chunked; Content-Length; else until the server closes.
 * Returns 0 and fills r (free it with reply_free), or -1.
 */
int client_read_reply(struct client *c, struct reply *r, bool head_request,
		      int timeout_ms);

/*
 * Without waiting: reads what has arrived, then takes one complete
 * response off the buffer, framed as client_read_reply() frames it.
 * Returns 1 and fills r (free it with reply_free), 0 if it has not all
 * arrived yet, or -1 if it is malformed or the server closed before its
 * end.  For a test that polls many clients' fd itself.
 */
int client_take_reply(struct client *c, struct reply *r, bool head_request);

/*
 * Reads a response's status line and headers within timeout_ms and leaves
 * its body unread, for client_read_some().  r->body is "".  Returns 0 or
 * -1, as client_read_reply().
 */
int client_read_head(struct client *c, struct reply *r, int timeout_ms);

/*
 * Copies up to max (at least 1) bytes into buf: what the buffer holds
 * first, else one recv once something arrives within timeout_ms, so a test
 * reads at the pace it chooses.  Returns the bytes copied, 0 when the
 * server has closed (c->eof), -1 on timeout or error.
 */
ssize_t client_read_some(struct client *c, void *buf, size_t max,
			 int timeout_ms);

/*
 * Reads and discards until the server closes, for up to timeout_ms.
 * Returns the bytes discarded (those buffered included), or -1 if it had
 * not closed in time.  With timeout_ms 0 it discards what has arrived and
 * returns -1 unless the server has closed (c->eof says so either way).
 */
long client_drain(struct client *c, int timeout_ms);

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

/* fetch() that waits up to timeout_ms for the reply. */
int fetch_within(int port, const char *request, struct reply *r,
		 int timeout_ms);

#endif /* TESTS_CLIENT_H */
