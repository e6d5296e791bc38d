/*
 * model.c - the "model" group: does the binary use the concurrency model
 * its name promises?  HTTP cannot tell a forking server from a threaded
 * one, so these tests look at the process from /proc: its threads, its
 * children, its zombies, its descriptors and the system call it waits in.
 *
 * The tests are chosen by the binary's basename (01_blocking ...); any
 * other name fails.  Each test starts its own server with the options it
 * needs, and its teardown kills it.
 */
#include "contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>

#include "json.h"
#include "proc.h"

#define HOST "Host: contract\r\n"
#define CLOSE "Connection: close\r\n"

/* How long a count may take to settle after clients come or go. */
#define SETTLE_MS 5000

#define MAX_LOAD 64

static struct server_proc srv;

static void start_or_fail(const char *const *extra)
{
	if (server_start(&srv, extra) == -1)
		fail_msg("cannot start %s", server_binary);
}

static int model_teardown(void **state)
{
	(void)state;
	client_close_all();
	server_kill(&srv);
	return 0;
}

/* ---- helpers ---- */

/* Children of the server that have not exited. */
static int live_children(pid_t pid)
{
	int all = proc_children(pid, NULL, 0);
	int zombies = proc_zombie_children(pid);

	return all < 0 || zombies < 0 ? -1 : all - zombies;
}

/* Polls count(pid) until it is at most want; returns the last value. */
static int settle(int (*count)(pid_t), pid_t pid, int want)
{
	int64_t deadline = now_ms() + SETTLE_MS;
	int n;

	while (((n = count(pid)) > want || n < 0) && now_ms() < deadline)
		sleep_ms(20);
	return n;
}

/*
 * The thread count once it stops changing (three equal samples 20 ms
 * apart): the thread of the start-up request may still be exiting.
 */
static int steady_threads(pid_t pid)
{
	int64_t deadline = now_ms() + 1000;
	int n = proc_threads(pid), same = 0;

	while (same < 2 && now_ms() < deadline) {
		int m;

		sleep_ms(20);
		m = proc_threads(pid);
		same = m == n ? same + 1 : 0;
		n = m;
	}
	return n;
}

/*
 * ThreadSanitizer's runtime adds a background thread of its own to a
 * process that has threads.  `make tsan` builds this suite and the servers
 * alike, so a TSan build of the suite allows for that one thread.
 */
#if defined(__SANITIZE_THREAD__)
#define RUNTIME_THREADS 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define RUNTIME_THREADS 1
#endif
#endif
#ifndef RUNTIME_THREADS
#define RUNTIME_THREADS 0
#endif

static void assert_threads(int want, const char *when)
{
	int n = proc_threads(srv.pid);

	if (n < want || n > want + RUNTIME_THREADS)
		fail_msg("%s: %d threads, expected %d", when, n, want);
}

/* Opens n keep-alive connections, each with one answered GET. */
static void open_idle(struct client **cs, int n)
{
	struct reply r;
	int i;

	for (i = 0; i < n; i++) {
		cs[i] = open_or_fail(srv.port);
		send_or_fail(cs[i], "GET / HTTP/1.1\r\n" HOST "\r\n");
		read_reply_or_fail(cs[i], &r, false, "GET / (keep-alive)");
		assert_status(&r, 200, "GET / (keep-alive)");
		reply_free(&r);
	}
}

/*
 * Sends GET path on n connections at once, then reads the replies; before
 * each read checks that the server has want_threads threads (if >= 0).
 */
static void load(int n, const char *path, int want_threads)
{
	struct client *cs[MAX_LOAD];
	char req[256];
	struct reply r;
	int i;

	assert_true(n <= MAX_LOAD);
	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\n" HOST CLOSE "\r\n",
		 path);
	for (i = 0; i < n; i++) {
		cs[i] = open_or_fail(srv.port);
		send_or_fail(cs[i], req);
	}
	for (i = 0; i < n; i++) {
		if (want_threads >= 0)
			assert_threads(want_threads, "under load");
		read_reply_or_fail(cs[i], &r, false, path);
		assert_status(&r, 200, path);
		reply_free(&r);
		client_close(cs[i]);
	}
}

