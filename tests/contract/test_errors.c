/*
 * test_errors.c - the "errors" group: malformed and over-limit requests.
 *
 * Every case goes through expect_error(): the server answers with the
 * status the RFC asks for and "Connection: close", closes the connection
 * (RFC 9112 section 9.6: after an error it cannot trust the framing), and
 * goes on serving the next client.
 */
#include "contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOST "Host: contract\r\n"

static int port(void)
{
	return shared_server()->port;
}

/*
 * Sends len bytes of request and expects status, a close and a healthy
 * server.  The send may fail half-way: a server may answer and close as
 * soon as it has seen enough (a 414 does not wait for the rest).
 */
static void expect_error_n(const char *req, size_t len, int status,
			   const char *what)
{
	struct client *c = open_or_fail(port());
	struct reply r;

	client_send(c, req, len);
	read_reply_or_fail(c, &r, false, what);
	assert_status(&r, status, what);
	if (!reply_header_has_token(&r, "Connection", "close"))
		fail_msg("%s: the %d lacks \"Connection: close\":\n%s", what,
			 status, r.head);
	reply_free(&r);
	assert_closes(c, what);
	client_close(c);
	assert_server_serves(port(), what);
}

static void expect_error(const char *req, int status, const char *what)
{
	expect_error_n(req, strlen(req), status, what);
}

/* RFC 9112 section 3: a request line that is not method SP target SP
 * version is a 400. */
static void bad_request_line_400(void **state)
{
	(void)state;
	expect_error("G(T / HTTP/1.1\r\n" HOST "\r\n", 400,
		     "a method that is not a token");
	expect_error("GET / HTTX/1.1\r\n" HOST "\r\n", 400,
		     "a version that is not HTTP-version");
	expect_error("GET /\r\n" HOST "\r\n", 400,
		     "a request line without "
		     "a version");
	expect_error("\x16\x03\x01\x02\x00garbage\r\n\r\n", 400,
		     "binary garbage (TLS on the HTTP port)");
}

/*
 * RFC 9112 section 5: a field line without a colon is malformed; section
 * 5.1: whitespace between the field name and the colon MUST be a 400.
 */
static void bad_header_line_400(void **state)
{
	(void)state;
	expect_error("GET / HTTP/1.1\r\n" HOST "NoColonHere\r\n\r\n", 400,
		     "a field line without a colon");
	expect_error("GET / HTTP/1.1\r\nHost : contract\r\n\r\n", 400,
		     "whitespace before the colon");
}

/*
 * RFC 9112 section 3.2: an HTTP/1.1 request without Host, or with two,
 * MUST be answered 400.
 */
static void missing_host_400(void **state)
{
	(void)state;
	expect_error("GET / HTTP/1.1\r\n\r\n", 400, "HTTP/1.1 without Host");
	expect_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
		     "two Host fields");
}

/*
 * RFC 9112 section 6.1: Content-Length with Transfer-Encoding is a
 * smuggling attempt; this server rejects it (the RFC allows that) and
 * MUST close the connection afterwards.
 */
static void length_and_chunked_400(void **state)
{
	(void)state;
	expect_error("POST /api/echo HTTP/1.1\r\n" HOST
		     "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
		     "5\r\nhello\r\n0\r\n\r\n",
		     400, "both Content-Length and Transfer-Encoding");
}

/*
 * RFC 9112 section 6.3 rule 4: a Transfer-Encoding whose final coding is
 * not chunked leaves the body's length unknown: 400 and close.
 */
static void chunked_not_final_400(void **state)
{
	(void)state;
	expect_error("POST /api/echo HTTP/1.1\r\n" HOST
		     "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
		     400, "Transfer-Encoding: chunked, gzip");
	expect_error("POST /api/echo HTTP/1.1\r\n" HOST
		     "Transfer-Encoding: gzip\r\n\r\nabc",
		     400, "Transfer-Encoding: gzip");
}

/*
 * RFC 9112 section 6.3 rule 5: an invalid Content-Length (not digits, or
 * differing values) is unrecoverable: 400 and close.
 */
