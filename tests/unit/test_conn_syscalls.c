/*
 * test_conn_syscalls.c - the non-blocking driver's system calls (conn.c),
 * counted.
 *
 * A struct conn is driven by hand over a real loopback connection, as
 * 05's and 06's loops drive it, and tap.h counts what it asks of the
 * kernel: nothing at conn_open, one read and one write for a keep-alive
 * request, and a want that stays CONN_WANT_READ (so 06 needs no epoll_ctl).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>

#include "conn.h"
#include "net.h"
#include "server.h"
#include "stats.h"
#include "tap.h"

#define HELLO "GET /api/hello HTTP/1.1\r\nHost: t\r\n\r\n"
#define CLOSING                                                                \
	"GET /api/hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"

static struct server srv;
static struct conn_shared sh;
static int client_fd;

static int group_setup(void **state)
{
	(void)state;
	opt_defaults(&srv.opt);
	http_limits_init(&srv.limits);
	srv.log_fd = -1;
	srv.stop_fd = -1;
	srv.stats = stats_create();
	if (srv.stats == NULL)
		return -1;
	srv.app = (struct app){ .root = "/nonexistent",
				.model = "test_conn",
				.stats = srv.stats };
	conn_shared_init(&sh, &srv, CONN_HANDLERS_INLINE);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	conn_shared_destroy(&sh);
	stats_destroy(srv.stats);
	return 0;
}

/* A connected pair over loopback: the server's end, non-blocking. */
static int connect_pair(void)
{
	return tap_connect_pair(&client_fd, SOCK_NONBLOCK);
}

/* The client sends s, and it is in the server's socket. */
static void client_send(const char *s)
{
	size_t len = strlen(s);

	assert_int_equal(send(client_fd, s, len, 0), (ssize_t)len);
	assert_true(tap_wait_readable(tap.fd, (int)len));
}

/*
 * Opening a connection costs no system call: TCP_NODELAY comes from the
 * listener, and the peer's address is only looked up for an access log.
 */
static void test_open_makes_no_calls(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, &sh, connect_pair());
	assert_int_equal(tap.setsockopts, 0);
	assert_int_equal(tap.getpeernames, 0);
	assert_string_equal(c.peer.text, "-");
	conn_close(&c);
	close(client_fd);
}

static void test_open_with_log_asks_peer(void **state)
{
	struct conn c;

	(void)state;
	srv.log_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	assert_true(srv.log_fd >= 0);
	conn_open(&c, &sh, connect_pair());
	close(srv.log_fd);
	srv.log_fd = -1;
	assert_int_equal(tap.getpeernames, 1);
	assert_int_equal(tap.setsockopts, 0);
	assert_string_equal(c.peer.text, "127.0.0.1");
	conn_close(&c);
	close(client_fd);
}

/* The rate limit needs the peer too, access log or not. */
static void test_open_with_rate_limit_asks_peer(void **state)
{
	struct ratelimit_config cfg = { .rate = 1, .burst = 1, .slots = 8 };
	struct conn c;

	(void)state;
	srv.ratelimit = ratelimit_create(&cfg);
	assert_non_null(srv.ratelimit);
	conn_open(&c, &sh, connect_pair());
	ratelimit_destroy(srv.ratelimit);
	srv.ratelimit = NULL;
	assert_int_equal(tap.getpeernames, 1);
	assert_true(c.peer.known);
	assert_string_equal(c.peer.text, "127.0.0.1");
	conn_close(&c);
	close(client_fd);
}

/*
 * A keep-alive request whose answer fits the socket: one read, one write,
 * and the connection wants to read again, as it did: a level-triggered
 * loop (06) has no epoll_ctl to make for it.
 */
static void test_keepalive_request_keeps_want(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, &sh, connect_pair());
	for (int i = 1; i <= 3; i++) {
		client_send(HELLO);
		assert_int_equal(conn_on_readable(&c), CONN_WANT_READ);
		assert_true(conn_is_idle(&c));
		assert_int_equal(tap.reads, i);
		assert_int_equal(tap.writes, i);
	}
	assert_int_equal(tap.polls, 0);
	conn_close(&c);
	close(client_fd);
}

/* Hook: the client's kernel has the whole response before the close. */
static void acked_after_answer(ssize_t n)
{
	(void)n;
	assert_true(tap_wait_acked(tap.fd));
}

/*
 * The client asked for the close, has all of the answer and sends
 * nothing more: the connection closes at once (CONN_WANT_CLOSE), with no
 * shutdown and no lingering state for the loop to watch.
 */
static void test_clean_close_does_not_linger(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, &sh, connect_pair());
	client_send(CLOSING);
	tap.after_write = acked_after_answer;
	assert_int_equal(conn_on_readable(&c), CONN_WANT_CLOSE);
	assert_int_equal(tap.shutdowns, 0);
	assert_int_equal(tap.reads, 1);
	conn_close(&c);
	close(client_fd);
}

/* Hook: one byte more arrives behind the closing request. */
static void byte_after_request(ssize_t n)
{
	if (n > 0 && tap.reads == 1)
		client_send("x");
}

/*
 * A byte the server never read waits in the socket: a plain close would
 * send RST.  The connection lingers: shut down, and waiting to read.
 */
static void test_pending_byte_lingers(void **state)
{
	struct conn c;

	(void)state;
	conn_open(&c, &sh, connect_pair());
	client_send(CLOSING);
	tap.after_read = byte_after_request;
	tap.after_write = acked_after_answer;
	assert_int_equal(conn_on_readable(&c), CONN_WANT_READ);
	assert_int_equal(tap.shutdowns, 1);
	assert_int_equal(conn_timer_kind(&c), CONN_TIMER_LINGER);
	conn_close(&c);
	close(client_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_makes_no_calls),
		cmocka_unit_test(test_open_with_log_asks_peer),
		cmocka_unit_test(test_open_with_rate_limit_asks_peer),
		cmocka_unit_test(test_keepalive_request_keeps_want),
		cmocka_unit_test(test_clean_close_does_not_linger),
		cmocka_unit_test(test_pending_byte_lingers),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
