/*
 * stats.c - lock-free counters shared by threads and forked children.
 *
 * Every counter is an independent tally, so relaxed atomics are enough: no
 * counter is used to publish other data, and a reader of /api/stats only
 * needs each number to be a value it really had, not a snapshot of all of
 * them at one instant.
 */
#include "stats.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "clock.h"

#define RELAXED memory_order_relaxed

struct stats *stats_create(void)
{
	struct stats *st;
	size_t i;

	/*
	 * LESSON: after fork() a child gets a copy-on-write image of the
	 * parent.  An ordinary global counter would be copied on the first
	 * increment, each child would count into its own private page, and
	 * the parent (or whichever child answers /api/stats) would never see
	 * the others' requests.  A MAP_SHARED mapping made before the first
	 * fork is the same physical memory in every process, and atomics on
	 * it work across processes just as they do across threads.
	 */
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED)
		return NULL;
	st->started_ms = clock_now_ms();
	atomic_init(&st->requests, 0);
	for (i = 0; i < 6; i++)
		atomic_init(&st->by_class[i], 0);
	atomic_init(&st->rate_limited, 0);
	atomic_init(&st->active_conns, 0);
	atomic_init(&st->total_conns, 0);
	atomic_init(&st->processes, 1);
	for (i = 0; i < STATS_BUCKETS; i++)
		atomic_init(&st->latency_us[i], 0);
	atomic_init(&st->latency_sum_us, 0);
	atomic_init(&st->queue_depth, 0);
	atomic_init(&st->queue_capacity, 0);
	return st;
}

void stats_destroy(struct stats *st)
{
	if (st != NULL)
		munmap(st, sizeof(*st));
}

void stats_conn_opened(struct stats *st)
{
	atomic_fetch_add_explicit(&st->active_conns, 1, RELAXED);
	atomic_fetch_add_explicit(&st->total_conns, 1, RELAXED);
}

void stats_conn_closed(struct stats *st)
{
	atomic_fetch_sub_explicit(&st->active_conns, 1, RELAXED);
}

void stats_process_started(struct stats *st)
{
	atomic_fetch_add_explicit(&st->processes, 1, RELAXED);
}

void stats_process_exited(struct stats *st)
{
	atomic_fetch_sub_explicit(&st->processes, 1, RELAXED);
}

atomic_int_fast64_t *stats_queue_gauge(struct stats *st, int capacity)
{
	atomic_store_explicit(&st->queue_capacity, capacity, RELAXED);
	return &st->queue_depth;
}

/*
 * Bucket 0 holds 0 us, bucket b >= 1 holds [2^(b-1), 2^b) us: the bucket is
 * the bit length of the latency, capped at the last bucket.
 */
static unsigned int bucket_of(uint64_t us)
{
	unsigned int b = us ? 64 - (unsigned int)__builtin_clzll(us) : 0;

	return b < STATS_BUCKETS ? b : STATS_BUCKETS - 1;
}

void stats_record(struct stats *st, int status, uint64_t latency_us)
{
	int class = status / 100;

	atomic_fetch_add_explicit(&st->requests, 1, RELAXED);
	if (class >= 1 && class <= 5)
		atomic_fetch_add_explicit(&st->by_class[class], 1, RELAXED);
	if (status == 429)
		atomic_fetch_add_explicit(&st->rate_limited, 1, RELAXED);
	atomic_fetch_add_explicit(&st->latency_us[bucket_of(latency_us)], 1,
				  RELAXED);
	/* 2^64 microseconds is 584,000 years of summed latency. */
	atomic_fetch_add_explicit(&st->latency_sum_us, latency_us, RELAXED);
}

