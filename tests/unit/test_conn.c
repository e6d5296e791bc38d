/*
 * test_conn.c - the non-blocking connection over a socketpair, with the
 * test as its event loop: it calls conn_on_readable/_writable/_timeout
 * itself, plays the client on the other end, and checks both what the
 * connection wants and what went on the wire.  No poll, no threads: every
 * call returns at once, so nothing here waits on time.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "fake_server.h"
#include "server.h"
#include "static_files.h"
#include "stats.h"

static struct server srv;
static char base[] = "/tmp/test_conn.XXXXXX";
static char small_path[PATH_MAX], big_path[PATH_MAX];

#define SMALL_BODY "<p>small</p>\n"
/* Far more than the send buffer the big-response test leaves us. */
#define BIG_LEN (256 * 1024)

static int write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	for (size_t i = 0; i < len; i++)
		fputc(text != NULL ? text[i] : 'a' + (int)(i % 26), f);
	return fclose(f);
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(small_path, sizeof(small_path), "%s/small.txt", base);
	snprintf(big_path, sizeof(big_path), "%s/big.bin", base);
	if (write_file(small_path, SMALL_BODY, strlen(SMALL_BODY)) != 0 ||
	    write_file(big_path, NULL, BIG_LEN) != 0)
		return -1;
	return fake_server_init(&srv, base);
}

static int group_teardown(void **state)
{
	(void)state;
	stats_destroy(srv.stats);
	unlink(small_path);
	unlink(big_path);
	return rmdir(base);
}

/* One connection, its loop's shared state, and the client's end. */
struct pair {
	struct conn_shared sh;
	struct conn c;
	int peer;
	char out[BIG_LEN + 64 * 1024]; /* what the client has read */
	size_t out_len;
	bool eof; /* the client read EOF */
};

static struct pair *pair_open(enum conn_handlers handlers)
{
	struct pair *p = calloc(1, sizeof(*p));
	int sv[2];

	assert_non_null(p);
	assert_int_equal(socketpair(AF_UNIX,
				    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
				    0, sv),
			 0);
	conn_shared_init(&p->sh, &srv, handlers);
	conn_open(&p->c, &p->sh, sv[0]);
	p->peer = sv[1];
	return p;
}

static void pair_close(struct pair *p)
{
	conn_close(&p->c);
	if (p->peer >= 0)
		close(p->peer);
	conn_shared_destroy(&p->sh);
	free(p);
}

