/*
 * adversarial.c - slow, vanishing and piled-up clients, against any model.
 *
 *   build/tests/adversarial bin/06_epoll_async [cmocka filter]
 *
 * Each test names the models it runs against in brackets.  A test is left
 * out where the model cannot pass it by design - 01 serves one connection
 * at a time, 04's workers are held by keep-alive clients - and the docs of
 * that model say so; 05's "blocking handler stalls the loop" asserts the
 * lesson of 05 itself.
 *
 * Assertions are about order and outcome, never about absolute speed: a
 * static response arrives before a sleeping one, the slow clients are all
 * closed before a generous deadline, every byte of a file arrives.  Every
 * loop is bounded in count and in time, and every server is stopped.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

const char *server_binary;
const char *server_model;

#define GET_INDEX "GET /index.html HTTP/1.1\r\nHost: t\r\n\r\n"
#define GET_BIG "GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n"

/* 1,000 keep-alive clients, 200 slowloris clients. */
#define MANY_PEERS 1000
#define SLOW_PEERS 200
#define SLOW_BYTE_MS 200
#define PIPELINED 100

/* What the current test started: the teardown stops and closes it all. */
static struct server_proc srv;
static struct peer *peers;
static int npeers;

static void start_or_fail(const char *const *extra, rlim_t nofile)
{
	if (server_start(&srv, extra, nofile) != 0)
		fail_msg("cannot start %s", server_binary);
}

/* Allocates n peers the teardown will close. */
static struct peer *alloc_peers(int n)
{
	peers = calloc((size_t)n, sizeof(*peers));
	assert_non_null(peers);
	for (int i = 0; i < n; i++)
		peers[i].fd = -1;
	npeers = n;
	return peers;
}

/*
 * Closes every client, then stops the server: it must exit 0 on SIGTERM
 * within STOP_TIMEOUT_MS (a sanitizer's report makes the status non-zero).
 */
static int teardown(void **state)
{
	bool running = srv.pid > 0;
	int status;

	(void)state;
	for (int i = 0; i < npeers; i++)
		peer_close(&peers[i], false);
	free(peers);
	peers = NULL;
	npeers = 0;
	status = server_stop(&srv);
	if (running && status != 0) {
		print_error("%s did not exit cleanly on SIGTERM (status %d)\n",
			    server_model, status);
		return -1;
	}
	return 0;
}

static void open_or_fail(struct peer *p, int rcvbuf)
{
	if (peer_open(p, srv.port, rcvbuf) != 0)
		fail_msg("connect: %s", strerror(errno));
}

static void send_or_fail(struct peer *p, const char *s)
{
	if (peer_send_str(p, s, PEER_TIMEOUT_MS) != 0)
		fail_msg("send failed: %s", strerror(errno));
}

/* Reads one reply and checks it is the index page. */
static void expect_index(struct peer *p, const char *what)
{
	struct reply r;

	if (peer_read_reply(p, &r, PEER_TIMEOUT_MS) != 0)
		fail_msg("%s: no reply", what);
	if (r.status != 200 || strcmp(r.body, DOC_INDEX) != 0)
		fail_msg("%s: status %d, %zu body bytes", what, r.status,
			 r.body_len);
	reply_free(&r);
}

/* Fails unless the server still answers a fresh client. */
static void expect_serving(const char *after)
{
	assert_true(server_alive(&srv));
	if (fetch_status(srv.port, "/index.html") != 200)
		fail_msg("not serving after %s", after);
}

/* Waits until /api/stats counts only its own connection. */
static void expect_no_leftover_connections(const char *after)
{
	int64_t deadline = now_ms() + PEER_TIMEOUT_MS;
	int n;

	while ((n = stats_active_connections(srv.port)) != 1 &&
	       now_ms() < deadline)
		sleep_ms(50);
	if (n != 1)
		fail_msg("%d connections still open after %s", n - 1, after);
}

/*
 * Reads the head of a big.bin reply, then the body in pieces of at most
 * chunk bytes with pause_ms between them, checking every byte.  Returns
 * the body bytes that arrived before the server closed or the deadline.
 */
