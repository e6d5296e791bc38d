/*
 * conn.h - the non-blocking driver of models 05 and 06.
 *
 * A struct conn is one accepted, non-blocking socket.  The HTTP side of it
 * - parsing, errors, 100 Continue, keep-alive, pipelining, counting - is a
 * struct exchange (exchange.h), the same one the blocking models drive from
 * serve.c.  What conn.c adds is how to do that without ever waiting: the
 * loop tells it what the socket can do now (readable, writable, its
 * deadline passed), it does what it can, remembers how far it got, and
 * answers what it wants next; the loop only turns that answer into poll
 * events (05) or epoll_ctl calls (06):
 *
 *   CONN_WANT_READ     wake me when the socket is readable
 *   CONN_WANT_WRITE    wake me when the socket is writable
 *   CONN_WANT_WORKER   the request's handler may block (06): stop watching
 *                      me, let a worker run conn_handle_request, then call
 *                      conn_finish_handoff on the loop's thread
 *   CONN_WANT_CLOSE    call conn_close and forget me
 *
 * The states and what moves a connection between them:
 *
 *        accept                          timeout / EOF
 *   --> CONN_IDLE ------------------------------------------------> close
 *        |  ^  readable: take a buffer block (back at once on EAGAIN)
 *        |  |
 *        v  |  response done, nothing pipelined: give the block back
 *   CONN_READING --complete request--> (may block, 06) CONN_HANDED_OFF
 *        |  ^    (from CONN_WRITING too, for a pipelined one)  |
 *        |  |  response done, pipelined bytes: parse them    | worker done
 *        v  |                                                v
 *   CONN_WRITING <-----------------------------------------------+
 *        | a response that closes the connection (Connection: close,
 *        v HTTP/1.0, an error, a 5xx) is out - straight from
 *          CONN_READING when it went out in one write
 *   CONN_LINGERING: shut down our side, discard input until EOF or
 *                   EXCHANGE_LINGER_MS (the lingering close of exchange.h);
 *                   a close the client asked for, with nothing unread and
 *                   all of it acknowledged, skips it: CONN_WANT_CLOSE
 *
 * A response that goes out whole in one call never enters CONN_WRITING;
 * the pipeline budget's yield does, so it waits under the write clock.
 *
 * Memory: an idle connection is just the struct below (under 200 bytes).
 * The request buffer and the exchange live in a struct conn_buffers block
 * that the connection takes from its struct conn_shared when a request
 * begins and gives back when the response is sent and no pipelined bytes
 * remain.
 *
 * Timeouts: a request must arrive whole within header_timeout_ms of its
 * first byte (else 408), an idle keep-alive connection is closed after
 * keepalive_timeout_ms, and a response that makes no progress for
 * keepalive_timeout_ms (a client that stopped reading) is abandoned.
 * conn_deadline_ms() says when; conn_timer_kind() says which fixed
 * duration it was measured with, so 06 can keep one list per duration.
 *
 * Thread safety: a connection belongs to its loop's thread.  The one
 * exception is conn_handle_request(), which a worker may run between the
 * loop seeing CONN_WANT_WORKER and the loop calling conn_finish_handoff();
 * the loop must not touch the connection in between.  A struct
 * conn_shared is for the loop's thread only.
 */
#ifndef CONN_H
#define CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "exchange.h"
#include "net.h"

struct server;

/* What a connection wants from its loop next: see the top of the file. */
enum conn_want {
	CONN_WANT_READ,
	CONN_WANT_WRITE,
	CONN_WANT_WORKER,
	CONN_WANT_CLOSE,
};

enum conn_state {
	CONN_IDLE,	 /* between requests: no buffers held */
	CONN_READING,	 /* a request has begun */
	CONN_HANDED_OFF, /* a worker runs the handler (06) */
	CONN_WRITING,	 /* a response is going out */
	CONN_LINGERING,	 /* after a closing response: drain, then close */
};

/* Which fixed duration a connection's deadline was measured with. */
enum conn_timer {
	CONN_TIMER_NONE,      /* no deadline (handed off) */
	CONN_TIMER_KEEPALIVE, /* idle, or writing: keepalive_timeout_ms */
	CONN_TIMER_HEADER,    /* reading a request: header_timeout_ms */
	CONN_TIMER_LINGER,    /* lingering: EXCHANGE_LINGER_MS */
};

#define CONN_TIMERS 4

/*
 * Fairness: the most response bytes one call sends, and the most pipelined
 * requests one call answers, before the connection lets the loop serve
 * somebody else (it then asks for CONN_WANT_WRITE, which comes back on the
 * next turn because the socket is writable).
 */
#define CONN_WRITE_BUDGET (512 * 1024)
#define CONN_PIPELINE_BUDGET 16

/* Buffer blocks a struct conn_shared keeps for reuse by default. */
#define CONN_BUFFERS_CACHED 16

/*
 * One request's worth of memory: taken when a request begins, given back
 * when its response is sent.  buf is http_request_buffer_size() bytes.
 */
struct conn_buffers {
	struct conn_buffers *next_free; /* in conn_shared's free list */
	struct exchange ex;		/* borrows buf */
	char buf[];
};

/* Where a loop runs the handlers of complete requests. */
enum conn_handlers {
	CONN_HANDLERS_INLINE,		/* all on the loop's thread (05) */
	CONN_HANDLERS_OFFLOAD_BLOCKING, /* may-block ones on workers (06) */
};