/* The client sends s; it fits in the socket buffer at once. */
static void put_bytes(struct pair *p, const char *s, size_t len)
{
	assert_int_equal(send(p->peer, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void put(struct pair *p, const char *s)
{
	put_bytes(p, s, strlen(s));
}

/* The client reads what has arrived, without waiting.  Returns how much. */
static size_t take(struct pair *p)
{
	size_t before = p->out_len;

	for (;;) {
		size_t room = sizeof(p->out) - 1 - p->out_len;
		ssize_t n;

		assert_true(room > 0);
		n = recv(p->peer, p->out + p->out_len, room, MSG_DONTWAIT);
		if (n > 0) {
			p->out_len += (size_t)n;
			continue;
		}
		if (n == 0)
			p->eof = true;
		else
			assert_int_equal(errno, EAGAIN);
		break;
	}
	p->out[p->out_len] = '\0';
	return p->out_len - before;
}

struct reply {
	int status;
	const char *head; /* NUL-terminated copy in head_buf */
	char head_buf[RESP_HEAD_MAX + 1];
	const char *body; /* into the pair's out */
	size_t body_len;
};

/*
 * Parses the response at *off in what the client read, and moves *off past
 * it.  Fails the test if it is not all there.
 */
static void next_reply(struct pair *p, size_t *off, struct reply *r)
{
	const char *start = p->out + *off;
	const char *end = strstr(start, "\r\n\r\n");
	const char *cl;
	size_t head_len;

	assert_non_null(end);
	head_len = (size_t)(end - start) + 4;
	assert_true(head_len <= RESP_HEAD_MAX);
	memcpy(r->head_buf, start, head_len);
	r->head_buf[head_len] = '\0';
	r->head = r->head_buf;
	assert_int_equal(sscanf(r->head, "HTTP/1.1 %d ", &r->status), 1);
	cl = strstr(r->head, "Content-Length: ");
	r->body_len = cl != NULL ? strtoul(cl + 16, NULL, 10) : 0;
	r->body = start + head_len;
	assert_true(*off + head_len + r->body_len <= p->out_len);
	*off += head_len + r->body_len;
}

/* The one response the client has read, all of it. */
static void only_reply(struct pair *p, struct reply *r)
{
	size_t off = 0;

	next_reply(p, &off, r);
	assert_int_equal(off, p->out_len);
}

static void assert_body(const struct reply *r, const char *s)
{
	assert_int_equal(r->body_len, strlen(s));
	assert_memory_equal(r->body, s, r->body_len);
}

/* True when the body holds s. */
static bool body_has(const struct reply *r, const char *s)
{
	return memmem(r->body, r->body_len, s, strlen(s)) != NULL;
}

#define GET_SMALL "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n"

/* A GET is answered, and the connection is idle again: no block held. */
static void test_get_then_idle(void **state)
{
	struct pair *p = pair_open(CONN_HANDLERS_INLINE);
	struct reply r;

	(void)state;
	assert_true(conn_is_idle(&p->c));
	assert_int_equal(conn_timer_kind(&p->c), CONN_TIMER_KEEPALIVE);
	assert_int_equal(p->sh.cached, 0);

	put(p, GET_SMALL);
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_READ);
	assert_true(conn_is_idle(&p->c));
	assert_int_equal(conn_timer_kind(&p->c), CONN_TIMER_KEEPALIVE);
	/* The block went back to the cache, ready for the next request. */
	assert_int_equal(p->sh.cached, 1);
	take(p);
	only_reply(p, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Connection: keep-alive\r\n"));
	assert_body(&r, SMALL_BODY);
	assert_false(p->eof);

	/* The same connection again, with the same block. */
	p->out_len = 0;
	put(p, GET_SMALL);
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_READ);
	assert_int_equal(p->sh.cached, 1);
	take(p);
	only_reply(p, &r);
	assert_int_equal(r.status, 200);
	pair_close(p);
}

/* Requests sent in one go are answered in order, each once. */
static void test_pipelined_in_order(void **state)
{
	struct pair *p = pair_open(CONN_HANDLERS_INLINE);
	struct reply r;
	size_t off = 0;

	(void)state;
	put(p,
	    GET_SMALL "GET /api/hello?name=second HTTP/1.1\r\nHost: t\r\n\r\n"
		      "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_READ);
	assert_true(conn_is_idle(&p->c));
	take(p);
	next_reply(p, &off, &r);
	assert_int_equal(r.status, 200);
	assert_body(&r, SMALL_BODY);
	next_reply(p, &off, &r);
	assert_int_equal(r.status, 200);
	assert_true(body_has(&r, "second"));
	next_reply(p, &off, &r);
	assert_int_equal(r.status, 404);
	assert_int_equal(off, p->out_len);
	pair_close(p);
}

/*
 * More pipelined requests than CONN_PIPELINE_BUDGET: the connection yields
 * after the budget (CONN_WANT_WRITE) and answers the rest on the next
 * call, still in order.
 */
static void test_pipeline_budget_yields(void **state)
{
	struct pair *p = pair_open(CONN_HANDLERS_INLINE);
	enum { N = CONN_PIPELINE_BUDGET + 4 };
	char req[128], name[16];
	struct reply r;
	size_t off = 0;

	(void)state;
	for (int i = 0; i < N; i++) {
		snprintf(req, sizeof(req),
			 "GET /api/hello?name=n%d HTTP/1.1\r\nHost: t\r\n\r\n",
			 i);
		put(p, req);
	}
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_WRITE);
	assert_false(conn_is_idle(&p->c));
	/*
	 * The yield waits under the write clock: the header deadline of the
	 * first request, once passed, would call us straight back for more.
	 */
	assert_int_equal(conn_timer_kind(&p->c), CONN_TIMER_KEEPALIVE);
	take(p);
	for (int i = 0; i < CONN_PIPELINE_BUDGET; i++)
		next_reply(p, &off, &r);
	assert_int_equal(off, p->out_len);

	assert_int_equal(conn_on_writable(&p->c), CONN_WANT_READ);
	assert_true(conn_is_idle(&p->c));
	take(p);
	off = 0;
	for (int i = 0; i < N; i++) {
		next_reply(p, &off, &r);
		assert_int_equal(r.status, 200);
		snprintf(name, sizeof(name), "Hello, n%d!", i);
		assert_true(body_has(&r, name));
	}
	assert_int_equal(off, p->out_len);
	pair_close(p);
}

/*
 * A request in 1-byte pieces: nothing is answered early, the header clock
 * runs from the first byte and does not move, and the last byte completes
 * it.
 */
static void test_one_byte_pieces(void **state)
{
	struct pair *p = pair_open(CONN_HANDLERS_INLINE);
	const char *req = GET_SMALL;
	size_t len = strlen(req);
	long long deadline = 0;
	struct reply r;

	(void)state;
	for (size_t i = 0; i < len; i++) {
		put_bytes(p, req + i, 1);
		assert_int_equal(conn_on_readable(&p->c), CONN_WANT_READ);
		if (i + 1 == len)
			break;
		assert_int_equal(take(p), 0);
		assert_false(conn_is_idle(&p->c));
		assert_int_equal(conn_timer_kind(&p->c), CONN_TIMER_HEADER);
		if (i == 0)
			deadline = conn_deadline_ms(&p->c);
		assert_true(conn_deadline_ms(&p->c) == deadline);
	}
	assert_true(conn_is_idle(&p->c));
	take(p);
	only_reply(p, &r);
	assert_int_equal(r.status, 200);
	assert_body(&r, SMALL_BODY);
	pair_close(p);
}

/*
 * A response much larger than the socket's send buffer goes out across
 * conn_on_writable calls while the client reads in between, and arrives
 * whole.
 */
static void test_large_response_resumes(void **state)
{
	struct pair *p = pair_open(CONN_HANDLERS_INLINE);
	int sndbuf = 16 * 1024, waits = 0;
	enum conn_want want;
	struct reply r;
	size_t i;

	(void)state;
	assert_int_equal(setsockopt(p->c.fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
				    sizeof(sndbuf)),
			 0);
	put(p, "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
	want = conn_on_readable(&p->c);
	while (want == CONN_WANT_WRITE) {
		assert_int_equal(conn_timer_kind(&p->c), CONN_TIMER_KEEPALIVE);
		assert_true(take(p) >
			    0); /* the socket was full: now it is not */
		assert_true(++waits < 10000);
		want = conn_on_writable(&p->c);
	}
	assert_int_equal(want, CONN_WANT_READ);
	assert_true(waits > 0);
	assert_true(conn_is_idle(&p->c));
	take(p);
	only_reply(p, &r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, BIG_LEN);
	for (i = 0; i < BIG_LEN; i++)
		if (r.body[i] != 'a' + (int)(i % 26))
			break;
	assert_int_equal(i, BIG_LEN);
	pair_close(p);
}

/*
 * Connection: close: the response goes out, then our side is shut (the
 * client reads EOF) while input is still drained; the client's close ends
 * it.
 */
static void test_close_lingers(void **state)
{
	struct pair *p = pair_open(CONN_HANDLERS_INLINE);
	struct reply r;

	(void)state;
	put(p, "GET /small.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
	       "GET /small.txt HTTP/1.1\r\nHost: t\r\n\r\n");
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_READ);
	assert_false(conn_is_idle(&p->c));
	assert_int_equal(conn_timer_kind(&p->c), CONN_TIMER_LINGER);
	assert_int_equal(p->sh.cached, 1); /* lingering holds no block */
	take(p);
	assert_true(p->eof);
	only_reply(p, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.head, "Connection: close\r\n"));

	/* More input is discarded, never answered; nothing is closed yet. */
	put(p, GET_SMALL);
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_READ);
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_READ);
	p->out_len = 0;
	assert_int_equal(take(p), 0);

	close(p->peer);
	p->peer = -1;
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_CLOSE);
	pair_close(p);
}

