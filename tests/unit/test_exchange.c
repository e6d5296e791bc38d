/*
 * test_exchange.c - the HTTP side of a connection with no socket at all:
 * bytes go in through exchange_input/exchange_received, the test plays
 * the driver, and what would go on the wire is collected from
 * exchange_output_iov/exchange_output_file.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exchange.h"
#include "fake_server.h"
#include "ratelimit.h"
#include "server.h"
#include "static_files.h"
#include "stats.h"

static struct server srv;
static char base[] = "/tmp/test_exchange.XXXXXX";
static char file_path[PATH_MAX];

/* A file bigger than any in-memory part, to see the sendfile range. */
#define FILE_LEN 20000

static int group_setup(void **state)
{
	FILE *f;

	(void)state;
	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(file_path, sizeof(file_path), "%s/f.txt", base);
	f = fopen(file_path, "w");
	if (f == NULL)
		return -1;
	for (int i = 0; i < FILE_LEN; i++)
		fputc('a' + i % 26, f);
	fclose(f);
	return fake_server_init(&srv, base);
}

static int group_teardown(void **state)
{
	(void)state;
	stats_destroy(srv.stats);
	unlink(file_path);
	return rmdir(base);
}

/* The test's side of one connection: the buffer and what was "sent". */
struct wire {
	struct exchange ex;
	char buf[64 * 1024];
	char out[64 * 1024];
	size_t out_len;
};

/* The connection's peer, as net_peer_of() would fill it. */
static struct net_peer peer = {
	.known = true,
	.ip = { .b = { [10] = 0xff, [11] = 0xff, [12] = 127, [15] = 1 } },
	.text = "127.0.0.1"
};

static void wire_init(struct wire *w, size_t cap)
{
	assert_true(cap <= sizeof(w->buf));
	exchange_init(&w->ex, &srv, w->buf, cap, &peer);
	w->out_len = 0;
}

/* Delivers s as if one read() returned it. */
static void deliver(struct wire *w, const char *s)
{
	size_t room, len = strlen(s);
	char *in = exchange_input(&w->ex, &room);

	assert_true(len <= room);
	memcpy(in, s, len);
	exchange_received(&w->ex, len);
}

/*
 * Takes at most max bytes of pending output, as a writev or a sendfile
 * that the socket only partly accepted would.  Returns how many.
 */
static size_t take(struct wire *w, size_t max)
{
	struct iovec iov[EXCHANGE_IOV_MAX];
	int n = exchange_output_iov(&w->ex, iov);
	size_t got = 0;

	for (int i = 0; i < n && got < max; i++) {
		size_t k =
			iov[i].iov_len < max - got ? iov[i].iov_len : max - got;

		memcpy(w->out + w->out_len + got, iov[i].iov_base, k);
		got += k;
	}
	if (n == 0) {
		int fd;
		off_t off;
		size_t left = exchange_output_file(&w->ex, &fd, &off);
		ssize_t r;

		if (left == 0)
			return 0;
		got = left < max ? left : max;
		r = pread(fd, w->out + w->out_len, got, off);
		assert_int_equal(r, (ssize_t)got);
	}
	assert_true(w->out_len + got < sizeof(w->out));
	w->out_len += got;
	w->out[w->out_len] = '\0';
	exchange_sent(&w->ex, got);
	return got;
}

/* Sends everything pending, chunk bytes at a time. */
static void take_all(struct wire *w, size_t chunk)
{
	while (exchange_next(&w->ex) == EXCHANGE_WRITE)
		assert_true(take(w, chunk) > 0);
}

/* Runs the exchange until it wants input or a close; returns that step. */
static enum exchange_step run(struct wire *w)
{
	for (int guard = 0; guard < 100; guard++) {
		enum exchange_step step = exchange_next(&w->ex);

		if (step == EXCHANGE_HANDLE)
			exchange_handle(&w->ex);
		else if (step == EXCHANGE_WRITE)
			take(w, SIZE_MAX);
		else
			return step;
	}
	fail_msg("the exchange never settled");
	return EXCHANGE_CLOSE;
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

static void test_fresh_exchange_wants_input(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, 4096);
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_READ);
	assert_true(exchange_is_idle(&w.ex));
	exchange_release(&w.ex);
}

