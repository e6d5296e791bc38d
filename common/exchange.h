/*
 * exchange.h - the HTTP/1.1 side of one connection, without any I/O.
 *
 * Every model serves a connection the same way: receive bytes until a
 * request is complete, maybe send "100 Continue" first, answer the request,
 * send the response, record it, move any pipelined bytes to the front and
 * start again - or close.  This module owns all of that.  It never reads,
 * writes, polls or sleeps: the driver does (serve.c blocks, conn.c does
 * not) and tells the exchange what happened.  The exchange answers with
 * the one thing the driver must do next:
 *
 *   EXCHANGE_READ    read more bytes into exchange_input(), then call
 *                    exchange_received().  exchange_is_idle() says whether
 *                    this is the wait between requests (keep-alive timeout)
 *                    or in the middle of one (header timeout).
 *   EXCHANGE_HANDLE  a request is complete: call exchange_handle(), here or
 *                    on a worker thread (exchange_may_block() says whether
 *                    its handler may block).
 *   EXCHANGE_WRITE   output is pending (a 100 Continue, or a response):
 *                    send exchange_output_iov() and then
 *                    exchange_output_file(), and report each exchange_sent().
 *                    output_send() in output.h does one step of that.
 *   EXCHANGE_CLOSE   the last response is out and the connection must end:
 *                    close it, with a lingering close (below) unless
 *                    output_may_close_at_once() in output.h says not to.
 *
 * The driver calls exchange_next() again after every action.  Only two
 * things come from outside the cycle: a timeout in the middle of a request
 * (exchange_timeout(), 408) and a request the driver cannot run
 * (exchange_refuse(), 503 when 06's pool is full).  The end of a response
 * is recorded (counters and access log) inside exchange_next().
 *
 * LESSON: a close after a response must not lose the response.  If the
 * client has sent bytes we never read - a request pipelined behind a
 * Connection: close, the rest of a body we refused - close() makes the
 * kernel send RST, and the client's kernel may throw away the response it
 * has not read yet.  The lingering close avoids that: shut down our side
 * (the client sees EOF after the response), read and discard what still
 * comes for at most EXCHANGE_LINGER_MS or EXCHANGE_LINGER_BYTES, then
 * close.  But it waits for the client's FIN, and a server that serves
 * one client at a time (01) waits for every client's before it accepts
 * the next.  So a close skips it only when no byte can be lost:
 *   - the client chose the close (Connection: close, or HTTP/1.0) after a
 *     request read whole, and nothing followed it into the buffer
 *     (exchange_client_closes): a client that said it is done and was
 *     fully read sends nothing more (RFC 9112 9.6).  A close the server
 *     decided - an error, a 5xx, a refused request, a body left unread -
 *     lingers, as the client may well still be sending;
 *   - nothing waits unread in the socket (FIONREAD is 0): the client
 *     may have sent more after all;
 *   - the client has acknowledged every byte of the response (SIOCOUTQ is
 *     0): the response is in its kernel, so even an RST that a late byte
 *     provokes can no longer take it from our send queue.
 * If a socket query fails, we linger.  This is nginx's "lingering_close
 * on" (linger only when more input may come) with the send queue check
 * added.  On loopback the client's kernel has usually acknowledged the
 * response by the time writev() returns; over a real network the
 * acknowledgement is a round trip away, the send queue is rarely empty,
 * and the close lingers as before - safe, only not faster.
 *
 * Memory: the exchange borrows the caller's buffer (cap bytes, see
 * http_request_buffer_size) and holds the parsed request, its route and
 * the response (about 11 KiB).  It must not move while a request is in it: the
 * request's views point into buf.
 *
 * Thread safety: one thread at a time.  exchange_handle() may run on a
 * worker thread while the driver leaves the exchange alone.
 */
#ifndef EXCHANGE_H
#define EXCHANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "app.h"
#include "http_parser.h"
#include "net.h"
#include "response.h"

struct server;

/* How long, and how much, a lingering close reads before it closes. */
#define EXCHANGE_LINGER_MS 1000
#define EXCHANGE_LINGER_BYTES (256 * 1024)

/* The most iovecs exchange_output_iov() fills. */
#define EXCHANGE_IOV_MAX 2

/* What the driver must do next: see the top of this file. */
enum exchange_step {
	EXCHANGE_READ,
	EXCHANGE_HANDLE,
	EXCHANGE_WRITE,
	EXCHANGE_CLOSE,
};

enum exchange_phase {
	EXCHANGE_RECEIVING, /* reading a request (or idle, used == 0) */
	EXCHANGE_READY,	    /* a complete request waits for its handler */
	EXCHANGE_SENDING,   /* a response is going out */
	EXCHANGE_DONE,	    /* the last response is out: close */
};

struct exchange {
	const struct server *srv;
	const struct net_peer *peer; /* the connection's other end */
	/*
	 * Who sent the request in hand, for the access log and the rate
	 * limit: the peer, or when the peer is a --trust-proxy address the
	 * last X-Forwarded-For entry that is not one (then in forwarded).
	 */
	const struct net_peer *client;
	struct net_peer forwarded;

