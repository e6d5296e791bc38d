/*
 * test_serve.c - the blocking driver's system calls (serve.c), counted.
 *
 * serve_connection() runs on this thread over a real loopback connection.
 * The client is played by hooks inside the counted calls (tap.h), so each
 * test decides exactly when the client's bytes arrive: before the server
 * reads again (a pipelining client, the rest of a split request), or only
 * once the server has decided to wait (a client that waits for answers).
 * The counts are then exact.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "net.h"
#include "serve.h"
#include "server.h"
#include "stats.h"
#include "tap.h"

#define HELLO "GET /api/hello HTTP/1.1\r\nHost: t\r\n\r\n"
#define CLOSING                                                                \
	"GET /api/hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
#define REQUESTS 5

static struct server srv;
static int stop_pipe[2];

/* The client's side of the test connection, and what it sends next. */
static struct {
	int fd;
	int left;	       /* requests still to send; then EOF */
	bool stop_after_first; /* request a stop after the first answer */
} client;

static int group_setup(void **state)
{
	(void)state;
	opt_defaults(&srv.opt);
	srv.opt.keepalive_timeout_ms = 20000; /* a failure waits, bounded */
	srv.opt.header_timeout_ms = 20000;
	http_limits_init(&srv.limits);
	srv.log_fd = -1;
	srv.stats = stats_create();
	if (srv.stats == NULL || pipe(stop_pipe) != 0)
		return -1;
	srv.stop_fd = stop_pipe[0];
	srv.app = (struct app){ .root = "/nonexistent",
				.model = "test_serve",
				.stats = srv.stats };
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	stats_destroy(srv.stats);
	return 0;
}

/* A connected pair over loopback: the server's end is returned. */
static int connect_pair(void)
{
	int s = tap_connect_pair(&client.fd, 0); /* blocking, as 01-04 */

	client.left = 0;
	client.stop_after_first = false;
	return s;
}

/* The client sends one request, and it is in the server's socket. */
static void client_send(const char *req)
{
	size_t len = strlen(req);

	assert_int_equal(send(client.fd, req, len, 0), (ssize_t)len);
	assert_true(tap_wait_readable(tap.fd, (int)len));
}

/* The client's next move: another request, or EOF once all are sent. */
static void client_next(void)
{
	if (client.left > 0) {
		client.left--;
		client_send(HELLO);
		return;
	}
	shutdown(client.fd, SHUT_WR);
	assert_true(tap_wait_readable(tap.fd, 0));
}

/* Counts the answers the client got, once the server has closed. */
static int client_answers(void)
{
	static char buf[64 * 1024];
	size_t used = 0;
	ssize_t n;
	int count = 0;

	tap.fd = -1; /* the server's end is closed: its number may be reused */
	while ((n = recv(client.fd, buf + used, sizeof(buf) - 1 - used, 0)) > 0)
		used += (size_t)n;
	buf[used] = '\0';
	for (char *p = buf; (p = strstr(p, "HTTP/1.1 200 ")) != NULL; p++)
		count++;
	close(client.fd);
	return count;
}

/* Hooks: the moment the client's next bytes arrive. */
static void next_after_answer(ssize_t n)
{
	(void)n;
	if (client.stop_after_first) {
		assert_int_equal(write(stop_pipe[1], "x", 1), 1);
		return;
	}
	client_next();
}

static void next_before_wait(void)
{
	client_next();
}

static void rest_after_first_read(ssize_t n)
{
	if (n > 0 && tap.reads == 1)
		client_send(HELLO + 10);
}

/*
 * A client whose next request is always in before the server reads (it
 * pipelines, or is quick): the server never waits in poll, because it
 * reads first.  Before read-first, every request cost a poll.
 */
static void test_quick_client_never_waits(void **state)
{
	int fd = connect_pair();

	(void)state;
	client.left = REQUESTS - 1;
	client_send(HELLO);
	tap.after_write = next_after_answer;
	assert_int_equal(serve_connection(&srv, fd), REQUESTS);
	assert_int_equal(tap.polls, 0);
	assert_int_equal(tap.empty_reads, 0);
	assert_int_equal(tap.reads, REQUESTS + 1); /* + the EOF */
	assert_int_equal(client_answers(), REQUESTS);
}

/*
 * A request split in two, whose second part is in by the time the first
 * is parsed: the server reads it without a poll in between.
 */
static void test_split_request_read_without_wait(void **state)
{
	int fd = connect_pair();
	char head[11];

	(void)state;
	snprintf(head, sizeof(head), "%.10s", HELLO);
	client_send(head);
	tap.after_read = rest_after_first_read;
	tap.after_write = next_after_answer;
	assert_int_equal(serve_connection(&srv, fd), 1);
	assert_int_equal(tap.polls, 0);
	assert_int_equal(tap.reads, 3); /* head, rest, EOF */
	assert_int_equal(client_answers(), 1);
}

/*
 * A client that sends its next request only once it has its answer (a
 * browser, wrk): reading first would find nothing every time.  The server
 * tries once, finds nothing, and from then on waits first: one read for
 * nothing per connection, never one per request.
 */
static void test_waiting_client_costs_one_empty_read(void **state)
{
	int fd = connect_pair();

	(void)state;
	client.left = REQUESTS - 1;
	client_send(HELLO);
	tap.before_poll = next_before_wait;
	assert_int_equal(serve_connection(&srv, fd), REQUESTS);
	assert_true(tap.empty_reads <= 1);
	/* A wait and a read a request, as without read-first, and the EOF. */
	assert_true(tap.polls + tap.reads <= 2 * REQUESTS + 2);
	assert_int_equal(client_answers(), REQUESTS);
}