static size_t read_big(struct peer *p, size_t chunk, int pause_ms, bool *closed)
{
	int64_t deadline = now_ms() + 3 * PEER_TIMEOUT_MS;
	char *end, buf[65536];
	size_t got = 0;

	*closed = false;
	while ((end = memmem(p->buf ? p->buf : "", p->len, "\r\n\r\n", 4)) ==
	       NULL) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };

		if (now_ms() > deadline || poll(&pf, 1, 1000) < 0 ||
		    peer_fill(p) < 0) {
			*closed = p->eof;
			return 0;
		}
	}
	assert_true(strncmp(p->buf, "HTTP/1.1 200", 12) == 0);
	end += 4;
	for (char *b = end; b < p->buf + p->len; b++, got++)
		assert_int_equal((unsigned char)*b, doc_byte(got));
	while (got < DOC_BIG_LEN && now_ms() < deadline) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		size_t want = chunk < sizeof(buf) ? chunk : sizeof(buf);
		ssize_t n;

		if (poll(&pf, 1, 1000) <= 0)
			continue;
		n = recv(p->fd, buf, want, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0) {
			*closed = true;
			break;
		}
		for (ssize_t i = 0; i < n; i++, got++)
			if ((unsigned char)buf[i] != doc_byte(got))
				fail_msg("byte %zu of big.bin is wrong", got);
		if (pause_ms > 0)
			sleep_ms(pause_ms);
	}
	return got;
}

/* [all] A request sent one byte per segment is still one request. */
static void byte_at_a_time(void **state)
{
	const char *req = GET_INDEX;
	struct peer *p = alloc_peers(1);

	(void)state;
	start_or_fail(NULL, 0);
	open_or_fail(p, 0);
	for (int round = 0; round < 2; round++) {
		for (size_t i = 0; req[i] != '\0'; i++) {
			if (peer_send(p, req + i, 1, PEER_TIMEOUT_MS) != 0)
				fail_msg("send byte %zu", i);
			sleep_ms(2);
		}
		expect_index(p, round == 0 ? "first request" : "keep-alive");
	}
}

/* [all] 100 requests in one write: 100 replies, in order. */
static void pipelined_burst(void **state)
{
	static const char last[] = "GET /index.html HTTP/1.1\r\nHost: "
				   "t\r\nConnection: close\r\n\r\n";
	size_t one = strlen(GET_INDEX);
	char *burst = malloc(one * (PIPELINED - 1) + sizeof(last));
	struct peer *p = alloc_peers(1);

	(void)state;
	assert_non_null(burst);
	for (int i = 0; i < PIPELINED - 1; i++)
		memcpy(burst + one * (size_t)i, GET_INDEX, one);
	memcpy(burst + one * (PIPELINED - 1), last, sizeof(last));
	start_or_fail(NULL, 0);
	open_or_fail(p, 0);
	if (peer_send_str(p, burst, PEER_TIMEOUT_MS) != 0) {
		free(burst);
		fail_msg("send");
	}
	free(burst);
	for (int i = 0; i < PIPELINED; i++)
		expect_index(p, "pipelined");
	assert_int_equal(peer_wait_close(p, PEER_TIMEOUT_MS), 1);
}

/* [all] A reader with a 4 KiB window gets every byte of 2 MiB. */
static void slow_reader_gets_every_byte(void **state)
{
	struct peer *p = alloc_peers(1);
	bool closed;

	(void)state;
	start_or_fail(NULL, 0);
	open_or_fail(p, 4096);
	send_or_fail(p, GET_BIG);
	assert_int_equal(read_big(p, 16384, 2, &closed), DOC_BIG_LEN);
	expect_serving("a slow reader");
}

/* [02 03 04 05 06] While one client does not read, others are served. */
static void slow_reader_does_not_stall_others(void **state)
{
	struct peer *p = alloc_peers(1);
	bool closed;

	(void)state;
	start_or_fail(NULL, 0);
	open_or_fail(p, 4096);
	send_or_fail(p, GET_BIG);
	sleep_ms(200); /* the server fills the window and has to wait */
	expect_serving("a reader stalled mid-file");
	assert_int_equal(read_big(p, 65536, 0, &closed), DOC_BIG_LEN);
}

