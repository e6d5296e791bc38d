/*
 * test_ranges.c - the "ranges" group: byte range requests on static files
 * (RFC 9110 section 14, common/range.h), against the shared server.
 *
 * small.txt (DOC_SMALL_LEN bytes) comes from the file cache's memory and
 * big.bin (DOC_BIG_LEN) through sendfile from an offset, so both ways of
 * sending a part are checked.  Every body is compared, byte by byte, with
 * what the suite wrote into the file (doc_byte).
 */
#include "contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST "Host: contract\r\n"
#define CLOSE "Connection: close\r\n"

static int port(void)
{
	return shared_server()->port;
}

/* One request with extra header lines on a new connection. */
static void ask(const char *method, const char *path, const char *headers,
		struct reply *r)
{
	struct client *c = open_or_fail(port());
	char req[1024];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\n" HOST CLOSE "%s\r\n",
		 method, path, headers);
	send_or_fail(c, req);
	read_reply_or_fail(c, r, strcmp(method, "HEAD") == 0, req);
	client_close(c);
}

static void assert_header(const struct reply *r, const char *name,
			  const char *want)
{
	const char *v = header_or_fail(r, name);

	if (strcmp(v, want) != 0)
		fail_msg("%s: \"%s\", expected \"%s\"; the head was:\n%s", name,
			 v, want, r->head);
}

static void assert_no_header(const struct reply *r, const char *name)
{
	if (reply_header(r, name) != NULL)
		fail_msg("unexpected %s; the head was:\n%s", name, r->head);
}

/* Fails unless r's body is bytes [first, first + len) of the file. */
static void assert_part(const struct reply *r, size_t first, size_t len)
{
	const char *cl = header_or_fail(r, "Content-Length");
	size_t i;

	if (strtoull(cl, NULL, 10) != len || r->body_len != len)
		fail_msg("Content-Length %s and %zu body bytes, expected %zu",
			 cl, r->body_len, len);
	for (i = 0; i < len; i++)
		if ((unsigned char)r->body[i] != doc_byte(first + i))
			fail_msg("body byte %zu is not file byte %zu", i,
				 first + i);
}

/* Fails unless r is a 206 of [first, last] of a size-byte file. */
static void assert_206(const struct reply *r, size_t first, size_t last,
		       size_t size, const char *what)
{
	char want[96];

	assert_status(r, 206, what);
	snprintf(want, sizeof(want), "bytes %zu-%zu/%zu", first, last, size);
	assert_header(r, "Content-Range", want);
	assert_header(r, "Accept-Ranges", "bytes");
	header_or_fail(r, "ETag");
	header_or_fail(r, "Last-Modified");
	assert_part(r, first, last - first + 1);
}

/* Fails unless r is a 200 of the whole size-byte file, not a part. */
static void assert_whole(const struct reply *r, size_t size, const char *what)
{
	assert_status(r, 200, what);
	assert_header(r, "Accept-Ranges", "bytes");
	assert_no_header(r, "Content-Range");
	assert_part(r, 0, size);
}

/* RFC 9110 section 14.3: a file says it takes byte ranges. */
static void accept_ranges_on_200(void **state)
{
	struct reply r;

	(void)state;
	ask("GET", "/small.txt", "", &r);
	assert_whole(&r, DOC_SMALL_LEN, "GET /small.txt");
	reply_free(&r);
	ask("HEAD", "/big.bin", "", &r);
	assert_status(&r, 200, "HEAD /big.bin");
	assert_header(&r, "Accept-Ranges", "bytes");
	reply_free(&r);
}

/* 14.1.2 and 15.3.7: first-last of a file served from memory. */
static void range_of_small_file(void **state)
{
	struct reply r;

	(void)state;
	ask("GET", "/small.txt", "Range: bytes=100-199\r\n", &r);
	assert_206(&r, 100, 199, DOC_SMALL_LEN, "bytes=100-199");
	reply_free(&r);
	ask("GET", "/small.txt", "Range: bytes=0-0\r\n", &r);
	assert_206(&r, 0, 0, DOC_SMALL_LEN, "bytes=0-0");
	reply_free(&r);
	/* A last-pos past the end is clamped to it. */
	ask("GET", "/small.txt", "Range: bytes=1000-99999\r\n", &r);
	assert_206(&r, 1000, DOC_SMALL_LEN - 1, DOC_SMALL_LEN,
		   "bytes=1000-99999");
	reply_free(&r);
}