/* The deadline in the middle of a request: 408, close, and no more. */
static void test_timeout_mid_request(void **state)
{
	struct pair *p = pair_open(CONN_HANDLERS_INLINE);
	struct reply r;

	(void)state;
	put(p, "GET /small.txt HTTP/1.1\r\nHo");
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_READ);
	assert_int_equal(conn_timer_kind(&p->c), CONN_TIMER_HEADER);
	assert_int_equal(take(p), 0);

	assert_int_equal(conn_on_timeout(&p->c), CONN_WANT_READ);
	assert_int_equal(conn_timer_kind(&p->c), CONN_TIMER_LINGER);
	take(p);
	assert_true(p->eof);
	only_reply(p, &r);
	assert_int_equal(r.status, 408);
	assert_non_null(strstr(r.head, "Connection: close\r\n"));

	/* The lingering deadline passes too: now it is closed. */
	assert_int_equal(conn_on_timeout(&p->c), CONN_WANT_CLOSE);
	pair_close(p);
}

/* The keep-alive deadline of an idle connection: closed, nothing sent. */
static void test_timeout_idle(void **state)
{
	struct pair *p = pair_open(CONN_HANDLERS_INLINE);

	(void)state;
	put(p, GET_SMALL);
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_READ);
	take(p);
	p->out_len = 0;
	assert_int_equal(conn_on_timeout(&p->c), CONN_WANT_CLOSE);
	assert_int_equal(take(p), 0);
	pair_close(p);
}

