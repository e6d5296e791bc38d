/*
 * test_loops.c - the "loops" group: every model started with --loops 2.
 *
 * 06 then runs two event loops, each a thread with its own epoll set and
 * its own listener on the one port; the others take the option and ignore
 * it, as they do --threads.  Either way every client is served, every
 * request is counted once in /api/stats, and SIGTERM stops the server.
 * For 06 the group also checks that there are two loops and that both get
 * connections.  Each test starts its own server; the teardown kills it.
 */
#include "contract.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

#define HOST "Host: contract\r\n"
#define CLOSE "Connection: close\r\n"

/*
 * Keep-alive clients, each with this many requests, then as many closing,
 * at most MAX_AT_ONCE connected at a time (see at_once).
 */
#define CLIENTS 100
#define REQUESTS_EACH 2
#define MAX_AT_ONCE 25

/* How long the counters may take to catch up with the last answer. */
#define SETTLE_MS 5000

static struct server_proc srv;

static const char *const two_loops[] = { "--loops", "2", NULL };

static int loops_teardown(void **state)
{
	(void)state;
	client_close_all();
	server_kill(&srv);
	return 0;
}

static bool is_06(void)
{
	return strcmp(server_model, "06_epoll_async") == 0;
}

/*
 * How many keep-alive clients a model serves at once: 01 one, 04 one per
 * worker (the suite gives it --threads 4); a client beyond that waits
 * for a keep-alive timeout, which is that model's lesson, not this one.
 */
static int at_once(void)
{
	if (strcmp(server_model, "01_blocking") == 0)
		return 1;
	if (strcmp(server_model, "04_threadpool") == 0)
		return 4;
	return MAX_AT_ONCE;
}

static void start_or_fail(const char *const *extra)
{
	if (server_start(&srv, extra) == -1)
		fail_msg("cannot start %s with --loops 2", server_binary);
}

/* The number after "key": in a flat JSON document; -1 if absent. */
static long long json_number(const char *doc, const char *key)
{
	char pattern[64];
	const char *p;

	snprintf(pattern, sizeof(pattern), "\"%s\":", key);
	p = strstr(doc, pattern);
	return p == NULL ? -1 : strtoll(p + strlen(pattern), NULL, 10);
}

/* "requests" from /api/stats (which counts responses already sent). */
static long long requests_counted(void)
{
	struct reply r;
	long long n;

	get_ok(srv.port, "/api/stats", &r);
	n = json_number(r.body, "requests");
	if (n < 0)
		fail_msg("no \"requests\" in /api/stats: %s", r.body);
	reply_free(&r);
	return n;
}

/* GET /small.txt on c, and its 1 KiB body. */
static void get_small(struct client *c, bool close_after)
{
	struct reply r;

	send_or_fail(
		c, close_after ? "GET /small.txt HTTP/1.1\r\n" HOST CLOSE "\r\n"
			       : "GET /small.txt HTTP/1.1\r\n" HOST "\r\n");
	read_reply_or_fail(c, &r, false, "GET /small.txt");
	assert_status(&r, 200, "GET /small.txt");
	assert_int_equal(r.body_len, DOC_SMALL_LEN);
	reply_free(&r);
}

/*
 * Many clients, keep-alive and not, all at once: each is answered, and
 * /api/stats counts every request exactly once, whichever loop (or
 * process, or thread) served it.
 */
static void loops_serve_and_count_all(void **state)
{
	struct client *cs[MAX_AT_ONCE];
	int group = at_once(), i, k, done;
	long long before, want, now;
	int64_t deadline;

	(void)state;
	start_or_fail(two_loops);
	before = requests_counted();
	for (done = 0; done < CLIENTS; done += group) {
		for (i = 0; i < group; i++)
			cs[i] = open_or_fail(srv.port);
		for (k = 0; k < REQUESTS_EACH; k++)
			for (i = 0; i < group; i++)
				get_small(cs[i], false);
		for (i = 0; i < group; i++)
			client_close(cs[i]);
	}
	for (i = 0; i < CLIENTS; i++) {
		cs[0] = open_or_fail(srv.port);
		get_small(cs[0], true);
		assert_closes(cs[0], "Connection: close");
		client_close(cs[0]);
	}
	/* + 1: the first /api/stats, counted once its answer was out. */
	want = before + 1 + (long long)CLIENTS * (REQUESTS_EACH + 1);
	deadline = now_ms() + SETTLE_MS;
	while ((now = requests_counted()) < want && now_ms() < deadline) {
		want++; /* this /api/stats request counts too */
		sleep_ms(20);
	}
	if (now != want)
		fail_msg("/api/stats counts %lld requests, %lld were answered",
			 now, want);
}

