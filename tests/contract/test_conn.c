/*
 * test_conn.c - the "connections" and "timeouts" groups: what happens to
 * the connection rather than to one request.
 *
 * Persistence and pipelining (RFC 9112 section 9), requests that trickle
 * in, many clients at once, clients that vanish, descriptor leaks, the
 * idle timeouts, and a clean exit on SIGTERM.
 */
#include "contract.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "proc.h"

#define HOST "Host: contract\r\n"
#define CLOSE "Connection: close\r\n"

/* The parallel test gets this long for all its clients together. */
#define PARALLEL_TIMEOUT_MS 20000
#define PARALLEL_CLIENTS 100

static int port(void)
{
	return shared_server()->port;
}

/* Sends GET path on c and reads a 200. */
static void get_on(struct client *c, const char *path, bool close_after,
		   struct reply *r)
{
	char req[256];

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n" HOST "%s\r\n", path,
		 close_after ? CLOSE : "");
	send_or_fail(c, req);
	read_reply_or_fail(c, r, false, path);
	assert_status(r, 200, path);
}

/*
 * RFC 9112 section 9.3: HTTP/1.1 connections persist by default, so a
 * second request on the same connection is answered too.
 */
static void keepalive_two_requests(void **state)
{
	struct client *c = open_or_fail(port());
	struct reply r;

	(void)state;
	get_on(c, "/", false, &r);
	if (reply_header_has_token(&r, "Connection", "close"))
		fail_msg("the first response of a keep-alive connection said "
			 "Connection: close");
	reply_free(&r);
	get_on(c, "/small.txt", false, &r);
	assert_int_equal(r.body_len, DOC_SMALL_LEN);
	reply_free(&r);
}

/*
 * RFC 9112 section 9.3: an HTTP/1.0 request without "keep-alive" does not
 * persist: the server closes after the response.
 */
static void http10_closes(void **state)
{
	struct client *c = open_or_fail(port());
	struct reply r;

	(void)state;
	send_or_fail(c, "GET / HTTP/1.0\r\n\r\n");
	read_reply_or_fail(c, &r, false, "an HTTP/1.0 GET");
	assert_status(&r, 200, "an HTTP/1.0 GET");
	assert_memory_equal(r.body, DOC_INDEX, strlen(DOC_INDEX));
	reply_free(&r);
	assert_closes(c, "after an HTTP/1.0 response");
}

/*
 * RFC 9112 section 9.6: a server that receives "close" MUST close after
 * the response and SHOULD say "close" in it.
 */
static void connection_close_honoured(void **state)
{
	struct client *c = open_or_fail(port());
	struct reply r;

	(void)state;
	get_on(c, "/", true, &r);
	if (!reply_header_has_token(&r, "Connection", "close"))
		fail_msg("no \"Connection: close\" in the response:\n%s",
			 r.head);
	reply_free(&r);
	assert_closes(c, "after Connection: close");
}

/*
 * RFC 9112 section 9.3.2: a server MUST answer pipelined requests in the
 * order they were received.
 */
static void pipelining_in_order(void **state)
{
	static const char *const names[] = { "alpha1", "bravo2", "charlie3" };
	struct client *c = open_or_fail(port());
	struct reply r;
	size_t i;

	(void)state;
	send_or_fail(c, "GET /api/hello?name=alpha1 HTTP/1.1\r\n" HOST "\r\n"
			"GET /api/hello?name=bravo2 HTTP/1.1\r\n" HOST "\r\n"
			"GET /api/hello?name=charlie3 HTTP/1.1\r\n" HOST CLOSE
			"\r\n");
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		read_reply_or_fail(c, &r, false, names[i]);
		assert_status(&r, 200, names[i]);
		if (!strstr(r.body, names[i]))
			fail_msg("response %zu should greet %s: %s", i + 1,
				 names[i], r.body);
		reply_free(&r);
	}
	assert_closes(c, "after the last pipelined request");
}

/*
 * RFC 9112 section 2.2: a message is a stream of octets; how TCP segments
 * it must not matter.  Each byte goes in its own segment (TCP_NODELAY).
 */