#define GET_SLEEP "GET /api/sleep?ms=1 HTTP/1.1\r\nHost: t\r\n\r\n"

/* 06: a handler that may block goes to a worker; the result comes back. */
static void test_worker_offload(void **state)
{
	struct pair *p = pair_open(CONN_HANDLERS_OFFLOAD_BLOCKING);
	struct reply r;

	(void)state;
	put(p, GET_SLEEP);
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_WORKER);
	assert_int_equal(conn_timer_kind(&p->c), CONN_TIMER_NONE);
	assert_int_equal(take(p), 0);
	conn_handle_request(&p->c); /* the worker's part */
	assert_int_equal(conn_finish_handoff(&p->c), CONN_WANT_READ);
	assert_true(conn_is_idle(&p->c));
	take(p);
	only_reply(p, &r);
	assert_int_equal(r.status, 200);
	assert_true(body_has(&r, "\"slept_ms\":1"));

	/* A handler that cannot block runs on the loop even in 06. */
	p->out_len = 0;
	put(p, GET_SMALL);
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_READ);
	take(p);
	only_reply(p, &r);
	assert_int_equal(r.status, 200);
	pair_close(p);
}

/*
 * Found by fuzz_conn: after a hand-off, requests pipelined behind it are
 * answered until the budget yields.  The connection must not wait then in
 * the hand-off's state, with no deadline: it is writing, with its clock.
 */
static void test_pipelined_after_handoff_keeps_a_deadline(void **state)
{
	struct pair *p = pair_open(CONN_HANDLERS_OFFLOAD_BLOCKING);
	enum conn_want want;

	(void)state;
	put(p, GET_SLEEP);
	for (int i = 0; i < CONN_PIPELINE_BUDGET + 2; i++)
		put(p, GET_SMALL);
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_WORKER);
	conn_handle_request(&p->c);
	want = conn_finish_handoff(&p->c);
	assert_int_equal(want, CONN_WANT_WRITE);
	assert_int_not_equal(conn_timer_kind(&p->c), CONN_TIMER_NONE);
	assert_true(conn_deadline_ms(&p->c) != LLONG_MAX);
	/* And the rest are answered when the loop comes back. */
	take(p);
	assert_int_equal(conn_on_writable(&p->c), CONN_WANT_READ);
	pair_close(p);
}

/* 05: the same request runs inline, and never asks for a worker. */
static void test_inline_never_hands_off(void **state)
{
	struct pair *p = pair_open(CONN_HANDLERS_INLINE);
	struct reply r;

	(void)state;
	put(p, GET_SLEEP);
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_READ);
	take(p);
	only_reply(p, &r);
	assert_int_equal(r.status, 200);
	assert_true(body_has(&r, "\"slept_ms\":1"));
	pair_close(p);
}

/* 06's pool is full: 503 with Retry-After, close, and the rest unanswered. */
static void test_refuse_handoff(void **state)
{
	struct pair *p = pair_open(CONN_HANDLERS_OFFLOAD_BLOCKING);
	struct reply r;

	(void)state;
	put(p, GET_SLEEP GET_SMALL);
	assert_int_equal(conn_on_readable(&p->c), CONN_WANT_WORKER);
	assert_int_equal(conn_refuse_handoff(&p->c, 503), CONN_WANT_READ);
	assert_int_equal(conn_timer_kind(&p->c), CONN_TIMER_LINGER);
	take(p);
	assert_true(p->eof);
	only_reply(p, &r);
	assert_int_equal(r.status, 503);
	assert_non_null(strstr(r.head, "Connection: close\r\n"));
	assert_non_null(strstr(r.head, "Retry-After: 1\r\n"));
	pair_close(p);
}