static void bad_content_length_400(void **state)
{
	(void)state;
	expect_error("POST /api/echo HTTP/1.1\r\n" HOST
		     "Content-Length: abc\r\n\r\n",
		     400, "Content-Length: abc");
	expect_error("POST /api/echo HTTP/1.1\r\n" HOST
		     "Content-Length: -1\r\n\r\n",
		     400, "Content-Length: -1");
	expect_error("POST /api/echo HTTP/1.1\r\n" HOST
		     "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		     400, "two different Content-Length values");
}

/*
 * RFC 9110 section 15.5.14: a body over the limit is a 413.  A declared
 * length is refused from the head alone, before any of the body is sent
 * (the suite sends none, so a server waiting for it times the test out).
 */
static void body_too_large_413(void **state)
{
	static const char chunk_head[] = "POST /api/echo HTTP/1.1\r\n" HOST
					 "Transfer-Encoding: chunked\r\n\r\n";
	const size_t data = SUITE_MAX_BODY + 4096;
	char req[256];
	char *big;
	size_t n;

	(void)state;
	snprintf(req, sizeof(req),
		 "POST /api/echo HTTP/1.1\r\n" HOST
		 "Content-Length: %d\r\n\r\n",
		 SUITE_MAX_BODY + 1);
	expect_error(req, 413, "Content-Length over --max-body");

	/* The same limit holds for a chunked body, whose size is unknown
	 * until the chunks arrive. */
	big = malloc(sizeof(chunk_head) + 32 + data);
	assert_non_null(big);
	n = (size_t)sprintf(big, "%s%zx\r\n", chunk_head, data);
	memset(big + n, 'x', data);
	n += data;
	n += (size_t)sprintf(big + n, "\r\n0\r\n\r\n");
	expect_error_n(big, n, 413, "a chunked body over --max-body");
	free(big);
}

/* Builds a request whose target or one header is 20 KiB long. */
static char *long_request(bool long_target)
{
	const size_t fill = 20 * 1024;
	char *req = malloc(fill + 256);
	size_t n;

	assert_non_null(req);
	n = (size_t)sprintf(req, "GET /");
	if (long_target) {
		memset(req + n, 'a', fill);
		n += fill;
	}
	n += (size_t)sprintf(req + n, " HTTP/1.1\r\n" HOST);
	if (!long_target) {
		n += (size_t)sprintf(req + n, "X-Long: ");
		memset(req + n, 'b', fill);
		n += fill;
		n += (size_t)sprintf(req + n, "\r\n");
	}
	sprintf(req + n, "\r\n");
	return req;
}

/* RFC 9110 section 15.5.15: a target longer than the server will
 * interpret is a 414. */
static void uri_too_long_414(void **state)
{
	char *req = long_request(true);

	(void)state;
	expect_error(req, 414, "a 20 KiB request target");
	free(req);
}

/*
 * RFC 6585 section 5: too many header fields, or one too large, is a 431
 * (RFC 9112 section 2.3 lets a server limit them).
 */
static void headers_too_large_431(void **state)
{
	char *req = long_request(false);
	size_t n, i;

	(void)state;
	expect_error(req, 431, "a 20 KiB header field");
	free(req);

	req = malloc(100 * 32 + 128);
	assert_non_null(req);
	n = (size_t)sprintf(req, "GET / HTTP/1.1\r\n" HOST);
	for (i = 0; i < 100; i++)
		n += (size_t)sprintf(req + n, "X-Field-%zu: %zu\r\n", i, i);
	sprintf(req + n, "\r\n");
	expect_error(req, 431, "100 header fields");
	free(req);
}

/* RFC 9110 section 15.6.2: an unknown method is a 501. */
static void unknown_method_501(void **state)
{
	(void)state;
	expect_error("BREW / HTTP/1.1\r\n" HOST "\r\n", 501, "the method BREW");
}

/* RFC 9110 section 15.6.6: a major version not supported is a 505. */
static void version_505(void **state)
{
	(void)state;
	expect_error("GET / HTTP/2.0\r\n" HOST "\r\n", 505, "HTTP/2.0");
	expect_error("GET / HTTP/3.1\r\n" HOST "\r\n", 505, "HTTP/3.1");
}

int run_error_tests(void)
{
	/* One test a line, in the order they run. */
	/* clang-format off */
	static const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_teardown(f, shared_test_teardown)
		T(bad_request_line_400),
		T(bad_header_line_400),
		T(missing_host_400),
		T(length_and_chunked_400),
		T(chunked_not_final_400),
		T(bad_content_length_400),
		T(body_too_large_413),
		T(uri_too_long_414),
		T(headers_too_large_431),
		T(unknown_method_501),
		T(version_505),
#undef T
	};
	/* clang-format on */

	return run_group("errors", tests, ARRAY_SIZE(tests), shared_server_up,
			 NULL);
}