static void test_request_then_idle_again(void **state)
{
	struct wire w;
	uint64_t before = atomic_load(&srv.stats->requests);

	(void)state;
	wire_init(&w, 4096);
	deliver(&w, "GET /api/model HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_false(exchange_is_idle(&w.ex));
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_HANDLE);
	assert_false(exchange_may_block(&w.ex));
	exchange_handle(&w.ex);
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_WRITE);
	take_all(&w, SIZE_MAX);
	assert_non_null(strstr(w.out, "HTTP/1.1 200 OK\r\n"));
	assert_non_null(strstr(w.out, "{\"model\":\"test_model\"}"));
	/* Recorded once it is out, then back to the keep-alive wait. */
	assert_int_equal(atomic_load(&srv.stats->requests), before + 1);
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_READ);
	assert_true(exchange_is_idle(&w.ex));
	exchange_release(&w.ex);
}

static void test_pipelined_requests_answered_in_order(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, 4096);
	deliver(&w, "GET /api/hello?name=one HTTP/1.1\r\nHost: x\r\n\r\n"
		    "GET /api/hello?name=two HTTP/1.1\r\nHost: x\r\n\r\n"
		    "GET /api/hel");
	assert_int_equal(run(&w), EXCHANGE_READ);
	assert_int_equal(count(w.out, "HTTP/1.1 200"), 2);
	assert_true(strstr(w.out, "one") < strstr(w.out, "two"));
	/* The third has begun: not idle, the header clock runs. */
	assert_false(exchange_is_idle(&w.ex));
	deliver(&w, "lo HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(run(&w), EXCHANGE_READ);
	assert_int_equal(count(w.out, "HTTP/1.1 200"), 3);
	assert_true(exchange_is_idle(&w.ex));
	exchange_release(&w.ex);
}

static void test_close_after_connection_close(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, 4096);
	deliver(&w, "GET /api/model HTTP/1.1\r\nHost: x\r\n"
		    "Connection: close\r\n\r\nGET /api/model HTTP/1.1\r\n");
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	assert_int_equal(count(w.out, "HTTP/1.1 "), 1);
	assert_non_null(strstr(w.out, "Connection: close\r\n"));
	exchange_release(&w.ex);
}

static void test_close_after_http10(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, 4096);
	deliver(&w, "GET /api/model HTTP/1.0\r\n\r\n");
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	assert_non_null(strstr(w.out, "HTTP/1.1 200"));
	exchange_release(&w.ex);
}

static void test_malformed_request_is_400_then_close(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, 4096);
	deliver(&w, "GET / HTTP/1.1\r\nBad header\r\n\r\n");
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_WRITE);
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	assert_non_null(strstr(w.out, "HTTP/1.1 400 "));
	assert_non_null(strstr(w.out, "Connection: close\r\n"));
	exchange_release(&w.ex);
}

/* The body of a response in out, after its empty line. */
static const char *body_of(const char *out)
{
	const char *end = strstr(out, "\r\n\r\n");

	assert_non_null(end);
	return end + 4;
}

static void test_failed_head_gets_no_body(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, 4096);
	deliver(&w, "HEAD / HTTP/1.1\r\nBad header\r\n\r\n");
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	assert_non_null(strstr(w.out, "HTTP/1.1 400 "));
	assert_non_null(strstr(w.out, "Content-Length: "));
	assert_string_equal(body_of(w.out), "");
	exchange_release(&w.ex);
}

static void test_head_with_oversized_header_gets_no_body(void **state)
{
	struct wire w;
	char req[12000];

	(void)state;
	wire_init(&w, sizeof(w.buf));
	snprintf(req, sizeof(req), "HEAD / HTTP/1.1\r\nHost: x\r\nX-Big: %0*d",
		 HTTP_DEFAULT_MAX_HEADER_BYTES + 100, 0);
	deliver(&w, req);
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	assert_non_null(strstr(w.out, "HTTP/1.1 431 "));
	assert_string_equal(body_of(w.out), "");
	exchange_release(&w.ex);
}

