/*
 * test_stats.c - the counters: status classes, latency percentiles, the
 * JSON document with the queue gauge, the Prometheus document of /metrics,
 * and above all that counts made in a forked child or in another thread
 * reach the parent.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "stats.h"

#define RELAXED memory_order_relaxed

static uint64_t get(atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, RELAXED);
}

static void test_create_starts_clean(void **state)
{
	struct stats *st = stats_create();
	size_t i;

	(void)state;
	assert_non_null(st);
	assert_int_equal(get(&st->requests), 0);
	assert_int_equal(atomic_load(&st->processes), 1);
	assert_int_equal(atomic_load(&st->active_conns), 0);
	for (i = 0; i < STATS_BUCKETS; i++)
		assert_int_equal(get(&st->latency_us[i]), 0);
	assert_int_equal(stats_percentile_us(st, 50), 0);
	stats_destroy(st);
}

static void test_record_counts_classes(void **state)
{
	struct stats *st = stats_create();

	(void)state;
	stats_record(st, 200, 10);
	stats_record(st, 204, 10);
	stats_record(st, 304, 10);
	stats_record(st, 404, 10);
	stats_record(st, 503, 10);
	stats_record(st, 100, 10);
	stats_record(st, 999, 10); /* counted, but in no class */
	assert_int_equal(get(&st->requests), 7);
	assert_int_equal(get(&st->by_class[1]), 1);
	assert_int_equal(get(&st->by_class[2]), 2);
	assert_int_equal(get(&st->by_class[3]), 1);
	assert_int_equal(get(&st->by_class[4]), 1);
	assert_int_equal(get(&st->by_class[5]), 1);
	stats_destroy(st);
}

static void test_connections(void **state)
{
	struct stats *st = stats_create();

	(void)state;
	stats_conn_opened(st);
	stats_conn_opened(st);
	stats_conn_closed(st);
	assert_int_equal(atomic_load(&st->active_conns), 1);
	assert_int_equal(get(&st->total_conns), 2);
	stats_process_started(st);
	stats_process_started(st);
	stats_process_exited(st);
	assert_int_equal(atomic_load(&st->processes), 2);
	stats_destroy(st);
}

static void test_percentiles(void **state)
{
	struct stats *st = stats_create();
	int i;

	(void)state;
	/* 90 fast requests (100 us) and 10 slow ones (10 ms). */
	for (i = 0; i < 90; i++)
		stats_record(st, 200, 100);
	for (i = 0; i < 10; i++)
		stats_record(st, 200, 10000);
	/* Buckets are powers of two: 100 us is below 128, 10000 below 16384. */
	assert_int_equal(stats_percentile_us(st, 50), 128);
	assert_int_equal(stats_percentile_us(st, 90), 128);
	assert_int_equal(stats_percentile_us(st, 91), 16384);
	assert_int_equal(stats_percentile_us(st, 99), 16384);
	assert_int_equal(stats_percentile_us(st, 100), 16384);
	assert_int_equal(stats_percentile_us(st, 0), 128);
	assert_int_equal(stats_percentile_us(st, 250), 16384);
	stats_destroy(st);
}

static void test_bucket_edges(void **state)
{
	struct stats *st = stats_create();

	(void)state;
	stats_record(st, 200, 0);
	assert_int_equal(stats_percentile_us(st, 100), 1);
	stats_record(st, 200, 1);
	assert_int_equal(stats_percentile_us(st, 100), 2);
	stats_record(st, 200, 1024);
	assert_int_equal(stats_percentile_us(st, 100), 2048);
	stats_record(st, 200, UINT64_MAX);
	assert_int_equal(stats_percentile_us(st, 100),
			 (uint64_t)1 << (STATS_BUCKETS - 1));
	stats_destroy(st);
}

/* What the mapping saves us from: a plain global is private after fork. */
static int plain_counter;

static void test_counts_cross_fork(void **state)
{
	struct stats *st = stats_create();
	int i, status;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		for (i = 0; i < 1000; i++)
			stats_record(st, 200, 50);
		stats_conn_opened(st);
		plain_counter = 1000;
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(get(&st->requests), 1000);
	assert_int_equal(get(&st->by_class[2]), 1000);
	assert_int_equal(get(&st->total_conns), 1);
	/* LESSON: copy-on-write gave the child its own plain_counter. */
	assert_int_equal(plain_counter, 0);
	stats_destroy(st);
}

#define THREADS 4
#define PER_THREAD 20000

static void *record_many(void *arg)
{
	struct stats *st = arg;
	int i;

	for (i = 0; i < PER_THREAD; i++)
		stats_record(st, 200, (uint64_t)i);
	return NULL;
}