static bool in_list(long nr, const long *nrs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (nrs[i] == nr)
			return true;
	return false;
}

static bool wchan_like(const char *wchan, const char *const *names)
{
	for (; *names; names++)
		if (strstr(wchan, *names))
			return true;
	return false;
}

/*
 * Waits until some thread of the idle server is blocked in one of the
 * system calls nrs, as /proc/PID/task/TID/syscall says; where that file
 * cannot be read, the kernel function in .../wchan must match one of
 * wchans.  Fails with what every thread was doing if none ever is.
 */
static void assert_waits_in(const long *nrs, size_t nnrs,
			    const char *const *wchans, const char *what)
{
	int64_t deadline = now_ms() + SETTLE_MS;
	struct task_wait t[64];
	char seen[1024];
	size_t used;
	int n, i;

	for (;;) {
		n = proc_task_waits(srv.pid, t, 64);
		for (i = 0; i < n && i < 64; i++) {
			if (t[i].syscall >= 0 &&
			    in_list(t[i].syscall, nrs, nnrs))
				return;
			if (t[i].syscall < 0 && t[i].wchan[0] &&
			    wchan_like(t[i].wchan, wchans))
				return;
		}
		if (now_ms() > deadline)
			break;
		sleep_ms(20);
	}
	used = 0;
	seen[0] = '\0';
	for (i = 0; i < n && i < 64 && used < sizeof(seen); i++)
		used += (size_t)snprintf(seen + used, sizeof(seen) - used,
					 " [tid %d: syscall %ld, wchan %s]",
					 (int)t[i].tid, t[i].syscall,
					 t[i].wchan[0] ? t[i].wchan : "?");
	fail_msg("no thread of the idle server waits in %s;%s", what,
		 n < 0 ? " /proc/PID/task unreadable" : seen);
}

/* System call numbers from this machine's headers; absent ones left out. */
static const long poll_nrs[] = {
#ifdef SYS_poll
	SYS_poll,
#endif
#ifdef SYS_ppoll
	SYS_ppoll,
#endif
	-1,
};
static const char *const poll_wchans[] = { "poll_schedule_timeout",
					   "do_sys_poll", "do_poll", NULL };

static const long epoll_nrs[] = {
#ifdef SYS_epoll_wait
	SYS_epoll_wait,
#endif
#ifdef SYS_epoll_pwait
	SYS_epoll_pwait,
#endif
#ifdef SYS_epoll_pwait2
	SYS_epoll_pwait2,
#endif
	-1,
};
static const char *const epoll_wchans[] = { "ep_poll", "do_epoll_wait", NULL };

static int eventpoll_fds(pid_t pid)
{
	return proc_fd_count_like(pid, "anon_inode:[eventpoll]");
}

/* ---- every model ---- */

/* stats.h: /api/stats names the model, which is the binary's name. */
static void stats_names_model(void **state)
{
	char model[64];
	struct reply r;

	(void)state;
	start_or_fail(NULL);
	get_ok(srv.port, "/api/stats", &r);
	if (json_find_string(r.body, "model", model, sizeof(model)) == -1)
		fail_msg("no \"model\" in /api/stats: %s", r.body);
	if (strcmp(model, server_model) != 0)
		fail_msg("/api/stats says model \"%s\", the binary is %s",
			 model, server_model);
	reply_free(&r);
}

/* ---- 01_blocking ---- */

/* One process, one thread, one connection at a time: no threads, no
 * children, before, during and after a burst of clients. */
static void blocking_one_thread(void **state)
{
	(void)state;
	start_or_fail(NULL);
	assert_threads(1, "idle");
	load(10, "/api/sleep?ms=20", 1);
	assert_threads(1, "after the load");
	if (proc_children(srv.pid, NULL, 0) != 0)
		fail_msg("01_blocking has child processes");
}