static void test_continue_is_queued_output(void **state)
{
	static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
	struct wire w;

	(void)state;
	wire_init(&w, 4096);
	deliver(&w, "POST /api/echo HTTP/1.1\r\nHost: x\r\n"
		    "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n");
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_WRITE);
	/* The socket takes 10 bytes: the rest stays queued, in order. */
	assert_int_equal(take(&w, 10), 10);
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_WRITE);
	take_all(&w, 4);
	assert_string_equal(w.out, cont);
	/* Sent once: the next wait is for the body. */
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_READ);
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_READ);
	deliver(&w, "hello");
	assert_int_equal(run(&w), EXCHANGE_READ);
	assert_non_null(strstr(w.out + strlen(cont), "HTTP/1.1 200"));
	assert_string_equal(body_of(w.out + strlen(cont)), "hello");
	exchange_release(&w.ex);
}

static void test_output_in_small_pieces_is_whole(void **state)
{
	struct wire small, whole;

	(void)state;
	wire_init(&small, 4096);
	wire_init(&whole, 4096);
	deliver(&small, "GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	deliver(&whole, "GET /f.txt HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(exchange_next(&small.ex), EXCHANGE_HANDLE);
	exchange_handle(&small.ex);
	take_all(&small, 7);
	assert_int_equal(run(&whole), EXCHANGE_READ);
	/* Same bytes (the Date may tick between the two: skip the head). */
	assert_int_equal(small.out_len, whole.out_len);
	assert_int_equal(strlen(body_of(small.out)), FILE_LEN);
	assert_memory_equal(body_of(small.out), body_of(whole.out), FILE_LEN);
	exchange_release(&small.ex);
	exchange_release(&whole.ex);
}

static void test_timeout_mid_request_is_408(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, 4096);
	deliver(&w, "GET / HTTP/1.1\r\nHo");
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_READ);
	exchange_timeout(&w.ex);
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	assert_non_null(strstr(w.out, "HTTP/1.1 408 "));
	exchange_release(&w.ex);
}

static void test_timeout_when_idle_does_nothing(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, 4096);
	exchange_timeout(&w.ex);
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_READ);
	assert_true(exchange_is_idle(&w.ex));
	assert_int_equal(w.out_len, 0);
	exchange_release(&w.ex);
}

static void test_full_buffer_without_head_is_431(void **state)
{
	struct wire w;
	char req[300];

	(void)state;
	wire_init(&w, 256);
	snprintf(req, sizeof(req), "GET /%0250d", 0);
	req[255] = '\0';
	deliver(&w, req);
	deliver(&w, "x");
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	assert_non_null(strstr(w.out, "HTTP/1.1 431 "));
	exchange_release(&w.ex);
}

static void test_full_buffer_with_head_is_413(void **state)
{
	struct wire w;
	char body[200];

	(void)state;
	wire_init(&w, 256);
	deliver(&w, "POST /api/echo HTTP/1.1\r\nHost: x\r\n"
		    "Content-Length: 1000\r\n\r\n");
	memset(body, 'b', sizeof(body));
	body[256 - w.ex.used] = '\0';
	deliver(&w, body);
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	assert_non_null(strstr(w.out, "HTTP/1.1 413 "));
	exchange_release(&w.ex);
}

static void test_refused_request_is_503_then_close(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, 4096);
	deliver(&w, "GET /api/sleep?ms=1 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_HANDLE);
	assert_true(exchange_may_block(&w.ex));
	exchange_refuse(&w.ex, 503);
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	assert_non_null(strstr(w.out, "HTTP/1.1 503 "));
	assert_non_null(strstr(w.out, "Retry-After: 1\r\n"));
	exchange_release(&w.ex);
}

static void test_refused_head_gets_no_body(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, 4096);
	deliver(&w, "HEAD /api/sleep HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_HANDLE);
	exchange_refuse(&w.ex, 503);
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	assert_non_null(strstr(w.out, "HTTP/1.1 503 "));
	assert_non_null(strstr(w.out, "Content-Length: "));
	assert_int_equal(strlen(strstr(w.out, "\r\n\r\n")), 4);
	exchange_release(&w.ex);
}