static void test_counts_across_threads(void **state)
{
	struct stats *st = stats_create();
	pthread_t t[THREADS];
	uint64_t sum = 0;
	int i;

	(void)state;
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, record_many, st),
				 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(get(&st->requests), THREADS * PER_THREAD);
	for (i = 0; i < STATS_BUCKETS; i++)
		sum += get(&st->latency_us[i]);
	assert_int_equal(sum, THREADS * PER_THREAD);
	stats_destroy(st);
}

static void test_json(void **state)
{
	struct stats *st = stats_create();
	char out[1024];
	const char *p;
	int n;

	(void)state;
	stats_record(st, 200, 100);
	stats_record(st, 404, 100);
	stats_conn_opened(st);
	n = stats_format_json(st, "01_blocking", out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(out));
	assert_true(strncmp(out, "{\"model\":\"01_blocking\",", 23) == 0);
	assert_non_null(strstr(out, "\"uptime_s\":0,"));
	assert_non_null(strstr(out, "\"requests\":2,"));
	assert_non_null(strstr(out, "\"responses\":{\"1xx\":0,\"2xx\":1,"
				    "\"3xx\":0,\"4xx\":1,\"5xx\":0}"));
	assert_non_null(strstr(out, "\"active_connections\":1,"));
	assert_non_null(strstr(out, "\"total_connections\":1,"));
	assert_non_null(strstr(out, "\"latency_us\":{\"p50\":128,\"p90\":128,"
				    "\"p99\":128}"));
	assert_non_null(strstr(out, "\"processes\":1,"));
	/* No queue: both figures are there, and 0. */
	assert_non_null(
		strstr(out, "\"queue_depth\":0,\"queue_capacity\":0}\n"));
	p = strstr(out, "\"threads\":");
	assert_non_null(p);
	assert_true(atoi(p + 10) >= 1);
	assert_int_equal(stats_format_json(st, "x", out, 20), -1);
	stats_destroy(st);
}

static void test_queue_gauge(void **state)
{
	struct stats *st = stats_create();
	atomic_int_fast64_t *gauge;
	char out[1024];

	(void)state;
	gauge = stats_queue_gauge(st, 256);
	assert_non_null(gauge);
	/* The pool writes the depth; stats only reports it. */
	atomic_store(gauge, 17);
	assert_true(stats_format_json(st, "04_threadpool", out, sizeof(out)) >
		    0);
	assert_non_null(
		strstr(out, "\"queue_depth\":17,\"queue_capacity\":256}"));
	stats_destroy(st);
}

/* Fails unless out holds line (with its newline) as a whole line. */
static void assert_line(const char *out, const char *line)
{
	size_t n = strlen(line);
	const char *p = out;

	while ((p = strstr(p, line)) != NULL) {
		if ((p == out || p[-1] == '\n') && p[n] == '\n')
			return;
		p++;
	}
	fail_msg("no line \"%s\" in:\n%s", line, out);
}

/*
 * Every sample's family has its # HELP and # TYPE before it, every line
 * ends, and nothing but samples and those comments is there.
 */
static void assert_exposition(const char *out)
{
	char typed[32][64];
	size_t ntyped = 0, i;
	const char *p = out, *nl;

	while ((nl = strchr(p, '\n')) != NULL) {
		char name[64];
		size_t len = strcspn(p, "{ \n");
		bool found = false;

		if (strncmp(p, "# HELP ", 7) == 0) {
			p = nl + 1;
			continue;
		}
		if (strncmp(p, "# TYPE ", 7) == 0) {
			assert_true(ntyped < 32);
			sscanf(p + 7, "%63s", typed[ntyped++]);
			p = nl + 1;
			continue;
		}
		assert_true(len > 0 && len < sizeof(name));
		memcpy(name, p, len);
		name[len] = '\0';
		for (i = 0; i < ntyped && !found; i++) {
			size_t tl = strlen(typed[i]);

			found = strcmp(name, typed[i]) == 0 ||
				(strncmp(name, typed[i], tl) == 0 &&
				 (strcmp(name + tl, "_bucket") == 0 ||
				  strcmp(name + tl, "_sum") == 0 ||
				  strcmp(name + tl, "_count") == 0));
		}
		if (!found)
			fail_msg("sample %s has no # TYPE before it", name);
		p = nl + 1;
	}
	assert_string_equal(p, "");
}