/* ---- 02_fork ---- */

/* One child per connection: 5 open connections, 5 live children. */
static void fork_child_per_connection(void **state)
{
	struct client *cs[5];
	int n, i;

	(void)state;
	start_or_fail(NULL);
	open_idle(cs, 5);
	n = live_children(srv.pid);
	if (n < 5)
		fail_msg("5 open connections, %d live children", n);
	assert_threads(1, "the parent");
	for (i = 0; i < 5; i++)
		client_close(cs[i]);
	n = settle(live_children, srv.pid, 0);
	if (n != 0)
		fail_msg("%d children still alive %d ms after their clients "
			 "left",
			 n, SETTLE_MS);
}

/* Every child is reaped: no zombie after 200 connections in a row. */
static void fork_reaps_children(void **state)
{
	struct client *c;
	struct reply r;
	int i, z;

	(void)state;
	start_or_fail(NULL);
	for (i = 0; i < 200; i++) {
		c = open_or_fail(srv.port);
		send_or_fail(c,
			     "GET /small.txt HTTP/1.1\r\n" HOST CLOSE "\r\n");
		read_reply_or_fail(c, &r, false, "GET /small.txt");
		assert_status(&r, 200, "GET /small.txt");
		reply_free(&r);
		assert_closes(c, "Connection: close");
		client_close(c);
	}
	z = settle(proc_zombie_children, srv.pid, 0);
	if (z != 0)
		fail_msg("%d zombie children %d ms after 200 connections", z,
			 SETTLE_MS);
}

/* ---- 03_threads ---- */

/* One thread per connection: 10 idle connections, at least 10 more
 * threads, and back to the base once they close. */
static void threads_per_connection(void **state)
{
	struct client *cs[10];
	int base, n, i;

	(void)state;
	start_or_fail(NULL);
	base = steady_threads(srv.pid);
	open_idle(cs, 10);
	n = proc_threads(srv.pid);
	if (n < base + 10)
		fail_msg("%d threads with 10 open connections, %d idle", n,
			 base);
	for (i = 0; i < 10; i++)
		client_close(cs[i]);
	n = settle(proc_threads, srv.pid, base);
	if (n > base)
		fail_msg("%d threads %d ms after the clients left, %d before",
			 n, SETTLE_MS, base);
}

/* ---- 04_threadpool ---- */

/* A fixed pool: --threads 4 is 4 workers + the acceptor, under load too. */
static void pool_fixed_threads(void **state)
{
	static const char *const opts[] = { "--threads", "4", NULL };

	(void)state;
	start_or_fail(opts);
	assert_threads(5, "idle with --threads 4");
	load(50, "/api/sleep?ms=5", 5);
	assert_threads(5, "after 50 clients");
}

/*
 * A bounded queue sheds load: with 2 workers and 2 queue slots, 50 idle
 * keep-alive clients each get a 200 or a 503, none waits forever.
 */
static void pool_sheds_load(void **state)
{
	static const char *const opts[] = {
		"--threads",	       "2", "--queue", "2",
		"--keepalive-timeout", "1", NULL
	};
	struct client *cs[50];
	int64_t deadline;
	struct reply r;
	int i, ok = 0, busy = 0;

	(void)state;
	start_or_fail(opts);
	for (i = 0; i < 50; i++) {
		cs[i] = open_or_fail(srv.port);
		/* A 503 may come before the request is read: a failed
		 * send is not an error here. */
		client_send_str(cs[i], "GET / HTTP/1.1\r\n" HOST "\r\n");
	}
	deadline = now_ms() + 20000;
	for (i = 0; i < 50; i++) {
		int64_t left = deadline - now_ms();

		if (client_read_reply(cs[i], &r, false,
				      left > 0 ? (int)left : 0) == -1)
			fail_msg("client %d of 50 got no 200 or 503: %s", i + 1,
				 client_error());
		if (r.status != 200 && r.status != 503)
			fail_msg("client %d of 50 got status %d", i + 1,
				 r.status);
		ok += r.status == 200;
		busy += r.status == 503;
		reply_free(&r);
	}
	print_message("    50 clients: %d got 200, %d got 503\n", ok, busy);
}

