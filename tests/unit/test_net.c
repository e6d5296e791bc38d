/*
 * test_net.c - listeners: one per port or a shared port (SO_REUSEPORT),
 * and the kernel behaviour server_setup counts on: a socket accept()
 * returns carries the listener's socket options.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "net.h"

#define CLIENTS 64

/* Connects a client to the port listener l is bound to. */
static int connect_to(int l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int c;

	assert_int_equal(getsockname(l, (struct sockaddr *)&ss, &len), 0);
	c = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(c >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&ss, len), 0);
	return c;
}

/* Accepts what is waiting on l (non-blocking); returns how many. */
static int accept_all(int l)
{
	int n = 0, fd;

	while ((fd = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		close(fd);
		n++;
	}
	assert_int_equal(errno, EAGAIN);
	return n;
}

/* A port of its own: a second listener on it is refused. */
static void test_own_port_is_not_shared(void **state)
{
	int l = net_listen("127.0.0.1", 0, 16, NET_PORT_OWN);

	(void)state;
	assert_true(l >= 0);
	assert_int_equal(net_listen_again(l, 16), -1);
	assert_int_equal(errno, EADDRINUSE);
	close(l);
}

/*
 * A shared port: the second listener gets the first's port (asked for as
 * port 0), and the kernel spreads clients over both.  With 64 clients,
 * all on one listener would be a 1 in 2^63 hash.
 */
static void test_shared_port_spreads_clients(void **state)
{
	int a = net_listen("127.0.0.1", 0, CLIENTS, NET_PORT_SHARED), b;
	char addr_a[NET_ADDR_MAX], addr_b[NET_ADDR_MAX];
	int clients[CLIENTS], on_a, on_b;

	(void)state;
	assert_true(a >= 0);
	b = net_listen_again(a, CLIENTS);
	assert_true(b >= 0);
	assert_int_equal(net_local_address(a, addr_a, sizeof(addr_a)), 0);
	assert_int_equal(net_local_address(b, addr_b, sizeof(addr_b)), 0);
	assert_string_equal(addr_a, addr_b);
	for (int i = 0; i < CLIENTS; i++)
		clients[i] = connect_to(a);
	net_set_nonblocking(a, true);
	net_set_nonblocking(b, true);
	on_a = on_b = 0;
	/* The last ACK of a handshake may still be on its way: 5 s at most. */
	for (int i = 0; i < 500 && on_a + on_b < CLIENTS; i++) {
		struct pollfd p[2] = { { .fd = a, .events = POLLIN },
				       { .fd = b, .events = POLLIN } };

		on_a += accept_all(a);
		on_b += accept_all(b);
		if (on_a + on_b < CLIENTS)
			poll(p, 2, 10);
	}
	assert_int_equal(on_a + on_b, CLIENTS);
	assert_true(on_a > 0);
	assert_true(on_b > 0);
	for (int i = 0; i < CLIENTS; i++)
		close(clients[i]);
	close(a);
	close(b);
}

/*
 * What server_setup counts on (LESSON in server.c): on Linux, TCP_NODELAY
 * and SO_SNDTIMEO set on a listener hold for the sockets it accepts.
 * POSIX does not promise it; if a kernel stopped doing it, this says so.
 */
static void test_accepted_socket_has_listener_options(void **state)
{
	int l = net_listen("127.0.0.1", 0, 4, NET_PORT_OWN), c, s, v = 0;
	struct timeval tv = { 0 };
	socklen_t len;

	(void)state;
	assert_true(l >= 0);
	assert_int_equal(net_set_nodelay(l), 0);
	assert_int_equal(net_set_send_timeout(l, 2500), 0);
	c = connect_to(l);
	s = accept4(l, NULL, NULL, SOCK_CLOEXEC);
	assert_true(s >= 0);
	len = sizeof(v);
	assert_int_equal(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	assert_int_equal(v, 1);
	len = sizeof(tv);
	assert_int_equal(getsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, &len), 0);
	assert_int_equal(tv.tv_sec, 2);
	assert_int_equal(tv.tv_usec, 500000);
	close(s);
	close(c);
	close(l);
}

/* Literals: IPv4 as its mapped IPv6 form, written back the usual way. */
static void test_address_literals(void **state)
{
	struct net_ip a, b;
	struct net_peer p;

	(void)state;
	assert_int_equal(net_ip_parse("192.0.2.1", 9, &a), 0);
	assert_int_equal(net_ip_parse("::ffff:192.0.2.1", 16, &b), 0);
	assert_true(net_ip_equal(&a, &b));
	assert_int_equal(net_ip_parse("2001:db8::1", 11, &b), 0);
	assert_false(net_ip_equal(&a, &b));
	/* Only len bytes count: the rest of the buffer is not read. */
	assert_int_equal(net_ip_parse("10.0.0.1, 10.0.0.2", 8, &a), 0);
	assert_int_equal(net_peer_parse("::FFFF:10.0.0.1", 15, &p), 0);
	assert_true(p.known);
	assert_true(net_ip_equal(&p.ip, &a));
	assert_string_equal(p.text, "10.0.0.1");
	assert_int_equal(net_peer_parse("2001:DB8:0:0::1", 15, &p), 0);
	assert_string_equal(p.text, "2001:db8::1");
	/* Not literals; p is left as it was. */
	static const char *const bad[] = {
		"",
		"localhost",
		"10.0.0.1:80",
		"[::1]",
		"10.0.0.256",
		"1.2.3",
		" 10.0.0.1",
		"fe80::1%eth0",
		"1111:2222:3333:4444:5555:6666:7777:8888:9999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(net_ip_parse(bad[i], strlen(bad[i]), &a), -1);
		assert_int_equal(net_peer_parse(bad[i], strlen(bad[i]), &p),
				 -1);
		assert_string_equal(p.text, "2001:db8::1");
	}
	assert_int_equal(net_ip_parse("10.0.0.1\0", 9, &a), -1);
	net_peer_unknown(&p);
	assert_false(p.known);
	assert_string_equal(p.text, "-");
}

/* The peer of a connected socket, and of one that is not. */
static void test_peer_of_socket(void **state)
{
	int l = net_listen("127.0.0.1", 0, 16, NET_PORT_OWN);
	struct net_peer p;
	struct net_ip lo;
	int c, fd;

	(void)state;
	assert_true(l >= 0);
	c = connect_to(l);
	fd = accept4(l, NULL, NULL, 0);
	assert_true(fd >= 0);
	assert_int_equal(net_peer_of(fd, &p), 0);
	assert_true(p.known);
	assert_string_equal(p.text, "127.0.0.1");
	assert_int_equal(net_ip_parse("127.0.0.1", 9, &lo), 0);
	assert_true(net_ip_equal(&p.ip, &lo));
	assert_int_equal(net_peer_of(l, &p), -1); /* a listener: no peer */
	assert_false(p.known);
	assert_string_equal(p.text, "-");
	close(fd);
	close(c);
	close(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_port_is_not_shared),
		cmocka_unit_test(test_shared_port_spreads_clients),
		cmocka_unit_test(test_accepted_socket_has_listener_options),
		cmocka_unit_test(test_address_literals),
		cmocka_unit_test(test_peer_of_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