/* Reads until the server closes; returns the bytes, -1 on timeout. */
static long drain_until_close(struct peer *p, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	char buf[65536];
	long got = 0;

	while (now_ms() < deadline) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 1000) <= 0)
			continue;
		n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return got;
		got += n;
	}
	return -1;
}

/*
 * [all] A client that stops reading mid-file is dropped once the send
 * makes no progress for --keepalive-timeout (1 s here; serve.c's
 * SO_SNDTIMEO restarts on partial progress, so it takes a few seconds
 * there): it gets EOF or a reset long before the 16 MiB it asked for.
 */
static void stalled_reader_is_dropped(void **state)
{
	const char *const opts[] = { "--keepalive-timeout", "1", NULL };
	struct peer *p = alloc_peers(1);
	long got;

	(void)state;
	start_or_fail(opts, 0);
	open_or_fail(p, 4096);
	send_or_fail(p, "GET /huge.bin HTTP/1.1\r\nHost: t\r\n\r\n");
	/* Without reading a byte, wait for the server to give up on it. */
	expect_no_leftover_connections("a client stopped reading");
	got = drain_until_close(p, PEER_TIMEOUT_MS);
	if (got < 0)
		fail_msg("a client that stalled was not closed");
	if (got >= DOC_HUGE_LEN)
		fail_msg("the whole file was sent to a client that stalled");
}

/* [all] Clients that vanish mid-response cost the server nothing. */
static void vanish_mid_response(void **state)
{
	struct peer *p = alloc_peers(2);
	char buf[65536];

	(void)state;
	start_or_fail(NULL, 0);
	for (int i = 0; i < 2; i++) {
		struct pollfd pf;

		open_or_fail(&p[i], 4096);
		send_or_fail(&p[i], GET_BIG);
		pf = (struct pollfd){ .fd = p[i].fd, .events = POLLIN };
		assert_int_equal(poll(&pf, 1, PEER_TIMEOUT_MS), 1);
		assert_true(recv(p[i].fd, buf, sizeof(buf), 0) > 0);
		peer_close(&p[i], i == 0); /* a reset, then a plain close */
	}
	expect_no_leftover_connections("two clients vanished mid-file");
	expect_serving("two clients vanished mid-file");
}

/* [all] A client that vanishes while its handler sleeps. */
static void vanish_during_slow_handler(void **state)
{
	struct peer *p = alloc_peers(1);

	(void)state;
	start_or_fail(NULL, 0);
	open_or_fail(p, 0);
	send_or_fail(p, "GET /api/sleep?ms=300 HTTP/1.1\r\nHost: t\r\n\r\n");
	sleep_ms(50);
	peer_close(p, true);
	expect_no_leftover_connections("a client vanished mid-handler");
	expect_serving("a client vanished mid-handler");
}

/* Reads one index reply from every peer, in whatever order they come. */
static void read_all_replies(struct peer *p, int n, const char *what)
{
	struct pollfd *pf = calloc((size_t)n, sizeof(*pf));
	int64_t deadline = now_ms() + 3 * PEER_TIMEOUT_MS;
	int left = n;
	char *done = calloc((size_t)n, 1);

	assert_non_null(pf);
	assert_non_null(done);
	while (left > 0 && now_ms() < deadline) {
		for (int i = 0; i < n; i++)
			pf[i] = (struct pollfd){ .fd = done[i] ? -1 : p[i].fd,
						 .events = POLLIN };
		if (poll(pf, (nfds_t)n, 1000) <= 0)
			continue;
		for (int i = 0; i < n; i++) {
			struct reply r;
			int rc;

			if (done[i] || pf[i].revents == 0)
				continue;
			peer_fill(&p[i]);
			rc = peer_take_reply(&p[i], &r, false);
			if (rc == 0 && !p[i].eof)
				continue;
			if (rc <= 0 || r.status != 200 ||
			    strcmp(r.body, DOC_INDEX) != 0)
				fail_msg("%s: client %d got no index page",
					 what, i);
			reply_free(&r);
			done[i] = 1;
			left--;
		}
	}
	free(pf);
	free(done);
	if (left > 0)
		fail_msg("%s: %d of %d clients got no reply", what, left, n);
}