/* The same through sendfile from an offset, several on one connection. */
static void range_of_big_file(void **state)
{
	static const size_t parts[][2] = {
		{ 1000000, 1099999 },
		{ 1, 1 },
		{ 65535, 65536 + 4096 },
		{ DOC_BIG_LEN - 4096, DOC_BIG_LEN - 1 },
	};
	struct client *c = open_or_fail(port());
	struct reply r;
	char req[256];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(parts); i++) {
		snprintf(req, sizeof(req),
			 "GET /big.bin HTTP/1.1\r\n" HOST
			 "Range: bytes=%zu-%zu\r\n\r\n",
			 parts[i][0], parts[i][1]);
		send_or_fail(c, req);
		read_reply_or_fail(c, &r, false, req);
		assert_206(&r, parts[i][0], parts[i][1], DOC_BIG_LEN, req);
		reply_free(&r);
	}
	client_close(c);
}

/* "-N": the last N bytes; a suffix longer than the file is all of it. */
static void suffix_range(void **state)
{
	struct reply r;

	(void)state;
	ask("GET", "/big.bin", "Range: bytes=-100\r\n", &r);
	assert_206(&r, DOC_BIG_LEN - 100, DOC_BIG_LEN - 1, DOC_BIG_LEN,
		   "bytes=-100");
	reply_free(&r);
	ask("GET", "/small.txt", "Range: bytes=-5000\r\n", &r);
	assert_206(&r, 0, DOC_SMALL_LEN - 1, DOC_SMALL_LEN, "bytes=-5000");
	reply_free(&r);
}

/* "N-": from N to the end. */
static void open_ended_range(void **state)
{
	struct reply r;

	(void)state;
	ask("GET", "/small.txt", "Range: bytes=1000-\r\n", &r);
	assert_206(&r, 1000, DOC_SMALL_LEN - 1, DOC_SMALL_LEN, "bytes=1000-");
	reply_free(&r);
	ask("GET", "/big.bin", "Range: bytes=2000000-\r\n", &r);
	assert_206(&r, 2000000, DOC_BIG_LEN - 1, DOC_BIG_LEN, "bytes=2000000-");
	reply_free(&r);
}

/*
 * 15.5.17: nothing of the file in the range is a 416 that names the size;
 * the connection goes on (the 416 is well framed).
 */
static void unsatisfiable_416(void **state)
{
	static const char *const cases[][2] = {
		{ "/small.txt", "bytes=1024-" },
		{ "/small.txt", "bytes=5000-6000" },
		{ "/big.bin", "bytes=2097152-" },
		{ "/big.bin", "bytes=-0" },
	};
	struct client *c = open_or_fail(port());
	struct reply r;
	char req[256], want[64];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\n" HOST "Range: %s\r\n\r\n",
			 cases[i][0], cases[i][1]);
		send_or_fail(c, req);
		read_reply_or_fail(c, &r, false, req);
		assert_status(&r, 416, req);
		snprintf(want, sizeof(want), "bytes */%d",
			 strcmp(cases[i][0], "/big.bin") == 0 ? DOC_BIG_LEN
							      : DOC_SMALL_LEN);
		assert_header(&r, "Content-Range", want);
		reply_free(&r);
	}
	send_or_fail(c, "GET /small.txt HTTP/1.1\r\n" HOST CLOSE "\r\n");
	read_reply_or_fail(c, &r, false, "GET after the 416s");
	assert_whole(&r, DOC_SMALL_LEN, "GET after the 416s");
	reply_free(&r);
	client_close(c);
}

/* 14.2: an invalid Range, or another unit, is ignored: a 200. */
static void invalid_range_ignored(void **state)
{
	static const char *const values[] = {
		"bytes=5-1", "bytes=abc", "bytes= 0-1", "items=0-1", "bytes=",
	};
	struct reply r;
	char headers[128];
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(values); i++) {
		snprintf(headers, sizeof(headers), "Range: %s\r\n", values[i]);
		ask("GET", "/small.txt", headers, &r);
		assert_whole(&r, DOC_SMALL_LEN, values[i]);
		reply_free(&r);
	}
}

/* Several ranges: the whole file, never multipart/byteranges. */
static void multiple_ranges_200(void **state)
{
	struct reply r;

	(void)state;
	ask("GET", "/small.txt", "Range: bytes=0-1,5-6\r\n", &r);
	assert_whole(&r, DOC_SMALL_LEN, "bytes=0-1,5-6");
	reply_free(&r);
	ask("GET", "/big.bin", "Range: bytes=0-,0-,0-,0-,0-,0-\r\n", &r);
	assert_whole(&r, DOC_BIG_LEN, "bytes=0-,0-,0-,0-,0-,0-");
	if (strstr(header_or_fail(&r, "Content-Type"), "multipart") != NULL)
		fail_msg("a multipart answer:\n%s", r.head);
	reply_free(&r);
}