static void test_prometheus(void **state)
{
	struct stats *st = stats_create();
	char out[STATS_PROM_MAX];
	int n;

	(void)state;
	stats_record(st, 200, 100); /* bucket [64, 128) us */
	stats_record(st, 404, 100);
	stats_record(st, 503, 3000000); /* [2^21, 2^22) us: 2.1 to 4.2 s */
	stats_conn_opened(st);
	n = stats_format_prometheus(st, "01_blocking", out, sizeof(out));
	assert_true(n > 0);
	assert_int_equal((size_t)n, strlen(out));
	assert_exposition(out);
	assert_line(out, "# TYPE http_requests_total counter");
	assert_line(out, "http_server_info{model=\"01_blocking\"} 1");
	assert_line(out, "http_requests_total 3");
	assert_line(out, "http_responses_total{class=\"1xx\"} 0");
	assert_line(out, "http_responses_total{class=\"2xx\"} 1");
	assert_line(out, "http_responses_total{class=\"4xx\"} 1");
	assert_line(out, "http_responses_total{class=\"5xx\"} 1");
	assert_line(out, "http_connections_open 1");
	assert_line(out, "http_connections_total 1");
	assert_line(out, "http_server_processes 1");
	assert_line(out, "# TYPE http_request_duration_seconds histogram");
	/* Cumulative, at powers of two of microseconds, in seconds. */
	assert_line(out, "http_request_duration_seconds_bucket{le=\"0.000001\"}"
			 " 0");
	assert_line(out, "http_request_duration_seconds_bucket{le=\"0.000064\"}"
			 " 0");
	assert_line(out, "http_request_duration_seconds_bucket{le=\"0.000128\"}"
			 " 2");
	assert_line(out, "http_request_duration_seconds_bucket{le=\"2.097152\"}"
			 " 2");
	assert_line(out, "http_request_duration_seconds_bucket{le=\"4.194304\"}"
			 " 3");
	assert_line(out, "http_request_duration_seconds_bucket{le="
			 "\"67.108864\"} 3");
	assert_line(out, "http_request_duration_seconds_bucket{le=\"+Inf\"} 3");
	assert_line(out, "http_request_duration_seconds_sum 3.0002");
	assert_line(out, "http_request_duration_seconds_count 3");
	/* No queue in this model: no queue gauges at all. */
	assert_null(strstr(out, "queue"));
	assert_int_equal(stats_format_prometheus(st, "x", out, 100), -1);
	stats_destroy(st);
}

static void test_prometheus_queue_and_label(void **state)
{
	struct stats *st = stats_create();
	char out[STATS_PROM_MAX];

	(void)state;
	atomic_store(stats_queue_gauge(st, 256), 17);
	assert_true(stats_format_prometheus(st, "a\"b\\c\nd", out,
					    sizeof(out)) > 0);
	assert_exposition(out);
	assert_line(out, "http_server_info{model=\"a\\\"b\\\\c\\nd\"} 1");
	assert_line(out, "http_server_queue_depth 17");
	assert_line(out, "http_server_queue_capacity 256");
	stats_destroy(st);
}

/* Every count at its longest still fits in a response body. */
static void test_prometheus_worst_case_fits(void **state)
{
	struct stats *st = stats_create();
	char out[STATS_PROM_MAX];
	int i;

	(void)state;
	atomic_store(&st->requests, UINT64_MAX);
	for (i = 1; i <= 5; i++)
		atomic_store(&st->by_class[i], UINT64_MAX);
	atomic_store(&st->rate_limited, UINT64_MAX);
	atomic_store(&st->active_conns, INT64_MIN);
	atomic_store(&st->total_conns, UINT64_MAX);
	atomic_store(&st->processes, INT64_MIN);
	/* Twenty digits in every cumulative bucket. */
	atomic_store(&st->latency_us[0], 10000000000000000000ULL);
	atomic_store(&st->latency_sum_us, UINT64_MAX);
	atomic_store(stats_queue_gauge(st, 1 << 30), INT64_MIN);
	atomic_store(&st->queue_capacity, INT64_MAX);
	st->started_ms -= 1000LL * 3600 * 24 * 365 * 100; /* a century */
	assert_true(stats_format_prometheus(st, "06_epoll_async", out,
					    sizeof(out)) > 0);
	assert_exposition(out);
	stats_destroy(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_starts_clean),
		cmocka_unit_test(test_record_counts_classes),
		cmocka_unit_test(test_connections),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_bucket_edges),
		cmocka_unit_test(test_counts_cross_fork),
		cmocka_unit_test(test_counts_across_threads),
		cmocka_unit_test(test_json),
		cmocka_unit_test(test_queue_gauge),
		cmocka_unit_test(test_prometheus),
		cmocka_unit_test(test_prometheus_queue_and_label),
		cmocka_unit_test(test_prometheus_worst_case_fits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