/* [02 03 05 06] 1,000 keep-alive connections, all served, twice. */
static void thousand_keepalive(void **state)
{
	const char *const opts[] = { "--max-conns", "4000",
				     "--keepalive-timeout", "30", NULL };
	struct peer *p = alloc_peers(MANY_PEERS);

	(void)state;
	if (raise_nofile(MANY_PEERS + 64) != 0)
		skip();
	start_or_fail(opts, 0);
	for (int i = 0; i < MANY_PEERS; i++)
		open_or_fail(&p[i], 0);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < MANY_PEERS; i++)
			send_or_fail(&p[i], GET_INDEX);
		read_all_replies(p, MANY_PEERS, round ? "second" : "first");
	}
	assert_int_equal(stats_active_connections(srv.port), MANY_PEERS + 1);
}

/* Sends one more header byte on every slow peer still open. */
static int trickle(struct peer *p, int n, size_t round)
{
	static const char header[] = "X-Slowloris: 0123456789abcdef\r\n";
	int open = 0;

	for (int i = 0; i < n; i++) {
		char c = header[round % (sizeof(header) - 1)];

		if (p[i].eof)
			continue;
		/* The 408 and the close may be waiting: read them. */
		while (peer_fill(&p[i]) > 0)
			p[i].len = 0;
		if (p[i].eof || send(p[i].fd, &c, 1, MSG_NOSIGNAL) != 1) {
			p[i].eof = true;
			continue;
		}
		open++;
	}
	return open;
}

/*
 * [02 03 05 06] 200 clients trickle a header byte every 200 ms: a normal
 * client is answered while they all still trickle, and the server closes
 * every one of them after --header-timeout (4 s here).
 */
static void slowloris(void **state)
{
	/*
	 * 4 s, not 1: under a sanitizer, forking or spawning 200 handlers
	 * can take seconds, and the check below must not depend on speed.
	 */
	const char *const opts[] = { "--header-timeout", "4", "--max-conns",
				     "4000", NULL };
	struct peer *p = alloc_peers(SLOW_PEERS);
	int64_t deadline;
	int open = SLOW_PEERS;
	size_t round = 0;

	(void)state;
	if (raise_nofile(SLOW_PEERS + 64) != 0)
		skip();
	start_or_fail(opts, 0);
	for (int i = 0; i < SLOW_PEERS; i++) {
		open_or_fail(&p[i], 0);
		send_or_fail(&p[i], "GET / HTTP/1.1\r\nHost: t\r\n");
	}
	assert_int_equal(trickle(p, SLOW_PEERS, round++), SLOW_PEERS);
	if (fetch_status(srv.port, "/index.html") != 200)
		fail_msg("a normal client was not served during slowloris");
	/* It was served while every slow client was still open. */
	assert_int_equal(trickle(p, SLOW_PEERS, round++), SLOW_PEERS);
	deadline = now_ms() + 15000;
	while (open > 0 && now_ms() < deadline) {
		sleep_ms(SLOW_BYTE_MS);
		open = trickle(p, SLOW_PEERS, round++);
	}
	if (open > 0)
		fail_msg("%d slowloris clients still open after 15 s", open);
	expect_serving("slowloris");
}

/*
 * Sends /api/sleep?ms=1000 on one connection and, once the server has it,
 * a static request on another.  Returns true if the static reply came
 * first.
 */
static bool static_answered_first(void)
{
	struct peer *p = alloc_peers(2);
	int64_t deadline = now_ms() + 3 * PEER_TIMEOUT_MS;
	int first = -1, got = 0;
	bool have[2] = { false, false };

	start_or_fail(NULL, 0);
	open_or_fail(&p[0], 0);
	send_or_fail(&p[0],
		     "GET /api/sleep?ms=1000 HTTP/1.1\r\nHost: t\r\n\r\n");
	sleep_ms(100);
	open_or_fail(&p[1], 0);
	send_or_fail(&p[1], GET_INDEX);
	while (got < 2 && now_ms() < deadline) {
		struct pollfd pf[2] = { { .fd = p[0].fd, .events = POLLIN },
					{ .fd = p[1].fd, .events = POLLIN } };

		if (poll(pf, 2, 1000) <= 0)
			continue;
		for (int i = 0; i < 2; i++) {
			struct reply r;

			if (have[i] || pf[i].revents == 0)
				continue;
			peer_fill(&p[i]);
			if (peer_take_reply(&p[i], &r, false) != 1)
				continue;
			assert_int_equal(r.status, 200);
			reply_free(&r);
			have[i] = true;
			if (first < 0)
				first = i;
			got++;
		}
	}
	assert_int_equal(got, 2);
	return first == 1;
}