uint64_t stats_percentile_us(const struct stats *st, double pct)
{
	uint64_t counts[STATS_BUCKETS], total = 0, seen = 0, rank;
	double want;
	unsigned int b;

	/* Copy once, so the total and the walk agree with each other. */
	for (b = 0; b < STATS_BUCKETS; b++) {
		counts[b] = atomic_load_explicit(&st->latency_us[b], RELAXED);
		total += counts[b];
	}
	if (total == 0)
		return 0;
	if (pct < 0)
		pct = 0;
	if (pct > 100)
		pct = 100;
	/* The smallest rank with at least pct percent at or below it. */
	want = pct * (double)total / 100.0;
	rank = (uint64_t)want;
	if ((double)rank < want)
		rank++;
	if (rank == 0)
		rank = 1;
	for (b = 0; b < STATS_BUCKETS; b++) {
		seen += counts[b];
		if (seen >= rank)
			break;
	}
	if (b >= STATS_BUCKETS)
		b = STATS_BUCKETS - 1;
	return (uint64_t)1 << b;
}

/* Threads of this process, from /proc/self/status; 0 if unknown. */
static long count_threads(void)
{
	char buf[4096];
	const char *p;
	ssize_t n;
	int fd;

	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	do
		n = read(fd, buf, sizeof(buf) - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "\nThreads:");
	return p ? strtol(p + 9, NULL, 10) : 0;
}

static uint64_t load(const atomic_uint_fast64_t *v)
{
	return atomic_load_explicit(v, RELAXED);
}

int stats_format_json(const struct stats *st, const char *model, char *out,
		      size_t outsz)
{
	int n;

	n = snprintf(
		out, outsz,
		"{\"model\":\"%s\",\"uptime_s\":%lld,\"requests\":%llu,"
		"\"responses\":{\"1xx\":%llu,\"2xx\":%llu,\"3xx\":%llu,"
		"\"4xx\":%llu,\"5xx\":%llu},"
		"\"active_connections\":%lld,\"total_connections\":%llu,"
		"\"latency_us\":{\"p50\":%llu,\"p90\":%llu,\"p99\":%llu},"
		"\"threads\":%ld,\"processes\":%lld,"
		"\"queue_depth\":%lld,\"queue_capacity\":%lld}\n",
		model, (clock_now_ms() - st->started_ms) / 1000,
		(unsigned long long)load(&st->requests),
		(unsigned long long)load(&st->by_class[1]),
		(unsigned long long)load(&st->by_class[2]),
		(unsigned long long)load(&st->by_class[3]),
		(unsigned long long)load(&st->by_class[4]),
		(unsigned long long)load(&st->by_class[5]),
		(long long)atomic_load_explicit(&st->active_conns, RELAXED),
		(unsigned long long)load(&st->total_conns),
		(unsigned long long)stats_percentile_us(st, 50),
		(unsigned long long)stats_percentile_us(st, 90),
		(unsigned long long)stats_percentile_us(st, 99),
		count_threads(),
		(long long)atomic_load_explicit(&st->processes, RELAXED),
		(long long)atomic_load_explicit(&st->queue_depth, RELAXED),
		(long long)atomic_load_explicit(&st->queue_capacity, RELAXED));
	if (n < 0 || (size_t)n >= outsz)
		return -1;
	return n;
}

/* ---- /metrics ---- */

/* A buffer being appended to; full once something did not fit. */
struct text {
	char *p;
	size_t size;
	size_t len;
	bool full;
};

__attribute__((format(printf, 2, 3))) static void put(struct text *t,
						      const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->p + t->len, t->size - t->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->size - t->len) {
		t->full = true;
		return;
	}
	t->len += (size_t)n;
}

static void family(struct text *t, const char *name, const char *type,
		   const char *help)
{
	put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * us microseconds as seconds, exactly: "0.000128", "1.048576", "3".
 * A double would print 2^b microseconds as 1.6e-05 or round them.
 */
static void put_seconds(struct text *t, uint64_t us)
{
	char frac[8];
	int n = snprintf(frac, sizeof(frac), "%06llu",
			 (unsigned long long)(us % 1000000));

	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	put(t, "%llu%s%s", (unsigned long long)(us / 1000000), n ? "." : "",
	    frac);
}

/* A label value: backslash, quote and newline escaped (format 0.0.4). */
static void put_label_value(struct text *t, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\' || *v == '"')
			put(t, "\\%c", *v);
		else if (*v == '\n')
			put(t, "\\n");
		else
			put(t, "%c", *v);
	}
}

static void put_gauge(struct text *t, const char *name, const char *help,
		      long long value)
{
	family(t, name, "gauge", help);
	put(t, "%s %lld\n", name, value);
}

