/*
 * test_ratelimit.c - the "ratelimit" group: --rate-limit, --burst and
 * --trust-proxy, against every model.
 *
 * Each test starts its own server with --rate-limit 1 --burst 3 (or
 * without a limit, for the log tests); the teardown kills it.  On
 * loopback every client would be 127.0.0.1, so the tests bind their
 * sockets to other addresses of 127/8 to be several clients, or speak as
 * a proxy with X-Forwarded-For.
 *
 * No test relies on timing.  A bucket starts full, so a new client's
 * first BURST requests are answered 200 however slow the machine is; and
 * in T milliseconds a client can earn at most T / 1000 more tokens at one
 * a second.  So of N requests sent in T ms, at most BURST + T / 1000 are
 * 200, whatever T turned out to be: a slow run weakens the check, it
 * never fails it falsely.
 */
#include "contract.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HOST "Host: contract\r\n"
#define CLOSE "Connection: close\r\n"

#define RATE 1
#define BURST 3
#define FLOOD 12 /* requests a flooding client sends */

/* How long the counters and the log may take to catch up. */
#define SETTLE_MS 5000

static struct server_proc srv;
static char log_path[PATH_MAX]; /* --access-log, when a test has one */

static const char *const limited[] = { "--rate-limit", "1", "--burst", "3",
				       NULL };

static int ratelimit_teardown(void **state)
{
	(void)state;
	client_close_all();
	server_kill(&srv);
	if (log_path[0] != '\0')
		unlink(log_path);
	log_path[0] = '\0';
	return 0;
}

static void start_or_fail(const char *const *extra)
{
	if (server_start(&srv, extra) == -1)
		fail_msg("cannot start %s", server_binary);
}

/* What the requests of one client got. */
struct tally {
	int ok, limited;
	int64_t elapsed_ms; /* from before the first connect to the last reply
			     */
};

/* Checks a 429: Retry-After is there and a whole number of seconds. */
static void assert_retry_after(const struct reply *r)
{
	const char *v = header_or_fail(r, "Retry-After");
	char *end;
	long s = strtol(v, &end, 10);

	if (*v == '\0' || *end != '\0' || s < 1 || s > RATE * 3600)
		fail_msg("Retry-After: '%s' is not a number of seconds", v);
}

static void count_reply(struct tally *t, const struct reply *r)
{
	if (r->status == 200) {
		t->ok++;
	} else if (r->status == 429) {
		assert_retry_after(r);
		t->limited++;
	} else {
		fail_msg("expected 200 or 429, got %d:\n%s", r->status,
			 r->head);
	}
}

/* One request on a new connection from src, with extra header lines. */
static void request_from(const char *src, const char *headers, struct tally *t)
{
	char req[512];
	struct client *c = client_open_from(srv.port, src);
	struct reply r;

	if (!c)
		fail_msg("cannot connect from %s: %s", src, client_error());
	snprintf(req, sizeof(req),
		 "GET /small.txt HTTP/1.1\r\n" HOST CLOSE "%s\r\n", headers);
	send_or_fail(c, req);
	read_reply_or_fail(c, &r, false, "GET /small.txt");
	count_reply(t, &r);
	reply_free(&r);
	client_close(c);
}

/* n requests from src, each on a connection of its own. */
static struct tally flood_from(const char *src, const char *headers, int n)
{
	struct tally t = { 0 };
	int64_t start = now_ms();

	for (int i = 0; i < n; i++)
		request_from(src, headers, &t);
	t.elapsed_ms = now_ms() - start;
	return t;
}

/*
 * The limit held: the first BURST got through, and no more than the
 * tokens earned meanwhile (see the top of this file).
 */
static void assert_limited(const struct tally *t, int n, const char *who)
{
	int most = BURST + (int)(t->elapsed_ms / 1000) * RATE;

	if (t->ok + t->limited != n)
		fail_msg("%s: %d answers to %d requests", who,
			 t->ok + t->limited, n);
	if (t->ok < BURST || t->ok > most)
		fail_msg("%s: %d of %d requests in %lld ms got 200; with "
			 "--rate-limit %d --burst %d at least %d and at most "
			 "%d may",
			 who, t->ok, n, (long long)t->elapsed_ms, RATE, BURST,
			 BURST, most);
}

/*
 * A new connection per request: the limit is per client, not per
 * connection - and in 02 every connection is a child of its own, so the
 * children share the buckets.
 */
static void ratelimit_holds_across_connections(void **state)
{
	struct tally t;

	(void)state;
	start_or_fail(limited);
	t = flood_from("127.0.0.2", "", FLOOD);
	assert_limited(&t, FLOOD, "127.0.0.2");
}

/*
 * 06 with --loops 2: a client's connections land on either loop (the
 * kernel hashes the client's port too), and both loops share the table.
 * The other models take --loops and ignore it.
 */
