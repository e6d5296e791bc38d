/*
 * bench_parser.c - the project's request parser against picohttpparser
 * and the nodejs http-parser, on three whole requests.
 *
 *   make bench-parser                 (pinned to one CPU if taskset exists)
 *   build/bench-parser [RUNS [WHICH]]
 *
 * RUNS: 1 to 99, default 7.  WHICH: ours, pico or nodejs to time only that
 * parser, for a profile of it alone (perf record build/bench-parser 7 ours).
 *
 * For each parser and request it first checks that the parser accepts the
 * request and takes all of its bytes, then times RUNS runs of enough
 * iterations to take about 50 ms of CPU each, and prints the median run
 * as nanoseconds per request and megabytes (10^6 bytes) of request per
 * second, as a Markdown table.  The bench measures; it never judges: it
 * exits 0 whatever the figures are, and 1 only if a parser refuses a
 * request or the arguments are wrong.
 *
 * The requests are parsed from scratch each time, as a server parses one
 * that arrived in a single read.  They sit in a buffer of their exact size
 * so that each parser reads the same bytes; none has a body.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "parsers.h"

#define MAX_RUNS 99
#define RUN_NS 50000000.0 /* about 50 ms of CPU per run */

struct parser {
	const char *which; /* its name on the command line */
	const char *name;
	ssize_t (*parse)(char *buf, size_t len);
};

static const struct parser parsers[] = {
	{ "ours", "this project", bench_parse_ours },
	{ "pico", "picohttpparser (libh2o)", bench_parse_pico },
	{ "nodejs", "nodejs http-parser", bench_parse_nodejs },
};

#define NUM_PARSERS (sizeof(parsers) / sizeof(parsers[0]))

struct request {
	const char *name;
	char *buf;
	size_t len;
};

/* What wrk sends: the smallest realistic request. */
static const char wrk_request[] = "GET /index.html HTTP/1.1\r\n"
				  "Host: localhost:8080\r\n"
				  "\r\n";

/* What a desktop Chrome sends for a page, in 518 bytes. */
static const char browser_request[] =
	"GET /docs/index.html?v=2 HTTP/1.1\r\n"
	"Host: localhost:8080\r\n"
	"Connection: keep-alive\r\n"
	"sec-ch-ua: \"Chromium\";v=\"120\", \"Not?A_Brand\";v=\"24\"\r\n"
	"sec-ch-ua-platform: \"Linux\"\r\n"
	"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
	"(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
	"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
	"image/avif,image/webp,*/*;q=0.8\r\n"
	"Sec-Fetch-Site: none\r\n"
	"Sec-Fetch-Mode: navigate\r\n"
	"Sec-Fetch-Dest: document\r\n"
	"Accept-Encoding: gzip, deflate, br\r\n"
	"Accept-Language: en-US,en;q=0.9\r\n"
	"\r\n";

/* A request with 40 header fields (Host and 39 more), made at start-up. */
static size_t make_many_headers(char *buf, size_t cap)
{
	size_t n;
	int i;

	n = (size_t)snprintf(buf, cap,
			     "GET /api/items?page=2 HTTP/1.1\r\n"
			     "Host: localhost:8080\r\n");
	for (i = 1; i < 40 && n < cap; i++)
		n += (size_t)snprintf(buf + n, cap - n,
				      "X-Request-Field-%02d: value-%02d, "
				      "some=text; q=0.%d\r\n",
				      i, i, i % 10);
	if (n < cap)
		n += (size_t)snprintf(buf + n, cap - n, "\r\n");
	return n < cap ? n : 0;
}

/* A heap copy of exactly len bytes: a parser that reads past it is wrong. */
static int set_request(struct request *r, const char *name, const char *src,
		       size_t len)
{
	r->name = name;
	r->len = len;
	r->buf = malloc(len);
	if (r->buf == NULL || len == 0)
		return -1;
	memcpy(r->buf, src, len);
	return 0;
}

/*
 * The thread's CPU time, not the wall clock: on a shared machine the time
 * the scheduler gives to other processes is not the parser's.
 */