/* Between requests a wait still sees the stop, and ends the connection. */
static void test_stop_seen_between_requests(void **state)
{
	int fd = connect_pair();
	long long start = clock_now_ms();
	char byte;

	(void)state;
	client.stop_after_first = true;
	client_send(HELLO);
	tap.after_write = next_after_answer;
	assert_int_equal(serve_connection(&srv, fd), 1);
	/* Not the keep-alive timeout (20 s): the stop ended the wait. */
	assert_true(clock_now_ms() - start < srv.opt.keepalive_timeout_ms / 2);
	assert_int_equal(read(stop_pipe[0], &byte, 1), 1); /* unstop */
	assert_int_equal(client_answers(), 1);
}

/*
 * No socket options per connection (the listener's are inherited), and
 * the peer's address only when there is an access log to write it to.
 */
static void test_no_setup_calls_per_connection(void **state)
{
	int fd = connect_pair();

	(void)state;
	client_send(HELLO);
	tap.after_write = next_after_answer;
	serve_connection(&srv, fd);
	assert_int_equal(tap.setsockopts, 0);
	assert_int_equal(tap.getpeernames, 0);
	assert_int_equal(client_answers(), 1);
}

static void test_peer_address_when_logging(void **state)
{
	int fd = connect_pair();

	(void)state;
	srv.log_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(srv.log_fd >= 0);
	client_send(HELLO);
	tap.after_write = next_after_answer;
	serve_connection(&srv, fd);
	close(srv.log_fd);
	srv.log_fd = -1;
	assert_int_equal(tap.getpeernames, 1);
	assert_int_equal(tap.setsockopts, 0);
	assert_int_equal(client_answers(), 1);
}

/* Hook: the client's kernel has the whole response before the close. */
static void acked_after_answer(ssize_t n)
{
	(void)n;
	assert_true(tap_wait_acked(tap.fd));
}

/*
 * The client asked for the close, has all of the answer and sends
 * nothing more: a plain close.  No shutdown, and after the request no
 * poll and no read - the lingering close would wait for its EOF.
 */
static void test_clean_close_does_not_linger(void **state)
{
	int fd = connect_pair();

	(void)state;
	client_send(CLOSING);
	tap.after_write = acked_after_answer;
	assert_int_equal(serve_connection(&srv, fd), 1);
	assert_int_equal(tap.shutdowns, 0);
	assert_int_equal(tap.polls, 0);
	assert_int_equal(tap.reads, 1); /* the request, nothing after it */
	assert_int_equal(client_answers(), 1);
}

/* Hooks: one byte more behind the closing request, and then its EOF. */
static void byte_after_request(ssize_t n)
{
	if (n > 0 && tap.reads == 1) {
		client_send("x");
		shutdown(client.fd, SHUT_WR);
	}
}

/*
 * A byte the server never read waits in the socket: a plain close would
 * send RST.  The lingering close runs: shutdown, then it reads the byte
 * and the EOF.
 */
static void test_pending_byte_lingers(void **state)
{
	int fd = connect_pair();

	(void)state;
	client_send(CLOSING);
	tap.after_read = byte_after_request;
	tap.after_write = acked_after_answer;
	assert_int_equal(serve_connection(&srv, fd), 1);
	assert_int_equal(tap.shutdowns, 1);
	assert_int_equal(tap.reads, 3); /* the request, "x", EOF */
	assert_int_equal(client_answers(), 1);
}

/* Hook: the close is being decided while the answer is still unacked. */
static void unacked_before_linger(void)
{
	int unacked = 0;

	assert_int_equal(ioctl(tap.fd, SIOCOUTQ, &unacked), 0);
	assert_true(unacked > 0);
	shutdown(client.fd, SHUT_WR);
}

/*
 * An answer the client has not acknowledged yet (it does not read, its
 * window is shut): its bytes are still in our send queue, where an RST
 * would destroy them.  The lingering close runs.
 */
static void test_unacked_answer_lingers(void **state)
{
	static char req[64 * 1024];
	int fd = connect_pair();
	int small = 4096, big = 1024 * 1024;
	size_t head, body = 48 * 1024;

	(void)state;
	assert_int_equal(setsockopt(client.fd, SOL_SOCKET, SO_RCVBUF, &small,
				    sizeof(small)),
			 0);
	assert_int_equal(
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)), 0);
	tap_reset(fd);
	head = (size_t)snprintf(req, sizeof(req),
				"POST /api/echo HTTP/1.1\r\nHost: t\r\n"
				"Connection: close\r\n"
				"Content-Length: %zu\r\n\r\n",
				body);
	memset(req + head, 'a', body);
	req[head + body] = '\0';
	client_send(req);
	tap.before_poll = unacked_before_linger;
	assert_int_equal(serve_connection(&srv, fd), 1);
	assert_int_equal(tap.shutdowns, 1);
	tap.fd = -1;
	close(client.fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quick_client_never_waits),
		cmocka_unit_test(test_split_request_read_without_wait),
		cmocka_unit_test(test_waiting_client_costs_one_empty_read),
		cmocka_unit_test(test_stop_seen_between_requests),
		cmocka_unit_test(test_no_setup_calls_per_connection),
		cmocka_unit_test(test_peer_address_when_logging),
		cmocka_unit_test(test_clean_close_does_not_linger),
		cmocka_unit_test(test_pending_byte_lingers),
		cmocka_unit_test(test_unacked_answer_lingers),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