	char *buf;   /* the caller's; holds the request and what follows */
	size_t cap;  /* its size */
	size_t used; /* bytes received in buf */

	enum exchange_phase phase;
	struct http_parse_state parse;
	struct http_request req; /* views into buf */
	struct app_route route;	 /* where req goes, found once complete */
	size_t req_len;		 /* bytes of the complete request, or 0 */
	bool req_valid;		 /* req may be logged (it parsed) */
	bool continue_queued;	 /* 100 Continue is or was on its way */
	bool refused;		 /* exchange_refuse() answered req */
	uint64_t started_us;	 /* the request's first byte */

	/*
	 * The output: an interim response (100 Continue) while receiving,
	 * or resp's head, in-memory body and file range while sending.
	 * sent counts the bytes of it that are out.
	 */
	const char *interim;
	size_t interim_len;
	struct response resp;
	size_t sent;
};

/*
 * Starts ex on an empty buffer buf of cap bytes for the connection from
 * peer (which outlives ex: see exchange_needs_peer).  Never fails.
 */
void exchange_init(struct exchange *ex, const struct server *srv, char *buf,
		   size_t cap, const struct net_peer *peer);

/*
 * True when the exchanges of srv use the peer's address: for the access
 * log or the rate limit.  The driver then looks it up (net_peer_of) for
 * exchange_init; otherwise it passes an unknown peer and saves a
 * getpeername per connection.
 */
bool exchange_needs_peer(const struct server *srv);

/* Releases what the response holds (its file).  ex may be reused after. */
void exchange_release(struct exchange *ex);

/*
 * Works out the next step from what has been received and sent, moving on
 * as far as it can without I/O: it parses, queues error responses (400,
 * 413, 431, ...) and 100 Continue, and records finished responses.  A
 * complete request is checked against the rate limit (srv->ratelimit)
 * here, once, so it runs wherever the driver runs exchange_next(): on the
 * connection's thread or process in 01-04, on the loop in 05 and 06.  A
 * request over the limit is answered 429 with Retry-After, keep-alive as
 * the request asked, and never reaches EXCHANGE_HANDLE.  One that expects
 * 100-continue is checked when its head is complete, before the 100: over
 * the limit, its 429 comes instead and closes (the body is never read).
 */
enum exchange_step exchange_next(struct exchange *ex);

/* Where to read into, and how much room is left (> 0 on EXCHANGE_READ). */
char *exchange_input(const struct exchange *ex, size_t *room);

/* n bytes were read into exchange_input().  The first starts the clock. */
void exchange_received(struct exchange *ex, size_t n);

/* True between requests: nothing received, nothing to send. */
bool exchange_is_idle(const struct exchange *ex);

/* When the request in progress began (CLOCK_MONOTONIC microseconds). */
uint64_t exchange_started_us(const struct exchange *ex);

/*
 * On EXCHANGE_HANDLE: true when the request's handler may block.  The
 * request was routed once, when it completed (app_find_route): this and
 * exchange_handle() both read that route.
 */
bool exchange_may_block(const struct exchange *ex);

/*
 * On EXCHANGE_HANDLE: runs the request's route and queues its response.
 * Touches only ex and the server's read-only state, so a worker may run
 * it.
 */
void exchange_handle(struct exchange *ex);

/*
 * On EXCHANGE_HANDLE, instead of exchange_handle(): answers status (503)
 * with Connection: close.
 */
void exchange_refuse(struct exchange *ex, int status);

/*
 * On EXCHANGE_CLOSE: true when the connection ends because the client
 * asked it to (Connection: close, or HTTP/1.0 without keep-alive), after
 * a request read whole - head and body - that its handler answered, with
 * no byte received behind it.  Then nothing the client sent is left
 * unread in ex; whether any is left in the socket is the driver's to ask
 * (output_may_close_at_once in output.h).  False for every close the
 * server decided: an error (400, 408, 413, 431, 505, ...), a 5xx that
 * ends a keep-alive connection, a refused request, a body never read.
 * Pure: no I/O.
 */
bool exchange_client_closes(const struct exchange *ex);

/*
 * The request in progress took too long: queues 408 (the connection then
 * closes).  Only while receiving with bytes in hand; otherwise no-op.
 */
void exchange_timeout(struct exchange *ex);

/*
 * The unsent in-memory part of the output, as up to EXCHANGE_IOV_MAX
 * iovecs pointing into ex.  Returns how many (0: memory part all sent).
 */
int exchange_output_iov(const struct exchange *ex, struct iovec *iov);

/*
 * The unsent part of the response's file range, once the memory part is
 * out: returns its length (0 if none) and sets *fd and *offset.
 */
size_t exchange_output_file(const struct exchange *ex, int *fd, off_t *offset);

/* n more bytes of the output went out. */
void exchange_sent(struct exchange *ex, size_t n);

#endif /* EXCHANGE_H */
