/*
 * test_server.c - the listener server_setup opens: what every accepted
 * socket inherits from it, and the extra listeners of --loops.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "server.h"

static char root[] = "/tmp/test_server.XXXXXX";

static int group_setup(void **state)
{
	(void)state;
	return mkdtemp(root) == NULL ? -1 : 0;
}

static int group_teardown(void **state)
{
	(void)state;
	return rmdir(root);
}

/* Sets srv up on an ephemeral loopback port with loops event loops. */
static void setup(struct server *srv, int loops)
{
	struct options opt;
	char err[256];

	opt_defaults(&opt);
	opt.port = 0;
	opt.root = root;
	opt.quiet = true;
	opt.keepalive_timeout_ms = 3000;
	opt.loops = loops;
	if (server_setup(srv, "test_server", &opt, err, sizeof(err)) != 0)
		fail_msg("server_setup: %s", err);
}

/* Connects a client to listener l's port and accepts it there. */
static int accept_one(int l, int *client)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int s = -1;

	assert_int_equal(getsockname(l, (struct sockaddr *)&ss, &len), 0);
	*client = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*client >= 0);
	assert_int_equal(connect(*client, (struct sockaddr *)&ss, len), 0);
	/* The listener is non-blocking: the handshake may need a moment. */
	for (int i = 0; i < 500 && s < 0; i++) {
		s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0 && errno == EAGAIN)
			usleep(10000);
	}
	assert_true(s >= 0);
	return s;
}

/*
 * Every accepted socket has TCP_NODELAY and the send timeout without a
 * setsockopt of its own: server_setup put them on the listener.
 */
static void test_accepted_sockets_are_configured(void **state)
{
	struct server srv;
	struct timeval tv = { 0 };
	int client, s, v = 0;
	socklen_t len;

	(void)state;
	setup(&srv, 1);
	s = accept_one(srv.listen_fd, &client);
	len = sizeof(v);
	assert_int_equal(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	assert_int_equal(v, 1);
	len = sizeof(tv);
	assert_int_equal(getsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, &len), 0);
	assert_int_equal(tv.tv_sec, 3);
	close(s);
	close(client);
	server_teardown(&srv);
}

/* One loop: the port is the server's alone. */
static void test_one_loop_owns_its_port(void **state)
{
	struct server srv;

	(void)state;
	setup(&srv, 1);
	assert_int_equal(server_listen_again(&srv), -1);
	assert_int_equal(errno, EADDRINUSE);
	server_teardown(&srv);
}

/* --loops 2: a second listener on the port, configured alike. */
static void test_loops_listen_again(void **state)
{
	struct server srv;
	int l, client, s, v = 0;
	socklen_t len = sizeof(v);

	(void)state;
	setup(&srv, 2);
	l = server_listen_again(&srv);
	assert_true(l >= 0);
	/* Closed, the first listener leaves every client to the second. */
	server_stop_listening(&srv);
	s = accept_one(l, &client);
	assert_int_equal(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	assert_int_equal(v, 1);
	close(s);
	close(client);
	close(l);
	server_teardown(&srv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepted_sockets_are_configured),
		cmocka_unit_test(test_one_loop_owns_its_port),
		cmocka_unit_test(test_loops_listen_again),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
