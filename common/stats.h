/*
 * stats.h - server-wide counters for /api/stats (JSON) and /metrics (the
 * Prometheus text format).
 *
 * The counters live in one shared anonymous mapping made before the server
 * starts its children or threads, and change only through C11 atomics, so
 * the same code counts correctly for threads (shared memory) and for 02's
 * forked children (which share nothing else: see the LESSON in stats.c).
 *
 * Latency is kept as a histogram of power-of-two microsecond buckets, so
 * percentiles are approximate (within a factor of two) but cost one atomic
 * add per request and no lock.  A second add keeps the sum of all
 * latencies, for the histogram's _sum in /metrics.
 *
 * Thread safety: every function is safe from any thread or process.
 */
#ifndef STATS_H
#define STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define STATS_BUCKETS 40

struct stats {
	long long started_ms; /* clock_now_ms() */
	atomic_uint_fast64_t requests;
	atomic_uint_fast64_t by_class[6];  /* [1] = 1xx ... [5] = 5xx */
	atomic_uint_fast64_t rate_limited; /* 429s: --rate-limit refused */
	atomic_int_fast64_t active_conns;
	atomic_uint_fast64_t total_conns;
	atomic_int_fast64_t processes; /* 1 + live children (02) */
	atomic_uint_fast64_t latency_us[STATS_BUCKETS];
	atomic_uint_fast64_t latency_sum_us;
	atomic_int_fast64_t queue_depth;    /* jobs waiting (04, 06) */
	atomic_int_fast64_t queue_capacity; /* 0: this model has no queue */
};

/* Maps a zeroed struct stats shared across fork.  NULL on error (errno). */
struct stats *stats_create(void);
void stats_destroy(struct stats *st);

void stats_conn_opened(struct stats *st);
void stats_conn_closed(struct stats *st);

/*
 * 02 counts its live children: stats_process_started() after a successful
 * fork(), stats_process_exited() after reaping one.
 */
void stats_process_started(struct stats *st);
void stats_process_exited(struct stats *st);

/*
 * 04 and 06 put a bounded queue in front of their workers.  Records its
 * capacity and returns the gauge of jobs waiting in it, for the pool to
 * keep up to date (pool_set_depth_gauge) without stats knowing the pool.
 * The models without a queue never call it, and /api/stats then shows
 * queue_depth 0 and queue_capacity 0.
 */
atomic_int_fast64_t *stats_queue_gauge(struct stats *st, int capacity);

/*
 * Counts one response with its status and its latency in microseconds; a
 * 429 (only the rate limit answers it) is counted in rate_limited too.
 */
void stats_record(struct stats *st, int status, uint64_t latency_us);

/* The latency below which pct percent of requests fell (upper bound). */
uint64_t stats_percentile_us(const struct stats *st, double pct);

/*
 * Writes the JSON document for /api/stats into out: model, uptime_s,
 * requests, responses {1xx..5xx}, active_connections, total_connections,
 * latency_us {p50, p90, p99}, threads (of this process, from /proc),
 * processes, queue_depth, queue_capacity (both 0 without a queue).  model is
 * written as is (a plain name, not JSON-escaped). Returns the length, or -1 if
 * it did not fit.
 */
int stats_format_json(const struct stats *st, const char *model, char *out,
		      size_t outsz);

/*
 * The longest document stats_format_prometheus() writes, with every count
 * at its largest and a model name as short as ours: it fits in a response
 * body (RESP_BODY_MAX; test_stats.c checks the worst case).
 */
#define STATS_PROM_MAX 4096

/*
 * The last bucket /metrics shows on its own: 2^26 us, 67 s, past every
 * timeout and the longest /api/sleep.  Slower is a stuck client, left to
 * +Inf, and the document stays within STATS_PROM_MAX.
 */
#define STATS_PROM_TOP_BUCKET 26

/*
 * Writes the /metrics document into out, in the Prometheus text exposition
 * format 0.0.4: every family with # HELP and # TYPE, names in base units
 * (seconds).  The families:
 *
 *   http_server_info{model}          gauge, always 1: who answered
 *   http_server_uptime_seconds       gauge
 *   http_requests_total              counter
 *   http_responses_total{class}      counter, class "1xx" ... "5xx"
 *   http_rate_limited_total          counter, 429s of --rate-limit
 *   http_connections_open            gauge
 *   http_connections_total           counter
 *   http_server_threads              gauge, of the process that answered
 *   http_server_processes            gauge, 1 + live children (02)
 *   http_server_queue_depth          gauge, only for a model with a queue
 *   http_server_queue_capacity       gauge, likewise
 *   http_request_duration_seconds    histogram: _bucket{le}, _sum, _count
 *
 * The histogram's buckets are the power-of-two buckets above: le is 2^b
 * microseconds for b = 0 ... STATS_PROM_TOP_BUCKET, then +Inf.  model is
 * escaped as a label value.  Returns the length, or -1 if it did not fit.
 */
int stats_format_prometheus(const struct stats *st, const char *model,
			    char *out, size_t outsz);

#endif /* STATS_H */