static void ratelimit_holds_across_loops(void **state)
{
	const char *argv[] = { "--rate-limit", "1", "--burst", "3",
			       "--loops",      "2", NULL };
	struct tally t;

	(void)state;
	start_or_fail(argv);
	t = flood_from("127.0.0.8", "", FLOOD);
	assert_limited(&t, FLOOD, "127.0.0.8");
}

/* On one keep-alive connection: 429 keeps the connection open. */
static void ratelimit_holds_on_keepalive(void **state)
{
	struct tally t = { 0 };
	struct client *c;
	int64_t start;

	(void)state;
	start_or_fail(limited);
	start = now_ms();
	c = client_open_from(srv.port, "127.0.0.3");
	if (!c)
		fail_msg("cannot connect from 127.0.0.3: %s", client_error());
	for (int i = 0; i < FLOOD; i++) {
		struct reply r;

		send_or_fail(c, "GET /small.txt HTTP/1.1\r\n" HOST "\r\n");
		read_reply_or_fail(c, &r, false, "GET /small.txt");
		count_reply(&t, &r);
		if (reply_header_has_token(&r, "Connection", "close"))
			fail_msg("a %d closed the connection:\n%s", r.status,
				 r.head);
		reply_free(&r);
	}
	t.elapsed_ms = now_ms() - start;
	assert_limited(&t, FLOOD, "127.0.0.3");
}

/* A flood from one address leaves another address its whole burst. */
static void ratelimit_one_flood_limits_no_other(void **state)
{
	struct tally flood, other;

	(void)state;
	start_or_fail(limited);
	flood = flood_from("127.0.0.4", "", FLOOD);
	assert_limited(&flood, FLOOD, "127.0.0.4");
	other = flood_from("127.0.0.5", "", BURST);
	if (other.ok != BURST)
		fail_msg("after a flood from 127.0.0.4, 127.0.0.5 got %d of "
			 "%d requests through",
			 other.ok, BURST);
}

/* The sample of a family without labels in /metrics; -1 if absent. */
static long long metric(const char *body, const char *name)
{
	char pattern[128];
	const char *p;

	snprintf(pattern, sizeof(pattern), "\n%s ", name);
	p = strstr(body, pattern);
	return p == NULL ? -1 : strtoll(p + strlen(pattern), NULL, 10);
}

/* /metrics counts the 429s (asked from fresh addresses: it is limited). */
static void ratelimit_counted_in_metrics(void **state)
{
	int64_t deadline;
	struct tally t;
	long long seen = -1;

	(void)state;
	start_or_fail(limited);
	t = flood_from("127.0.0.6", "", FLOOD);
	assert_limited(&t, FLOOD, "127.0.0.6");
	deadline = now_ms() + SETTLE_MS;
	for (int i = 1; i < 250 && seen != t.limited; i++) {
		char src[32];
		struct client *c;
		struct reply r;

		if (i > 1 && now_ms() > deadline)
			break;
		if (i > 1)
			sleep_ms(20);
		snprintf(src, sizeof(src), "127.0.1.%d", i);
		c = client_open_from(srv.port, src);
		if (!c)
			fail_msg("cannot connect from %s: %s", src,
				 client_error());
		send_or_fail(c, "GET /metrics HTTP/1.1\r\n" HOST CLOSE "\r\n");
		read_reply_or_fail(c, &r, false, "GET /metrics");
		assert_status(&r, 200, "GET /metrics");
		seen = metric(r.body, "http_rate_limited_total");
		if (seen < 0)
			fail_msg("no http_rate_limited_total in /metrics:\n%s",
				 r.body);
		reply_free(&r);
		client_close(c);
	}
	if (seen != t.limited)
		fail_msg("http_rate_limited_total is %lld after %d 429s", seen,
			 t.limited);
}

/* ---- --trust-proxy ---- */