/*
 * Runs req (delivered in one read) to its close and returns what
 * exchange_client_closes() says then: may the driver skip lingering?
 */
static bool client_closes_after(const char *req)
{
	struct wire w;
	bool clean;

	wire_init(&w, 4096);
	deliver(&w, req);
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	clean = exchange_client_closes(&w.ex);
	exchange_release(&w.ex);
	return clean;
}

static void test_client_closes_after_connection_close(void **state)
{
	(void)state;
	assert_true(client_closes_after("GET /api/model HTTP/1.1\r\nHost: x\r\n"
					"Connection: close\r\n\r\n"));
}

static void test_client_closes_after_http10(void **state)
{
	(void)state;
	assert_true(client_closes_after("GET /api/model HTTP/1.0\r\n\r\n"));
}

/* A body read whole is part of the request: nothing of it is left. */
static void test_client_closes_after_body_read_whole(void **state)
{
	(void)state;
	assert_true(client_closes_after("POST /api/echo HTTP/1.1\r\nHost: x\r\n"
					"Connection: close\r\n"
					"Content-Length: 5\r\n\r\nhello"));
}

/* The client asked to keep the connection: the server ends it (a 500). */
static void test_server_closes_keep_alive_lingers(void **state)
{
	struct stats *saved = srv.app.stats;
	bool clean;

	(void)state;
	srv.app.stats = NULL; /* /api/stats then fails: 500, and close */
	clean = client_closes_after(
		"GET /api/stats HTTP/1.1\r\nHost: x\r\n\r\n");
	srv.app.stats = saved;
	assert_false(clean);
}

/* An error closes because the framing is lost, whatever the client said. */
static void test_error_close_lingers(void **state)
{
	(void)state;
	assert_false(
		client_closes_after("GET / HTTP/1.1\r\nConnection: close\r\n"
				    "Bad header\r\n\r\n"));
}

/* A 413 before the body: the body may still be on its way. */
static void test_body_not_read_lingers(void **state)
{
	(void)state;
	assert_false(
		client_closes_after("POST /api/echo HTTP/1.1\r\nHost: x\r\n"
				    "Connection: close\r\n"
				    "Content-Length: 999999999\r\n\r\n"));
}

/* Bytes behind a Connection: close were received and never answered. */
static void test_bytes_behind_close_linger(void **state)
{
	(void)state;
	assert_false(
		client_closes_after("GET /api/model HTTP/1.1\r\nHost: x\r\n"
				    "Connection: close\r\n\r\nG"));
}

/* A refused hand-off is the server's close, even of a closing request. */
static void test_refused_request_lingers(void **state)
{
	struct wire w;

	(void)state;
	wire_init(&w, 4096);
	deliver(&w, "GET /api/sleep?ms=1 HTTP/1.1\r\nHost: x\r\n"
		    "Connection: close\r\n\r\n");
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_HANDLE);
	exchange_refuse(&w.ex, 503);
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	assert_false(exchange_client_closes(&w.ex));
	exchange_release(&w.ex);
}

/*
 * A request is routed once, when it completes: exchange_may_block() and
 * exchange_handle() both read that route.  The test rewrites the path in
 * the buffer afterwards (a server never does) to see which route runs.
 */
