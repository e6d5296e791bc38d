/*
 * bench_http_parser.c - the CPU a request costs when it arrives in pieces.
 *
 * Not part of any make target: a measurement to run by hand, e.g.
 *
 *   cc -std=c11 -D_GNU_SOURCE -O2 -Icommon -o build/bench_http_parser \
 *      tests/fuzz/bench_http_parser.c common/http_parser.c
 *   build/bench_http_parser
 *
 * It feeds a 7.7 KB head one byte per call, and a chunked body of 1-byte
 * chunks (about 1 MiB on the wire) 300 bytes per call, each with one
 * struct http_parse_state, and prints the process CPU time and the bytes
 * the parser examined.  The cost must grow with the request's length, not
 * with its length times the number of pieces.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_parser.h"

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A head of about 7.7 KB: 40 fields of some 190 bytes each. */
static size_t make_head(char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap,
				    "GET /bench HTTP/1.1\r\n"
				    "Host: bench\r\n");
	int i;

	for (i = 0; i < 40; i++) {
		n += (size_t)snprintf(buf + n, cap - n, "X-Field-%02d: ", i);
		memset(buf + n, 'v', 175);
		n += 175;
		n += (size_t)snprintf(buf + n, cap - n, "\r\n");
	}
	n += (size_t)snprintf(buf + n, cap - n, "\r\n");
	return n;
}

/* POST with a chunked body of 1-byte chunks, about 1 MiB on the wire. */
static size_t make_chunked(char *buf, size_t cap)
{
	size_t n = (size_t)snprintf(buf, cap,
				    "POST /bench HTTP/1.1\r\n"
				    "Host: bench\r\n"
				    "Transfer-Encoding: chunked\r\n\r\n");
	size_t i;

	for (i = 0; i < 174000; i++) {
		memcpy(buf + n, "1\r\nx\r\n", 6);
		n += 6;
	}
	memcpy(buf + n, "0\r\n\r\n", 5);
	return n + 5;
}

/* Feeds buf[0..n) step bytes more per call; returns the final answer. */
static ssize_t feed(char *buf, size_t n, size_t step, const char *what)
{
	struct http_parse_state st;
	struct http_request req;
	double t0 = cpu_seconds();
	size_t len = 0;
	ssize_t rc;

	http_parse_state_init(&st);
	do {
		len = len + step < n ? len + step : n;
		rc = http_parse_request(buf, len, NULL, &req, &st);
	} while (rc == HTTP_INCOMPLETE && len < n);
	printf("%-34s %8zu bytes  %9.6f s CPU  examined %zu\n", what, n,
	       cpu_seconds() - t0, st.examined);
	return rc;
}

int main(void)
{
	size_t cap = 2 * 1024 * 1024, n;
	char *buf = malloc(cap);

	if (buf == NULL)
		return 1;
	n = make_head(buf, cap);
	if (feed(buf, n, n, "head, one call") != (ssize_t)n ||
	    feed(buf, n, 1, "head, 1 byte per call") != (ssize_t)n)
		return 1;
	n = make_chunked(buf, cap);
	if (feed(buf, n, n, "1-byte chunks, one call") != (ssize_t)n)
		return 1;
	n = make_chunked(buf, cap);
	if (feed(buf, n, 300, "1-byte chunks, 300 bytes per call") !=
	    (ssize_t)n)
		return 1;
	free(buf);
	return 0;
}