/* [02 03 04 06] A sleeping handler does not delay a static file. */
static void blocking_handler_beside_static(void **state)
{
	(void)state;
	assert_true(static_answered_first());
}

/* [05] The lesson of 05: a sleeping handler stalls the only thread. */
static void blocking_handler_stalls_loop(void **state)
{
	(void)state;
	assert_false(static_answered_first());
}

/*
 * [all] Out of descriptors (RLIMIT_NOFILE 64, 100 clients): the server
 * neither spins nor dies, and serves again once clients leave.
 */
static void fd_exhaustion_recovers(void **state)
{
	const char *const opts[] = { "--keepalive-timeout", "30", NULL };
	struct peer *p = alloc_peers(100);
	long cpu;

	(void)state;
	start_or_fail(opts, 64);
	for (int i = 0; i < 100; i++)
		open_or_fail(&p[i], 0);
	sleep_ms(300);
	cpu = server_cpu_ms(&srv);
	sleep_ms(1000);
	cpu = server_cpu_ms(&srv) - cpu;
	if (cpu > 500)
		fail_msg("the server used %ld ms of CPU in 1 s at EMFILE", cpu);
	for (int i = 0; i < 100; i++)
		peer_close(&p[i], false);
	expect_serving("running out of descriptors");
}

struct adversarial_test {
	const char *name;
	CMUnitTestFunction fn;
	const char *models; /* "all", or "02 03 05 06" */
};

#define T(fn, models)                                                          \
	{                                                                      \
#fn " [" models "]", fn, models                                \
	}

static const struct adversarial_test all_tests[] = {
	T(byte_at_a_time, "all"),
	T(pipelined_burst, "all"),
	T(slow_reader_gets_every_byte, "all"),
	T(slow_reader_does_not_stall_others, "02 03 04 05 06"),
	T(stalled_reader_is_dropped, "all"),
	T(vanish_mid_response, "all"),
	T(vanish_during_slow_handler, "all"),
	T(thousand_keepalive, "02 03 05 06"),
	T(slowloris, "02 03 05 06"),
	T(blocking_handler_beside_static, "02 03 04 06"),
	T(blocking_handler_stalls_loop, "05"),
	T(fd_exhaustion_recovers, "all"),
};

#define N_TESTS (sizeof(all_tests) / sizeof(all_tests[0]))

/* True when the test runs against this model ("06_epoll_async" -> "06"). */
static bool runs_here(const struct adversarial_test *t)
{
	char num[3] = { server_model[0], server_model[1], '\0' };

	return strcmp(t->models, "all") == 0 || strstr(t->models, num) != NULL;
}

int main(int argc, char **argv)
{
	struct CMUnitTest tests[N_TESTS];
	size_t n = 0;
	const char *slash;
	int rc;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s SERVER-BINARY [FILTER]\n", argv[0]);
		return 2;
	}
	server_binary = argv[1];
	slash = strrchr(server_binary, '/');
	server_model = slash != NULL ? slash + 1 : server_binary;
	if (argc == 3)
		cmocka_set_test_filter(argv[2]);
	for (size_t i = 0; i < N_TESTS; i++) {
		if (!runs_here(&all_tests[i]))
			continue;
		tests[n++] = (struct CMUnitTest){
			.name = all_tests[i].name,
			.test_func = all_tests[i].fn,
			.teardown_func = teardown,
		};
	}
	if (docroot_create() != 0) {
		fprintf(stderr, "cannot make the document root: %s\n",
			strerror(errno));
		docroot_remove();
		return 2;
	}
	rc = _cmocka_run_group_tests(server_model, tests, n, NULL, NULL);
	docroot_remove();
	return rc;
}