static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per request over n calls; -1 if a call refused the request. */
static double time_calls(const struct parser *p, const struct request *r,
			 long n)
{
	double t0 = now_ns();
	long i;

	for (i = 0; i < n; i++)
		if (p->parse(r->buf, r->len) != (ssize_t)r->len)
			return -1;
	return (now_ns() - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Fills ns[i] with the median ns per request on r of each parser i that
 * is on.  A short first run per parser warms the caches and sizes its runs
 * to about RUN_NS each.  The runs take turns (parser 0, 1, 2, then 0
 * again, ...), so a slow spell of the machine falls on all three parsers,
 * not on one.
 */
static int measure(const struct request *r, int runs, const bool *on,
		   double *ns)
{
	double t[NUM_PARSERS][MAX_RUNS], warm;
	long n[NUM_PARSERS];
	size_t i;
	int k;

	for (i = 0; i < NUM_PARSERS; i++) {
		if (!on[i])
			continue;
		warm = time_calls(&parsers[i], r, 20000);
		if (warm <= 0)
			return -1;
		n[i] = (long)(RUN_NS / warm) + 1;
	}
	for (k = 0; k < runs; k++)
		for (i = 0; i < NUM_PARSERS; i++)
			if (on[i])
				t[i][k] = time_calls(&parsers[i], r, n[i]);
	for (i = 0; i < NUM_PARSERS; i++) {
		if (!on[i])
			continue;
		qsort(t[i], (size_t)runs, sizeof(t[i][0]), cmp_double);
		ns[i] = t[i][runs / 2];
	}
	return 0;
}

/* Turns on the parser named which, or all of them for NULL. */
static bool pick(const char *which, bool *on)
{
	bool found = false;
	size_t i;

	for (i = 0; i < NUM_PARSERS; i++) {
		on[i] = which == NULL || strcmp(which, parsers[i].which) == 0;
		found = found || on[i];
	}
	return found;
}

int main(int argc, char **argv)
{
	struct request reqs[3];
	char many[4096];
	size_t many_len = make_many_headers(many, sizeof(many));
	int runs = argc > 1 ? atoi(argv[1]) : 7;
	double ns[NUM_PARSERS];
	bool on[NUM_PARSERS];
	size_t i, j;

	if (argc > 3 || runs < 1 || runs > MAX_RUNS ||
	    !pick(argc > 2 ? argv[2] : NULL, on)) {
		fprintf(stderr,
			"usage: %s [RUNS [WHICH]]\n"
			"  RUNS   runs per figure, 1 to %d (default 7)\n"
			"  WHICH  ours, pico or nodejs: time only that one\n",
			argv[0], MAX_RUNS);
		return 1;
	}
	if (set_request(&reqs[0], "wrk", wrk_request,
			sizeof(wrk_request) - 1) != 0 ||
	    set_request(&reqs[1], "browser", browser_request,
			sizeof(browser_request) - 1) != 0 ||
	    set_request(&reqs[2], "40 headers", many, many_len) != 0) {
		fprintf(stderr, "bench-parser: out of memory\n");
		return 1;
	}
	for (i = 0; i < NUM_PARSERS; i++)
		for (j = 0; j < 3; j++)
			if (parsers[i].parse(reqs[j].buf, reqs[j].len) !=
			    (ssize_t)reqs[j].len) {
				fprintf(stderr,
					"bench-parser: %s refuses the "
					"%s request\n",
					parsers[i].name, reqs[j].name);
				return 1;
			}
	printf("| parser | request | bytes | ns/request | MB/s |\n");
	printf("|---|---|---:|---:|---:|\n");
	for (j = 0; j < 3; j++) {
		if (measure(&reqs[j], runs, on, ns) != 0)
			return 1;
		for (i = 0; i < NUM_PARSERS; i++)
			if (on[i])
				printf("| %s | %s | %zu | %.0f | %.0f |\n",
				       parsers[i].name, reqs[j].name,
				       reqs[j].len, ns[i],
				       (double)reqs[j].len / ns[i] * 1e3);
		fflush(stdout);
	}
	for (j = 0; j < 3; j++)
		free(reqs[j].buf);
	return 0;
}