/* What the connections of one loop share. */
struct conn_shared {
	const struct server *srv;
	enum conn_handlers handlers;
	size_t buf_size; /* http_request_buffer_size(&srv->limits) */
	struct conn_buffers *free_blocks;
	int cached; /* blocks in free_blocks */
	int max_cached;
};

struct conn {
	struct conn_shared *sh;
	struct conn_buffers *b; /* NULL while idle or lingering */
	int fd;			/* -1 once closed */
	enum conn_state state;
	long long deadline_ms; /* CLOCK_MONOTONIC, see clock_now_ms */
	size_t drained;	       /* bytes discarded while lingering */
	unsigned int answered; /* requests answered in this call */
	struct net_peer peer;  /* for the access log and the rate limit */

	/* The loop's fields: only the list helpers below touch them. */
	unsigned int events;	  /* what the loop watches for */
	enum conn_timer timer;	  /* conn_timers: the list c is filed in */
	long long timer_ms;	  /* ... under this deadline */
	struct conn *prev, *next; /* in one of the loop's lists */
};

/* A doubly-linked list of connections through their prev/next fields. */
struct conn_list {
	struct conn *head, *tail;
};

/*
 * Sets sh up for srv.  With CONN_HANDLERS_OFFLOAD_BLOCKING, a complete
 * request whose handler may block (exchange_may_block) is not run: the
 * connection answers CONN_WANT_WORKER instead.  Never fails.
 */
void conn_shared_init(struct conn_shared *sh, const struct server *srv,
		      enum conn_handlers handlers);

/* Frees the cached blocks.  Every connection must have been closed. */
void conn_shared_destroy(struct conn_shared *sh);

/*
 * Takes a block from the free list, or allocates one, and starts its
 * exchange for the connection from peer.  Returns NULL (errno ENOMEM) if
 * memory is short.
 */
struct conn_buffers *conn_buffers_get(struct conn_shared *sh,
				      const struct net_peer *peer);

/* Gives a block back: cached if there is room, else freed.  NULL is ok. */
void conn_buffers_put(struct conn_shared *sh, struct conn_buffers *b);

/*
 * Takes ownership of fd, an accepted non-blocking socket, and makes c an
 * idle connection waiting for its first request (CONN_WANT_READ).
 * Counts it in the stats.  Makes no system call unless the access log or
 * the rate limit is on (getpeername: exchange_needs_peer): the socket's
 * options came from the listener (server_setup).
 */
void conn_open(struct conn *c, struct conn_shared *sh, int fd);

/*
 * Closes the socket, releases the response and gives the block back.  Not
 * while a worker has the connection.  c itself is the caller's to free.
 */
void conn_close(struct conn *c);

/*
 * The socket is readable (or reported an error or hang-up).  Reads, parses,
 * answers complete requests and starts writing.  Returns what c wants.
 */
enum conn_want conn_on_readable(struct conn *c);

/* The socket is writable.  Sends more of the response.  Returns the want. */
enum conn_want conn_on_writable(struct conn *c);

/*
 * c's deadline has passed: closes an idle or stalled connection, answers a
 * request that is too slow with 408.  Returns the want.
 */
enum conn_want conn_on_timeout(struct conn *c);

/* When c times out (clock_now_ms); CLOCK_NEVER if never. */
long long conn_deadline_ms(const struct conn *c);

/* Which duration the deadline was measured with. */
enum conn_timer conn_timer_kind(const struct conn *c);

/* True when c is between requests and holds no buffers. */
bool conn_is_idle(const struct conn *c);

/*
 * 06: runs the handler of the request c stopped at (CONN_WANT_WORKER).
 * Safe on a worker thread: it touches only c's block and the server's
 * read-only state.
 */
void conn_handle_request(struct conn *c);

/*
 * 06, on the loop's thread: the worker is done.  Starts sending the
 * response and returns the want.  If the client has gone, the write fails
 * and the answer is CONN_WANT_CLOSE: the result is discarded.
 */
enum conn_want conn_finish_handoff(struct conn *c);

/*
 * 06: the pool could not take the request.  Answers it with status (503)
 * and Connection: close instead.  Returns the want.
 */
enum conn_want conn_refuse_handoff(struct conn *c, int status);

/* Intrusive list helpers; O(1).  c must not be in another list. */
void conn_list_append(struct conn_list *l, struct conn *c);
void conn_list_remove(struct conn_list *l, struct conn *c);

/*
 * Deadlines without a scan (06): one list per enum conn_timer, each sorted
 * by deadline, through the connections' timer, timer_ms, prev and next.
 *
 * LESSON: both timeouts are fixed durations, so a deadline set now is
 * almost never earlier than one set before with the same duration:
 * appending to the tail of its duration's list keeps every list sorted.
 * (The exception: a request's header clock runs from its first byte, so
 * one that comes back to reading after a 100 Continue went out keeps its
 * older deadline; filing walks back from the tail for it.)  Filing is O(1)
 * in practice and the earliest deadline is one of CONN_TIMERS heads.  A
 * min-heap (O(log n) per change) or a timer wheel would take any durations; we
 * do not need that.  A connection is moved only when its deadline changes:
 * moving it on every event would put an old deadline behind newer ones.
 */
struct conn_timers {
	struct conn_list lists[CONN_TIMERS];
};

/* Files c under its current deadline, after each call into c.  O(1). */
void conn_timers_update(struct conn_timers *t, struct conn *c);

/* Takes c out of its list, if any.  O(1). */
void conn_timers_remove(struct conn_timers *t, struct conn *c);

/* The connection with the earliest deadline, or NULL.  O(CONN_TIMERS). */
struct conn *conn_timers_first(const struct conn_timers *t);

#endif /* CONN_H */