/* A fresh --access-log path in TMPDIR, for the server to create. */
static void make_log_path(void)
{
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(log_path, sizeof(log_path), "%s/ratelimit-log-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(log_path);
	if (fd == -1)
		fail_msg("mkstemp: %s", strerror(errno));
	close(fd);
}

/*
 * Waits for the log to hold a line for path (the response is logged
 * after it is sent) and returns that line's first field, the client.
 */
static void logged_client(const char *path, char *who, size_t whosz)
{
	int64_t deadline = now_ms() + SETTLE_MS;
	char buf[8192], needle[128];

	snprintf(needle, sizeof(needle), "\"GET %s ", path);
	for (;;) {
		int fd = open(log_path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
		const char *hit, *line;

		if (fd >= 0)
			close(fd);
		buf[n > 0 ? n : 0] = '\0';
		hit = strstr(buf, needle);
		if (hit != NULL) {
			for (line = hit; line > buf && line[-1] != '\n'; line--)
				;
			snprintf(who, whosz, "%.*s", (int)strcspn(line, " "),
				 line);
			return;
		}
		if (now_ms() > deadline)
			fail_msg("no line for %s in the access log:\n%s", path,
				 buf);
		sleep_ms(10);
	}
}

/* One GET path with X-Forwarded-For from 127.0.0.1, answered 200. */
static void get_forwarded(const char *path, const char *xff)
{
	char req[512];
	struct reply r;

	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\n" HOST CLOSE "X-Forwarded-For: %s\r\n\r\n",
		 path, xff);
	fetch_or_fail(srv.port, req, &r);
	assert_status(&r, 200, path);
	reply_free(&r);
}

/* From the trusted proxy, the log shows the address the proxy added. */
static void trust_proxy_logs_forwarded_client(void **state)
{
	const char *argv[] = { "--trust-proxy", "127.0.0.1", "--access-log",
			       log_path, NULL };
	char who[64];

	(void)state;
	make_log_path();
	start_or_fail(argv);
	get_forwarded("/small.txt?a", "198.51.100.1, 203.0.113.7");
	logged_client("/small.txt?a", who, sizeof(who));
	assert_string_equal(who, "203.0.113.7");
	get_forwarded("/small.txt?b", "2001:db8::42");
	logged_client("/small.txt?b", who, sizeof(who));
	assert_string_equal(who, "2001:db8::42");
	/* Malformed: the peer. */
	get_forwarded("/small.txt?c", "203.0.113.7, not-an-address");
	logged_client("/small.txt?c", who, sizeof(who));
	assert_string_equal(who, "127.0.0.1");
}

/* Without --trust-proxy, or from another peer, the header is ignored. */
static void untrusted_forwarded_for_is_ignored(void **state)
{
	const char *plain[] = { "--access-log", log_path, NULL };
	const char *other[] = { "--trust-proxy", "127.0.0.9", "--access-log",
				log_path, NULL };
	char who[64];

	(void)state;
	make_log_path();
	start_or_fail(plain);
	get_forwarded("/small.txt?d", "203.0.113.7");
	logged_client("/small.txt?d", who, sizeof(who));
	assert_string_equal(who, "127.0.0.1");
	server_kill(&srv);
	start_or_fail(other);
	get_forwarded("/small.txt?e", "203.0.113.7");
	logged_client("/small.txt?e", who, sizeof(who));
	assert_string_equal(who, "127.0.0.1");
}

/*
 * Behind the proxy the limit is per forwarded client: one flooding
 * client behind it leaves another its burst.  A peer that is not the
 * proxy cannot dodge its limit with a new X-Forwarded-For each time.
 */
static void trust_proxy_limits_per_forwarded_client(void **state)
{
	const char *argv[] = { "--rate-limit",	"1",	     "--burst", "3",
			       "--trust-proxy", "127.0.0.1", NULL };
	struct tally flood, other, forged = { 0 };
	int64_t start;

	(void)state;
	start_or_fail(argv);
	flood = flood_from("127.0.0.1", "X-Forwarded-For: 203.0.113.1\r\n",
			   FLOOD);
	assert_limited(&flood, FLOOD, "203.0.113.1 behind the proxy");
	other = flood_from("127.0.0.1", "X-Forwarded-For: 203.0.113.2\r\n",
			   BURST);
	if (other.ok != BURST)
		fail_msg("after a flood from 203.0.113.1, 203.0.113.2 behind "
			 "the same proxy got %d of %d requests through",
			 other.ok, BURST);
	start = now_ms();
	for (int i = 0; i < FLOOD; i++) {
		char xff[64];

		snprintf(xff, sizeof(xff), "X-Forwarded-For: 192.0.2.%d\r\n",
			 i + 1);
		request_from("127.0.0.7", xff, &forged);
	}
	forged.elapsed_ms = now_ms() - start;
	assert_limited(&forged, FLOOD, "127.0.0.7 forging X-Forwarded-For");
}

int run_ratelimit_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(ratelimit_holds_across_connections,
					  ratelimit_teardown),
		cmocka_unit_test_teardown(ratelimit_holds_across_loops,
					  ratelimit_teardown),
		cmocka_unit_test_teardown(ratelimit_holds_on_keepalive,
					  ratelimit_teardown),
		cmocka_unit_test_teardown(ratelimit_one_flood_limits_no_other,
					  ratelimit_teardown),
		cmocka_unit_test_teardown(ratelimit_counted_in_metrics,
					  ratelimit_teardown),
		cmocka_unit_test_teardown(trust_proxy_logs_forwarded_client,
					  ratelimit_teardown),
		cmocka_unit_test_teardown(untrusted_forwarded_for_is_ignored,
					  ratelimit_teardown),
		cmocka_unit_test_teardown(
			trust_proxy_limits_per_forwarded_client,
			ratelimit_teardown),
	};

	return run_group("ratelimit", tests, ARRAY_SIZE(tests), NULL, NULL);
}