static void byte_at_a_time(void **state)
{
	static const char req[] =
		"GET /api/hello?name=trickle HTTP/1.1\r\n" HOST CLOSE "\r\n";
	struct client *c = open_or_fail(port());
	struct reply r;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(req) - 1; i++) {
		if (client_send(c, req + i, 1) == -1)
			fail_msg("byte %zu: %s", i, client_error());
		sleep_ms(5);
	}
	read_reply_or_fail(c, &r, false, "a request sent byte by byte");
	assert_status(&r, 200, "a request sent byte by byte");
	if (!strstr(r.body, "trickle"))
		fail_msg("unexpected body: %s", r.body);
	reply_free(&r);
}

/*
 * RFC 9112 section 9.4: a server handles many connections at once.  All
 * 100 connect and send before any response is read; each must get its
 * 200.  Connection: close lets 01, one connection at a time, keep up.
 */
static void parallel_100_clients(void **state)
{
	static struct client *cs[PARALLEL_CLIENTS];
	int64_t deadline;
	struct reply r;
	char what[64];
	int i;

	(void)state;
	for (i = 0; i < PARALLEL_CLIENTS; i++)
		cs[i] = open_or_fail(port());
	for (i = 0; i < PARALLEL_CLIENTS; i++)
		send_or_fail(cs[i],
			     "GET /small.txt HTTP/1.1\r\n" HOST CLOSE "\r\n");
	deadline = now_ms() + PARALLEL_TIMEOUT_MS;
	for (i = 0; i < PARALLEL_CLIENTS; i++) {
		int64_t left = deadline - now_ms();

		snprintf(what, sizeof(what), "parallel client %d of %d", i + 1,
			 PARALLEL_CLIENTS);
		if (client_read_reply(cs[i], &r, false,
				      left > 0 ? (int)left : 0) == -1)
			fail_msg("%s: %s", what, client_error());
		assert_status(&r, 200, what);
		assert_int_equal(r.body_len, DOC_SMALL_LEN);
		reply_free(&r);
		client_close(cs[i]);
	}
}

/* Sends GET /big.bin and goes away without reading the 2 MiB. */
static void vanish_during_response(bool reset)
{
	struct client *c = open_or_fail(port());

	send_or_fail(c, "GET /big.bin HTTP/1.1\r\n" HOST "\r\n");
	sleep_ms(10);
	if (reset)
		client_abort(c);
	else
		client_close(c);
}

/*
 * RFC 9112 section 9.5: a client may close at any time.  Connections that
 * close at once, half-way through the head or the body, or while the
 * server is sending (FIN or reset) cost the server that connection only.
 */
static void vanishing_clients(void **state)
{
	static const char *const halves[] = {
		"",
		"GET / HT",
		"GET / HTTP/1.1\r\nHost: contr",
		"POST /api/echo HTTP/1.1\r\n" HOST
		"Content-Length: 1000\r\n\r\nonly a little",
		"POST /api/echo HTTP/1.1\r\n" HOST
		"Transfer-Encoding: chunked\r\n\r\n100\r\nabc",
	};
	struct client *c;
	size_t i;
	int round;

	(void)state;
	for (round = 0; round < 2; round++) {
		for (i = 0; i < ARRAY_SIZE(halves); i++) {
			c = open_or_fail(port());
			send_or_fail(c, halves[i]);
			if (round == 0)
				client_close(c);
			else
				client_abort(c);
		}
		vanish_during_response(round == 1);
		vanish_during_response(round == 1);
	}
	assert_server_serves(port(), "clients that vanished");
}

/*
 * No descriptor leaks: once every client of the tests above has gone, the
 * server holds as many descriptors as it did when idle after start-up
 * (for 02, the parent).  Servers close asynchronously, so this polls.
 */
static void no_fd_leak(void **state)
{
	struct server_proc *s = shared_server();
	int64_t deadline = now_ms() + 5000;
	char list[2048];
	int n;

	(void)state;
	client_close_all();
	for (;;) {
		n = proc_fd_count(s->pid);
		if (n != -1 && n <= s->base_fds)
			return;
		if (now_ms() > deadline)
			break;
		sleep_ms(50);
	}
	proc_fd_describe(s->pid, list, sizeof(list));
	fail_msg("the server holds %d descriptors, %d when idle after start; "
		 "now open:\n%s",
		 n, s->base_fds, list);
}