/* 13.1.5: If-Range with the ETag lets the range through; else all. */
static void if_range_etag(void **state)
{
	static const char *const paths[] = { "/small.txt", "/big.bin" };
	struct reply r;
	char headers[256], etag[128];
	size_t i, size;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		size = i == 0 ? DOC_SMALL_LEN : DOC_BIG_LEN;
		ask("HEAD", paths[i], "", &r);
		snprintf(etag, sizeof(etag), "%s", header_or_fail(&r, "ETag"));
		reply_free(&r);

		snprintf(headers, sizeof(headers),
			 "Range: bytes=10-20\r\nIf-Range: %s\r\n", etag);
		ask("GET", paths[i], headers, &r);
		assert_206(&r, 10, 20, size, "If-Range with the ETag");
		reply_free(&r);

		ask("GET", paths[i],
		    "Range: bytes=10-20\r\nIf-Range: \"not-the-etag\"\r\n", &r);
		assert_whole(&r, size, "If-Range with another ETag");
		reply_free(&r);

		snprintf(headers, sizeof(headers),
			 "Range: bytes=10-20\r\nIf-Range: W/%s\r\n", etag);
		ask("GET", paths[i], headers, &r);
		assert_whole(&r, size, "If-Range with the weak ETag");
		reply_free(&r);

		/* We do not compare dates: always the whole file. */
		ask("GET", paths[i],
		    "Range: bytes=10-20\r\n"
		    "If-Range: Wed, 01 Jan 2020 00:00:00 GMT\r\n",
		    &r);
		assert_whole(&r, size, "If-Range with a date");
		reply_free(&r);
	}
}

/*
 * 14.2: Range is only for GET, so HEAD with a Range gets the head of the
 * whole file; the next request on the connection shows no body was sent.
 */
static void head_ignores_range(void **state)
{
	struct client *c = open_or_fail(port());
	struct reply r;
	char want[32];

	(void)state;
	send_or_fail(c, "HEAD /big.bin HTTP/1.1\r\n" HOST
			"Range: bytes=0-9\r\n\r\n");
	read_reply_or_fail(c, &r, true, "HEAD with Range");
	assert_status(&r, 200, "HEAD with Range");
	snprintf(want, sizeof(want), "%d", DOC_BIG_LEN);
	assert_header(&r, "Content-Length", want);
	assert_header(&r, "Accept-Ranges", "bytes");
	assert_no_header(&r, "Content-Range");
	reply_free(&r);
	send_or_fail(c, "GET /small.txt HTTP/1.1\r\n" HOST CLOSE
			"Range: bytes=1-2\r\n\r\n");
	read_reply_or_fail(c, &r, false, "GET after HEAD with Range");
	assert_206(&r, 1, 2, DOC_SMALL_LEN, "GET after HEAD with Range");
	reply_free(&r);
	client_close(c);
}

/* 13.2.2: If-None-Match is evaluated before Range: a 304 wins. */
static void not_modified_before_range(void **state)
{
	struct reply r;
	char headers[256];

	(void)state;
	ask("HEAD", "/small.txt", "", &r);
	snprintf(headers, sizeof(headers),
		 "If-None-Match: %s\r\nRange: bytes=0-9\r\n",
		 header_or_fail(&r, "ETag"));
	reply_free(&r);
	ask("GET", "/small.txt", headers, &r);
	assert_status(&r, 304, "If-None-Match and Range");
	assert_no_header(&r, "Content-Range");
	reply_free(&r);
}

int run_range_tests(void)
{
	/* One test a line, in the order they run. */
	/* clang-format off */
	static const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_teardown(f, shared_test_teardown)
		T(accept_ranges_on_200),
		T(range_of_small_file),
		T(range_of_big_file),
		T(suffix_range),
		T(open_ended_range),
		T(unsatisfiable_416),
		T(invalid_range_ignored),
		T(multiple_ranges_200),
		T(if_range_etag),
		T(head_ignores_range),
		T(not_modified_before_range),
#undef T
	};
	/* clang-format on */

	return run_group("ranges", tests, ARRAY_SIZE(tests), shared_server_up,
			 NULL);
}