static void put_counter(struct text *t, const char *name, const char *help,
			uint64_t value)
{
	family(t, name, "counter", help);
	put(t, "%s %llu\n", name, (unsigned long long)value);
}

/*
 * LESSON: Prometheus buckets are cumulative - le="0.000128" counts every
 * request that took at most 128 us - while ours count one range each.
 * Summing as we go turns one into the other; the +Inf bucket is the total
 * and must equal _count, so both come from one copy of the counts.
 */
static void put_histogram(struct text *t, const struct stats *st)
{
	static const char name[] = "http_request_duration_seconds";
	uint64_t counts[STATS_BUCKETS], total = 0;
	unsigned int b;

	for (b = 0; b < STATS_BUCKETS; b++)
		counts[b] = load(&st->latency_us[b]);
	family(t, name, "histogram",
	       "From the first byte of a request read to its answer written.");
	for (b = 0; b < STATS_BUCKETS; b++) {
		total += counts[b];
		if (b > STATS_PROM_TOP_BUCKET)
			continue;
		/* Bucket b holds [2^(b-1), 2^b) us: all at most 2^b us. */
		put(t, "%s_bucket{le=\"", name);
		put_seconds(t, (uint64_t)1 << b);
		put(t, "\"} %llu\n", (unsigned long long)total);
	}
	put(t, "%s_bucket{le=\"+Inf\"} %llu\n", name,
	    (unsigned long long)total);
	put(t, "%s_sum ", name);
	put_seconds(t, load(&st->latency_sum_us));
	put(t, "\n%s_count %llu\n", name, (unsigned long long)total);
}

static void put_responses(struct text *t, const struct stats *st)
{
	int c;

	family(t, "http_responses_total", "counter",
	       "Responses sent, by status class.");
	for (c = 1; c <= 5; c++)
		put(t, "http_responses_total{class=\"%dxx\"} %llu\n", c,
		    (unsigned long long)load(&st->by_class[c]));
}

/* A gauge stats keeps as a signed atomic. */
static long long gauge(const atomic_int_fast64_t *v)
{
	return (long long)atomic_load_explicit(v, RELAXED);
}

int stats_format_prometheus(const struct stats *st, const char *model,
			    char *out, size_t outsz)
{
	struct text t = { .p = out, .size = outsz };
	long long capacity = gauge(&st->queue_capacity);

	family(&t, "http_server_info", "gauge",
	       "The model that answered, in its label; always 1.");
	put(&t, "http_server_info{model=\"");
	put_label_value(&t, model);
	put(&t, "\"} 1\n");
	family(&t, "http_server_uptime_seconds", "gauge",
	       "Seconds since the server started.");
	put(&t, "http_server_uptime_seconds ");
	put_seconds(&t, (uint64_t)(clock_now_ms() - st->started_ms) * 1000);
	put(&t, "\n");
	put_counter(&t, "http_requests_total", "Responses sent.",
		    load(&st->requests));
	put_responses(&t, st);
	put_counter(&t, "http_rate_limited_total",
		    "Requests refused by --rate-limit (429).",
		    load(&st->rate_limited));
	put_gauge(&t, "http_connections_open", "Connections being served.",
		  gauge(&st->active_conns));
	put_counter(&t, "http_connections_total", "Connections accepted.",
		    load(&st->total_conns));
	put_gauge(&t, "http_server_threads",
		  "Threads of the process that answered.", count_threads());
	put_gauge(&t, "http_server_processes",
		  "The server and its live children (02).",
		  gauge(&st->processes));
	/*
	 * A model without a queue leaves the queue out: a gauge at 0 would
	 * claim an empty queue that does not exist.
	 */
	if (capacity > 0) {
		put_gauge(&t, "http_server_queue_depth",
			  "Jobs waiting for a worker.",
			  gauge(&st->queue_depth));
		put_gauge(&t, "http_server_queue_capacity",
			  "Jobs the queue holds; one more is a 503.", capacity);
	}
	put_histogram(&t, st);
	if (t.full)
		return -1;
	return (int)t.len;
}