/* Stops s with SIGTERM and fails unless it exits 0 in time. */
static void assert_clean_exit(struct server_proc *s, const char *when)
{
	int status = server_terminate(s, STOP_TIMEOUT_MS);

	if (status == -1)
		fail_msg("%s: no exit within %d ms of SIGTERM", when,
			 STOP_TIMEOUT_MS);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s: SIGTERM should give exit status 0, got wait "
			 "status 0x%x",
			 when, status);
	if (s->extra_len)
		fail_msg("the server printed more than its address on "
			 "stdout: \"%s\"",
			 s->extra_out);
}

/*
 * server.h: SIGTERM stops the server with exit status 0, promptly, even
 * while a keep-alive connection sits idle (the self-pipe wakes every
 * wait).  This stops the shared server, so it runs last.
 */
static void sigterm_with_idle_keepalive(void **state)
{
	struct client *c = open_or_fail(port());
	struct reply r;

	(void)state;
	get_on(c, "/", false, &r);
	reply_free(&r);
	assert_clean_exit(shared_server(), "with an idle keep-alive client");
}

/* ---- the timeouts group: a second server with one-second timeouts ---- */

static struct server_proc quick;

static int quick_up(void **state)
{
	static const char *const opts[] = { "--keepalive-timeout", "1",
					    "--header-timeout", "1", NULL };

	(void)state;
	return server_start(&quick, opts);
}

static int quick_down(void **state)
{
	(void)state;
	client_close_all();
	server_kill(&quick);
	return 0;
}

static int quick_test_teardown(void **state)
{
	(void)state;
	client_close_all();
	return 0;
}

/*
 * RFC 9112 section 9.5: a server may close an idle connection; with
 * --keepalive-timeout 1 it does so within a few seconds.
 */
static void keepalive_timeout_closes(void **state)
{
	struct client *c = open_or_fail(quick.port);
	struct reply r;

	(void)state;
	get_on(c, "/", false, &r);
	reply_free(&r);
	assert_closes(c, "an idle keep-alive connection with "
			 "--keepalive-timeout 1");
}

/*
 * RFC 9110 section 15.5.9: a request that does not arrive in time may be
 * answered 408 before the close; a trickle slower than --header-timeout
 * is closed either way.
 */
static void header_timeout_closes(void **state)
{
	struct client *c = open_or_fail(quick.port);
	struct reply r;

	(void)state;
	send_or_fail(c, "GET / HTTP/1.1\r\n");
	if (client_read_reply(c, &r, false, CLIENT_TIMEOUT_MS) == 0) {
		assert_status(&r, 408, "a half request after the timeout");
		reply_free(&r);
		assert_closes(c, "after the 408");
	} else if (!c->eof) {
		fail_msg("a half request was not closed within %d ms: %s",
			 CLIENT_TIMEOUT_MS, client_error());
	}
}

/* server.h: SIGTERM with no client at all exits 0 at once. */
static void sigterm_idle_server(void **state)
{
	(void)state;
	assert_clean_exit(&quick, "an idle server");
}

int run_connection_tests(void)
{
	static const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_teardown(f, shared_test_teardown)
		T(keepalive_two_requests),
		T(http10_closes),
		T(connection_close_honoured),
		T(pipelining_in_order),
		T(byte_at_a_time),
		T(parallel_100_clients),
		T(vanishing_clients),
		/* These two must stay last, in this order. */
		T(no_fd_leak),
		T(sigterm_with_idle_keepalive),
#undef T
	};

	return run_group("connections", tests, ARRAY_SIZE(tests),
			 shared_server_up, shared_server_down);
}

int run_timeout_tests(void)
{
	static const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_teardown(f, quick_test_teardown)
		T(keepalive_timeout_closes),
		T(header_timeout_closes),
		T(sigterm_idle_server),
#undef T
	};

	return run_group("timeouts", tests, ARRAY_SIZE(tests), quick_up,
			 quick_down);
}