/* Every epoll descriptor of pid: how many descriptors each watches. */
static int epoll_watch_counts(pid_t pid, int *counts, int max)
{
	char dir[64], path[320], target[64], line[256];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL && n < max) {
		ssize_t len;
		FILE *f;

		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		if (strcmp(target, "anon_inode:[eventpoll]") != 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fdinfo/%s", (int)pid,
			 e->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		counts[n] = 0;
		while (fgets(line, sizeof(line), f) != NULL)
			counts[n] += strncmp(line, "tfd:", 4) == 0;
		fclose(f);
		n++;
	}
	closedir(d);
	return n;
}

/*
 * 06 with --loops 2 --threads 2: two loops (two epoll sets, two threads
 * beside the workers), and the kernel spreads the clients over both
 * listeners: each epoll set watches connections beyond its own three
 * descriptors (stop pipe, listener, eventfd).  32 clients all on one
 * loop would be a 1 in 2^31 hash.
 */
static void loops_06_spreads_clients(void **state)
{
	static const char *const opts[] = { "--loops", "2", "--threads", "2",
					    NULL };
	struct client *cs[32];
	struct reply r;
	int counts[4], n, i, threads;

	(void)state;
	if (!is_06()) {
		print_message("    %s has no event loops: nothing to check\n",
			      server_model);
		return;
	}
	start_or_fail(opts);
	threads = proc_threads(srv.pid);
	if (threads < 4 || threads > 5) /* + 1: ThreadSanitizer's own */
		fail_msg("--loops 2 --threads 2: %d threads, expected 4",
			 threads);
	for (i = 0; i < 32; i++) {
		cs[i] = open_or_fail(srv.port);
		send_or_fail(cs[i], "GET / HTTP/1.1\r\n" HOST "\r\n");
		read_reply_or_fail(cs[i], &r, false, "GET / (keep-alive)");
		assert_status(&r, 200, "GET / (keep-alive)");
		reply_free(&r);
	}
	n = epoll_watch_counts(srv.pid, counts, 4);
	if (n != 2)
		fail_msg("--loops 2: %d epoll descriptors, expected 2", n);
	if (counts[0] + counts[1] < 32 + 2 * 3)
		fail_msg("the epoll sets watch %d and %d descriptors, expected "
			 "at least %d in all",
			 counts[0], counts[1], 32 + 2 * 3);
	if (counts[0] <= 3 || counts[1] <= 3)
		fail_msg("one loop got all 32 clients (%d and %d watched)",
			 counts[0], counts[1]);
}

/* SIGTERM with idle keep-alive clients stops every loop: exit 0. */
static void loops_sigterm_stops_all(void **state)
{
	struct client *cs[MAX_AT_ONCE];
	int status, i;

	(void)state;
	start_or_fail(two_loops);
	for (i = 0; i < at_once(); i++) {
		cs[i] = open_or_fail(srv.port);
		get_small(cs[i], false);
	}
	status = server_terminate(&srv, STOP_TIMEOUT_MS);
	if (status == -1)
		fail_msg("--loops 2: no exit within %d ms of SIGTERM",
			 STOP_TIMEOUT_MS);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("--loops 2: SIGTERM should give exit status 0, got "
			 "wait status 0x%x",
			 status);
}

/* --loops takes 1 to 64: 0 is a bad option, exit status 2. */
static void loops_zero_refused(void **state)
{
	static const char *const opts[] = { "--loops", "0", NULL };

	(void)state;
	if (server_start(&srv, opts) == 0)
		fail_msg("--loops 0 was accepted");
	if (!srv.reaped || !WIFEXITED(srv.status) ||
	    WEXITSTATUS(srv.status) != 2)
		fail_msg("--loops 0: expected exit status 2: %s",
			 server_error());
}

#define T(f) cmocka_unit_test_teardown(f, loops_teardown)

int run_loops_tests(void)
{
	static const struct CMUnitTest tests[] = {
		T(loops_serve_and_count_all),
		T(loops_06_spreads_clients),
		T(loops_sigterm_stops_all),
		T(loops_zero_refused),
	};

	return run_group("loops", tests, ARRAY_SIZE(tests), NULL, NULL);
}