/* A connection with no socket, only what the timer lists look at. */
static void timed(struct conn *c, enum conn_state state, long long deadline)
{
	c->state = state;
	c->deadline_ms = deadline;
}

static void assert_list(const struct conn_list *l, struct conn **want, size_t n)
{
	const struct conn *c = l->head;

	for (size_t i = 0; i < n; i++, c = c->next) {
		assert_ptr_equal(c, want[i]);
		assert_ptr_equal(c->prev, i > 0 ? want[i - 1] : NULL);
	}
	assert_null(c);
	assert_ptr_equal(l->tail, n > 0 ? want[n - 1] : NULL);
}

/*
 * The timer lists stay sorted, also for a deadline earlier than the
 * tail's (a request that kept its header clock across a 100 Continue),
 * and conn_timers_first is the earliest of all lists.
 */
static void test_timers(void **state)
{
	struct conn a, b, c, d, e;
	struct conn_timers t;
	struct conn_list *header = &t.lists[CONN_TIMER_HEADER];
	struct conn_list *keepalive = &t.lists[CONN_TIMER_KEEPALIVE];

	(void)state;
	memset(&t, 0, sizeof(t));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&c, 0, sizeof(c));
	memset(&d, 0, sizeof(d));
	memset(&e, 0, sizeof(e));
	assert_null(conn_timers_first(&t));

	timed(&a, CONN_READING, 100);
	timed(&b, CONN_READING, 200);
	timed(&c, CONN_READING, 150); /* earlier than the tail */
	timed(&d, CONN_READING, 50);  /* earlier than all */
	conn_timers_update(&t, &a);
	conn_timers_update(&t, &b);
	conn_timers_update(&t, &c);
	assert_list(header, (struct conn *[]){ &a, &c, &b }, 3);
	conn_timers_update(&t, &d);
	assert_list(header, (struct conn *[]){ &d, &a, &c, &b }, 4);
	assert_ptr_equal(conn_timers_first(&t), &d);

	/* Another list: the earliest head of all lists comes first. */
	timed(&e, CONN_IDLE, 75);
	conn_timers_update(&t, &e);
	assert_list(keepalive, (struct conn *[]){ &e }, 1);
	assert_ptr_equal(conn_timers_first(&t), &d);
	conn_timers_remove(&t, &d);
	assert_ptr_equal(conn_timers_first(&t), &e);

	/* An unchanged deadline keeps its place; a later one moves back. */
	conn_timers_update(&t, &a);
	assert_list(header, (struct conn *[]){ &a, &c, &b }, 3);
	timed(&a, CONN_READING, 300);
	conn_timers_update(&t, &a);
	assert_list(header, (struct conn *[]){ &c, &b, &a }, 3);

	/* A new state files it in its own list; handed off, in none. */
	timed(&c, CONN_WRITING, 80);
	conn_timers_update(&t, &c);
	assert_list(header, (struct conn *[]){ &b, &a }, 2);
	assert_list(keepalive, (struct conn *[]){ &e, &c }, 2);
	timed(&b, CONN_HANDED_OFF, LLONG_MAX);
	conn_timers_update(&t, &b);
	assert_list(header, (struct conn *[]){ &a }, 1);
	assert_ptr_equal(conn_timers_first(&t), &e);

	conn_timers_remove(&t, &a);
	conn_timers_remove(&t, &b);
	conn_timers_remove(&t, &c);
	conn_timers_remove(&t, &e);
	assert_null(conn_timers_first(&t));
	assert_list(header, NULL, 0);
	assert_list(keepalive, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_then_idle),
		cmocka_unit_test(test_pipelined_in_order),
		cmocka_unit_test(test_pipeline_budget_yields),
		cmocka_unit_test(test_one_byte_pieces),
		cmocka_unit_test(test_large_response_resumes),
		cmocka_unit_test(test_close_lingers),
		cmocka_unit_test(test_timeout_mid_request),
		cmocka_unit_test(test_timeout_idle),
		cmocka_unit_test(test_worker_offload),
		cmocka_unit_test(test_pipelined_after_handoff_keeps_a_deadline),
		cmocka_unit_test(test_inline_never_hands_off),
		cmocka_unit_test(test_refuse_handoff),
		cmocka_unit_test(test_timers),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