/* ---- 05_nonblocking_poll ---- */

/* One thread multiplexes every connection with poll(2), not epoll. */
static void poll_one_thread(void **state)
{
	(void)state;
	start_or_fail(NULL);
	assert_threads(1, "idle");
	assert_waits_in(poll_nrs, ARRAY_SIZE(poll_nrs) - 1, poll_wchans,
			"poll/ppoll");
	if (eventpoll_fds(srv.pid) != 0)
		fail_msg("05 holds an epoll descriptor");
	load(20, "/small.txt", 1);
	assert_threads(1, "after the load");
}

/* ---- 06_epoll_async ---- */

/* An epoll loop plus --threads workers for blocking handlers. */
static void epoll_loop_and_workers(void **state)
{
	static const char *const opts[] = { "--threads", "3", NULL };

	(void)state;
	start_or_fail(opts);
	assert_threads(4, "idle with --threads 3");
	assert_waits_in(epoll_nrs, ARRAY_SIZE(epoll_nrs) - 1, epoll_wchans,
			"epoll_wait/epoll_pwait");
	if (eventpoll_fds(srv.pid) < 1)
		fail_msg("06 holds no epoll descriptor");
	load(20, "/api/sleep?ms=20", 4);
	assert_threads(4, "after the load");
}

/* ---- selection ---- */

#define T(f) cmocka_unit_test_teardown(f, model_teardown)

static const struct CMUnitTest blocking_tests[] = {
	T(stats_names_model),
	T(blocking_one_thread),
};
static const struct CMUnitTest fork_tests[] = {
	T(stats_names_model),
	T(fork_child_per_connection),
	T(fork_reaps_children),
};
static const struct CMUnitTest threads_tests[] = {
	T(stats_names_model),
	T(threads_per_connection),
};
static const struct CMUnitTest pool_tests[] = {
	T(stats_names_model),
	T(pool_fixed_threads),
	T(pool_sheds_load),
};
static const struct CMUnitTest poll_tests[] = {
	T(stats_names_model),
	T(poll_one_thread),
};
static const struct CMUnitTest epoll_tests[] = {
	T(stats_names_model),
	T(epoll_loop_and_workers),
};

#undef T

struct model_tests {
	const char *name;
	const struct CMUnitTest *tests;
	size_t n;
};

static const struct model_tests models[] = {
	{ "01_blocking", blocking_tests, ARRAY_SIZE(blocking_tests) },
	{ "02_fork", fork_tests, ARRAY_SIZE(fork_tests) },
	{ "03_threads", threads_tests, ARRAY_SIZE(threads_tests) },
	{ "04_threadpool", pool_tests, ARRAY_SIZE(pool_tests) },
	{ "05_nonblocking_poll", poll_tests, ARRAY_SIZE(poll_tests) },
	{ "06_epoll_async", epoll_tests, ARRAY_SIZE(epoll_tests) },
};

/* The binary's name says no model: that is a failure, not a skip. */
static void model_known(void **state)
{
	(void)state;
	fail_msg("no model checks for \"%s\": the binary's basename must be "
		 "one of 01_blocking 02_fork 03_threads 04_threadpool "
		 "05_nonblocking_poll 06_epoll_async",
		 server_model);
}

int run_model_tests(void)
{
	static const struct CMUnitTest unknown[] = {
		cmocka_unit_test(model_known),
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(models); i++)
		if (strcmp(models[i].name, server_model) == 0)
			return run_group("model", models[i].tests, models[i].n,
					 NULL, NULL);
	return run_group("model", unknown, ARRAY_SIZE(unknown), NULL, NULL);
}