static void test_request_is_routed_once(void **state)
{
	struct wire w;
	char *path;

	(void)state;
	wire_init(&w, 4096);
	deliver(&w, "GET /api/model HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_HANDLE);
	path = strstr(w.buf, "/api/model");
	assert_non_null(path);
	memcpy(path, "/api/sleep", 10);
	assert_false(exchange_may_block(&w.ex));
	exchange_handle(&w.ex);
	take_all(&w, SIZE_MAX);
	assert_non_null(strstr(w.out, "{\"model\":\"test_model\"}"));
	exchange_release(&w.ex);
}

/* ---- the rate limit and --trust-proxy ---- */

static long long frozen_clock(void)
{
	return 1000;
}

/* Turns the rate limit on for srv: 1 a second, burst, time frozen. */
static void limit_on(int burst)
{
	struct ratelimit_config cfg = { .rate = 1,
					.burst = burst,
					.slots = 64,
					.sharing = RATELIMIT_PRIVATE,
					.now_ms = frozen_clock };

	srv.ratelimit = ratelimit_create(&cfg);
	assert_non_null(srv.ratelimit);
}

static void limit_off(void)
{
	ratelimit_destroy(srv.ratelimit);
	srv.ratelimit = NULL;
}

/*
 * A request over the limit is answered 429 with Retry-After, without
 * running its handler, and the connection stays open for the next one.
 */
static void test_over_limit_is_429_and_keeps_alive(void **state)
{
	struct wire w;
	uint64_t before = atomic_load(&srv.stats->rate_limited);

	(void)state;
	limit_on(1);
	wire_init(&w, 4096);
	deliver(&w, "GET /api/model HTTP/1.1\r\nHost: x\r\n\r\n"
		    "GET /api/model HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_HANDLE);
	exchange_handle(&w.ex);
	/* The second never asks for a handler: the exchange answers it. */
	take_all(&w, SIZE_MAX);
	assert_int_equal(count(w.out, "HTTP/1.1 200 OK\r\n"), 1);
	assert_int_equal(count(w.out, "{\"model\""), 1);
	assert_non_null(strstr(w.out, "HTTP/1.1 429 Too Many Requests\r\n"));
	assert_non_null(strstr(w.out, "\r\nRetry-After: 1\r\n"));
	assert_null(strstr(w.out, "Connection: close"));
	assert_int_equal(exchange_next(&w.ex), EXCHANGE_READ);
	assert_true(exchange_is_idle(&w.ex));
	assert_int_equal(atomic_load(&srv.stats->rate_limited), before + 1);
	exchange_release(&w.ex);
	limit_off();
}

/* A 429 to a HEAD has no body, as every HEAD answer. */
static void test_over_limit_head_has_no_body(void **state)
{
	struct wire w;

	(void)state;
	limit_on(1);
	wire_init(&w, 4096);
	deliver(&w, "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
		    "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(run(&w), EXCHANGE_READ);
	assert_non_null(strstr(w.out, "HTTP/1.1 429 "));
	assert_int_equal(strcmp(w.out + strlen(w.out) - 4, "\r\n\r\n"), 0);
	exchange_release(&w.ex);
	limit_off();
}

/*
 * Over the limit with Expect: 100-continue: the 429 comes at once, not
 * a 100 that would have the client send its body for nothing, and the
 * connection closes, as the body is not read.  Under the limit the
 * token is taken once, when the 100 is queued, not again with the body.
 */
static void test_over_limit_gets_no_continue(void **state)
{
	static const char post[] = "POST /api/echo HTTP/1.1\r\nHost: x\r\n"
				   "Expect: 100-continue\r\n"
				   "Content-Length: 5\r\n\r\n";
	struct wire w;

	(void)state;
	limit_on(2);
	wire_init(&w, 4096);
	deliver(&w, post);
	assert_int_equal(run(&w), EXCHANGE_READ);
	deliver(&w, "hello");
	assert_int_equal(run(&w), EXCHANGE_READ);
	assert_int_equal(count(w.out, "HTTP/1.1 100 Continue\r\n"), 1);
	assert_int_equal(count(w.out, "HTTP/1.1 200 OK\r\n"), 1);
	exchange_release(&w.ex);
	/* The first took one token of two: this is the second. */
	wire_init(&w, 4096);
	deliver(&w, "GET /api/model HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(run(&w), EXCHANGE_READ);
	assert_int_equal(count(w.out, "HTTP/1.1 200 OK\r\n"), 1);
	deliver(&w, post);
	assert_int_equal(run(&w), EXCHANGE_CLOSE);
	assert_null(strstr(w.out, "100 Continue"));
	assert_non_null(strstr(w.out, "HTTP/1.1 429 Too Many Requests\r\n"));
	assert_non_null(strstr(w.out, "Connection: close\r\n"));
	exchange_release(&w.ex);
	limit_off();
}

/*
 * Runs one request through a fresh exchange with the access log on a
 * pipe, and returns the log line's first field (the client) in who.
 */
static void logged_client(const char *request, char *who, size_t whosz)
{
	struct wire w;
	char line[512];
	int fds[2];
	ssize_t n;

	assert_int_equal(pipe(fds), 0);
	srv.log_fd = fds[1];
	wire_init(&w, 4096);
	deliver(&w, request);
	run(&w);
	exchange_release(&w.ex);
	srv.log_fd = -1;
	close(fds[1]);
	n = read(fds[0], line, sizeof(line) - 1);
	close(fds[0]);
	assert_true(n > 0);
	line[n] = '\0';
	snprintf(who, whosz, "%.*s", (int)strcspn(line, " "), line);
}

/* A request that carries X-Forwarded-For: xff. */
#define XFF "GET /api/model HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: "
#define XFF_REQUEST(xff) XFF xff "\r\n\r\n"

static void trust(const char *addr)
{
	srv.opt.proxies = 1;
	assert_int_equal(net_ip_parse(addr, strlen(addr), &srv.opt.proxy[0]),
			 0);
}

/* From the trusted proxy, the client is the entry the proxy added: last. */
static void test_trusted_proxy_forwards_the_last_entry(void **state)
{
	char who[64];

	(void)state;
	trust("127.0.0.1");
	logged_client(XFF_REQUEST("198.51.100.7, 203.0.113.5"), who,
		      sizeof(who));
	assert_string_equal(who, "203.0.113.5");
	logged_client(XFF_REQUEST("2001:DB8:0::1"), who, sizeof(who));
	assert_string_equal(who, "2001:db8::1");
	/* Two field lines are one list: the last line's last entry. */
	logged_client("GET / HTTP/1.1\r\nHost: x\r\n"
		      "X-Forwarded-For: 192.0.2.1\r\n"
		      "x-forwarded-for: 192.0.2.2,192.0.2.3\r\n\r\n",
		      who, sizeof(who));
	assert_string_equal(who, "192.0.2.3");
	logged_client("GET / HTTP/1.1\r\nHost: x\r\n\r\n", who, sizeof(who));
	assert_string_equal(who, "127.0.0.1");
	srv.opt.proxies = 0;
}

/* From anybody else, X-Forwarded-For is ignored. */
static void test_untrusted_peer_is_the_client(void **state)
{
	char who[64];

	(void)state;
	logged_client(XFF_REQUEST("203.0.113.5"), who, sizeof(who));
	assert_string_equal(who, "127.0.0.1");
	trust("10.0.0.1");
	logged_client(XFF_REQUEST("203.0.113.5"), who, sizeof(who));
	assert_string_equal(who, "127.0.0.1");
	srv.opt.proxies = 0;
}

/* A last entry that is not an address means the peer. */
static void test_malformed_forwarded_for_means_the_peer(void **state)
{
	static const char *const bad[] = {
		XFF_REQUEST("203.0.113.5, bogus"),
		XFF_REQUEST("203.0.113.5,"),
		XFF_REQUEST("203.0.113.5:8080"),
		XFF_REQUEST("[2001:db8::1]"),
		XFF_REQUEST("unknown"),
		XFF_REQUEST("203.0.113.5 198.51.100.1"),
		"GET / HTTP/1.1\r\nHost: x\r\nX-Forwarded-For:\r\n\r\n",
	};
	char who[64];

	(void)state;
	trust("127.0.0.1");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		logged_client(bad[i], who, sizeof(who));
		if (strcmp(who, "127.0.0.1") != 0)
			fail_msg("%s: logged as %s", bad[i], who);
	}
	srv.opt.proxies = 0;
}

/*
 * A chain of trusted proxies (a load balancer, then nginx): each one
 * appends the address it saw, so the entries are read from the right
 * while they name a trusted proxy, and the first that does not is the
 * client.  Entries left of it are the client's own claims.
 */
static void test_proxy_chain_is_walked_to_the_client(void **state)
{
	char who[64];

	(void)state;
	trust("127.0.0.1");
	srv.opt.proxies = 2;
	assert_int_equal(net_ip_parse("10.0.0.5", 8, &srv.opt.proxy[1]), 0);
	logged_client(XFF_REQUEST("198.51.100.7, 203.0.113.5 , 10.0.0.5"), who,
		      sizeof(who));
	assert_string_equal(who, "203.0.113.5");
	/* Only proxies: the farthest one any of them vouched for. */
	logged_client(XFF_REQUEST("10.0.0.5,127.0.0.1"), who, sizeof(who));
	assert_string_equal(who, "10.0.0.5");
	/* A proxy that forwarded nonsense: that proxy is the client. */
	logged_client(XFF_REQUEST("bogus, 10.0.0.5"), who, sizeof(who));
	assert_string_equal(who, "10.0.0.5");
	logged_client(XFF_REQUEST(", 10.0.0.5"), who, sizeof(who));
	assert_string_equal(who, "10.0.0.5");
	srv.opt.proxies = 0;
}

/* Behind the proxy, each forwarded client has a bucket of its own. */
static void test_limit_is_keyed_by_forwarded_client(void **state)
{
	struct wire w;

	(void)state;
	limit_on(1);
	trust("127.0.0.1");
	wire_init(&w, 4096);
	deliver(&w, XFF_REQUEST("192.0.2.1") XFF_REQUEST("192.0.2.2")
			    XFF_REQUEST("192.0.2.1"));
	assert_int_equal(run(&w), EXCHANGE_READ);
	assert_int_equal(count(w.out, "HTTP/1.1 200 OK\r\n"), 2);
	assert_int_equal(count(w.out, "HTTP/1.1 429 "), 1);
	assert_true(strstr(w.out, "HTTP/1.1 429 ") >
		    strstr(strstr(w.out, "HTTP/1.1 200") + 1, "HTTP/1.1 200"));
	exchange_release(&w.ex);
	srv.opt.proxies = 0;
	limit_off();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_exchange_wants_input),
		cmocka_unit_test(test_request_then_idle_again),
		cmocka_unit_test(test_pipelined_requests_answered_in_order),
		cmocka_unit_test(test_close_after_connection_close),
		cmocka_unit_test(test_close_after_http10),
		cmocka_unit_test(test_malformed_request_is_400_then_close),
		cmocka_unit_test(test_failed_head_gets_no_body),
		cmocka_unit_test(test_head_with_oversized_header_gets_no_body),
		cmocka_unit_test(test_continue_is_queued_output),
		cmocka_unit_test(test_output_in_small_pieces_is_whole),
		cmocka_unit_test(test_timeout_mid_request_is_408),
		cmocka_unit_test(test_timeout_when_idle_does_nothing),
		cmocka_unit_test(test_full_buffer_without_head_is_431),
		cmocka_unit_test(test_full_buffer_with_head_is_413),
		cmocka_unit_test(test_refused_request_is_503_then_close),
		cmocka_unit_test(test_refused_head_gets_no_body),
		cmocka_unit_test(test_client_closes_after_connection_close),
		cmocka_unit_test(test_client_closes_after_http10),
		cmocka_unit_test(test_client_closes_after_body_read_whole),
		cmocka_unit_test(test_server_closes_keep_alive_lingers),
		cmocka_unit_test(test_error_close_lingers),
		cmocka_unit_test(test_body_not_read_lingers),
		cmocka_unit_test(test_bytes_behind_close_linger),
		cmocka_unit_test(test_refused_request_lingers),
		cmocka_unit_test(test_request_is_routed_once),
		cmocka_unit_test(test_over_limit_is_429_and_keeps_alive),
		cmocka_unit_test(test_over_limit_head_has_no_body),
		cmocka_unit_test(test_over_limit_gets_no_continue),
		cmocka_unit_test(test_trusted_proxy_forwards_the_last_entry),
		cmocka_unit_test(test_untrusted_peer_is_the_client),
		cmocka_unit_test(test_malformed_forwarded_for_means_the_peer),
		cmocka_unit_test(test_limit_is_keyed_by_forwarded_client),
		cmocka_unit_test(test_proxy_chain_is_walked_to_the_client),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
