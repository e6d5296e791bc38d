/*
 * test_response.c - the status line and headers resp_finish() writes, what
 * HEAD, 204 and 304 leave out, error pages, header injection.  The Date
 * header's format and cache are test_http_date.c's.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "http_parser.h"
#include "response.h"

/* Parses a literal request held in buf (which must outlive req). */
static void parse(char *buf, struct http_request *req)
{
	struct http_limits lim;

	http_limits_init(&lim);
	assert_int_equal(http_parse_request(buf, strlen(buf), &lim, req, NULL),
			 (ssize_t)strlen(buf));
}

/* The head as a C string, for strstr. */
static const char *head_of(struct response *r)
{
	static char s[RESP_HEAD_MAX + 1];

	memcpy(s, r->head, r->head_len);
	s[r->head_len] = '\0';
	return s;
}

static void test_init_is_empty_200(void **state)
{
	struct response r;

	(void)state;
	resp_init(&r);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.file_fd, -1);
	assert_int_equal(r.body_len, 0);
	assert_int_equal(r.extra_len, 0);
	assert_null(r.content_type);
	assert_false(r.head_only);
}

static void test_finish_writes_every_header(void **state)
{
	char buf[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_request req;
	struct response r;
	const char *h;

	(void)state;
	parse(buf, &req);
	resp_init(&r);
	r.content_type = "text/plain";
	assert_int_equal(resp_printf(&r, "hello"), 0);
	assert_int_equal(resp_add_header(&r, "X-Test", "%d", 42), 0);
	assert_int_equal(resp_finish(&r, &req), 0);
	h = head_of(&r);
	assert_true(strncmp(h, "HTTP/1.1 200 OK\r\n", 17) == 0);
	assert_non_null(strstr(h, "\r\nDate: "));
	assert_non_null(strstr(h, " GMT\r\n"));
	assert_non_null(strstr(h, "\r\nServer: concurrency-servers\r\n"));
	assert_non_null(strstr(h, "\r\nContent-Type: text/plain\r\n"));
	assert_non_null(strstr(h, "\r\nContent-Length: 5\r\n"));
	assert_non_null(strstr(h, "\r\nConnection: keep-alive\r\n"));
	assert_non_null(strstr(h, "\r\nX-Content-Type-Options: nosniff\r\n"));
	assert_non_null(strstr(h, "\r\nX-Frame-Options: DENY\r\n"));
	assert_non_null(strstr(h, "\r\nReferrer-Policy: no-referrer\r\n"));
	assert_non_null(strstr(h, "\r\nContent-Security-Policy: default-src "
				  "'self'; frame-ancestors 'none'; "
				  "base-uri 'none'; form-action 'self'\r\n"));
	assert_non_null(strstr(h, "\r\nX-Test: 42\r\n"));
	/* The blank line ends the head, and only there. */
	assert_non_null(strstr(h, "\r\n\r\n"));
	assert_int_equal(strstr(h, "\r\n\r\n") + 4 - h, r.head_len);
	assert_int_equal(r.body_len, 5);
	assert_memory_equal(r.body, "hello", 5);
	assert_int_equal(resp_body_bytes(&r), 5);
}

static void test_connection_close(void **state)
{
	struct response r;

	(void)state;
	resp_init(&r);
	r.keep_alive = false;
	resp_finish(&r, NULL);
	assert_non_null(strstr(head_of(&r), "\r\nConnection: close\r\n"));
	assert_non_null(strstr(head_of(&r), "\r\nContent-Length: 0\r\n"));
	assert_null(strstr(head_of(&r), "\r\nContent-Type:"));
}

static void test_head_keeps_length_drops_body(void **state)
{
	char buf[] = "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_request req;
	struct response r;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	assert_true(fd >= 0);
	parse(buf, &req);
	resp_init(&r);
	resp_printf(&r, "abc");
	resp_set_file(&r, fd, 0, 1000);
	resp_finish(&r, &req);
	assert_true(r.head_only);
	assert_non_null(strstr(head_of(&r), "\r\nContent-Length: 1003\r\n"));
	assert_int_equal(resp_body_bytes(&r), 0);
	assert_int_equal(r.body_len, 0);
	assert_int_equal(r.file_len, 0);
	/* The response owned the file and has closed it. */
	assert_int_equal(r.file_fd, -1);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
	assert_int_equal(errno, EBADF);
}

static void test_304_and_204_have_no_body(void **state)
{
	static const int statuses[] = { 204, 304 };
	struct response r;
	size_t i;

	(void)state;
	for (i = 0; i < 2; i++) {
		resp_init(&r);
		r.status = statuses[i];
		r.content_type = "text/html";
		resp_printf(&r, "must not be sent");
		resp_finish(&r, NULL);
		assert_null(strstr(head_of(&r), "\r\nContent-Length:"));
		assert_null(strstr(head_of(&r), "\r\nContent-Type:"));
		assert_int_equal(resp_body_bytes(&r), 0);
	}
	assert_non_null(strstr(head_of(&r), "HTTP/1.1 304 Not Modified\r\n"));
}

static void test_interim_is_status_line_only(void **state)
{
	struct response r;

	(void)state;
	resp_init(&r);
	r.status = 100;
	resp_finish(&r, NULL);
	assert_string_equal(head_of(&r), "HTTP/1.1 100 Continue\r\n\r\n");
}

static void test_error_page(void **state)
{
	struct response r;
	char body[RESP_BODY_MAX + 1];

	(void)state;
	resp_init(&r);
	resp_add_header(&r, "ETag", "\"x\"");
	resp_error(&r, 404);
	assert_int_equal(r.status, 404);
	assert_false(r.keep_alive);
	assert_int_equal(r.extra_len, 0);
	memcpy(body, r.body, r.body_len);
	body[r.body_len] = '\0';
	assert_non_null(strstr(body, "<title>404 Not Found</title>"));
	assert_non_null(strstr(body, "<h1>404 Not Found</h1>"));
	resp_finish(&r, NULL);
	assert_non_null(strstr(head_of(&r), "HTTP/1.1 404 Not Found\r\n"));
	assert_non_null(strstr(head_of(&r), "\r\nConnection: close\r\n"));
	assert_non_null(strstr(head_of(&r), "text/html"));
}

static void test_add_header_refuses_crlf_and_overflow(void **state)
{
	struct response r;
	char big[RESP_EXTRA_MAX];

	(void)state;
	resp_init(&r);
	assert_int_equal(resp_add_header(&r, "A", "1"), 0);
	assert_int_equal(resp_add_header(&r, "Location", "/x\r\nSet-Cookie: a"),
			 -1);
	assert_int_equal(resp_add_header(&r, "Location", "/x\nB: c"), -1);
	memset(big, 'v', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(resp_add_header(&r, "Big", "%s", big), -1);
	/* Failed calls leave what was there untouched. */
	assert_int_equal(r.extra_len, 6);
	assert_string_equal(r.extra, "A: 1\r\n");
}

static void test_printf_truncates(void **state)
{
	struct response r;

	(void)state;
	resp_init(&r);
	assert_int_equal(resp_printf(&r, "%*s", RESP_BODY_MAX + 10, "x"), -1);
	assert_int_equal(r.body_len, RESP_BODY_MAX - 1);
}

static void test_head_overflow_becomes_500(void **state)
{
	static char type[RESP_HEAD_MAX];
	struct response r;

	(void)state;
	memset(type, 't', sizeof(type) - 1);
	resp_init(&r);
	r.content_type = type;
	assert_int_equal(resp_finish(&r, NULL), -1);
	assert_int_equal(r.status, 500);
	assert_non_null(strstr(head_of(&r), "HTTP/1.1 500 "));
	assert_non_null(strstr(head_of(&r), "\r\n\r\n"));
}

/*
 * The whole head, byte for byte: the order of the lines, a status with
 * no reason of its own, a length past 32 bits, the extra lines last.  The Date
 * value is taken from the head itself (the second may turn meanwhile).
 */
static void test_head_is_exact(void **state)
{
	char buf[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	char want[RESP_HEAD_MAX];
	struct http_request req;
	struct response r;
	const char *h, *date;

	(void)state;
	assert_true(fd >= 0);
	parse(buf, &req);
	resp_init(&r);
	r.status = 299; /* a status without a reason phrase */
	r.content_type = "video/mp4";
	resp_set_file(&r, fd, 0, 5000000000u);
	assert_int_equal(resp_add_header(&r, "X-Test", "%d", 42), 0);
	assert_int_equal(resp_finish(&r, &req), 0);
	h = head_of(&r);
	date = strstr(h, "\r\nDate: ");
	assert_non_null(date);
	snprintf(want, sizeof(want),
		 "HTTP/1.1 299 Unknown\r\n"
		 "Date: %.29s\r\n"
		 "Server: concurrency-servers\r\n"
		 "Content-Type: video/mp4\r\n"
		 "Content-Length: 5000000000\r\n"
		 "Connection: keep-alive\r\n"
		 "X-Content-Type-Options: nosniff\r\n"
		 "X-Frame-Options: DENY\r\n"
		 "Referrer-Policy: no-referrer\r\n"
		 "Content-Security-Policy: default-src 'self'; "
		 "frame-ancestors 'none'; base-uri 'none'; "
		 "form-action 'self'\r\n"
		 "X-Test: 42\r\n"
		 "\r\n",
		 date + strlen("\r\nDate: "));
	assert_string_equal(h, want);
	assert_int_equal(r.head_len, strlen(want));
	resp_release(&r);
}

static void test_reasons(void **state)
{
	static const int used[] = {
		100, 200, 204, 301, 304, 400, 403, 404, 405,
		408, 413, 414, 417, 431, 500, 501, 503, 505
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(used) / sizeof(used[0]); i++)
		assert_string_not_equal(resp_reason(used[i]), "Unknown");
	assert_string_equal(resp_reason(404), "Not Found");
	assert_string_equal(resp_reason(999), "Unknown");
}

static void test_release_twice(void **state)
{
	struct response r;
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	(void)state;
	resp_init(&r);
	resp_set_file(&r, fd, 0, 1);
	resp_release(&r);
	resp_release(&r);
	assert_int_equal(r.file_fd, -1);
	assert_int_equal(fcntl(fd, F_GETFD), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_is_empty_200),
		cmocka_unit_test(test_finish_writes_every_header),
		cmocka_unit_test(test_connection_close),
		cmocka_unit_test(test_head_keeps_length_drops_body),
		cmocka_unit_test(test_304_and_204_have_no_body),
		cmocka_unit_test(test_interim_is_status_line_only),
		cmocka_unit_test(test_error_page),
		cmocka_unit_test(test_add_header_refuses_crlf_and_overflow),
		cmocka_unit_test(test_printf_truncates),
		cmocka_unit_test(test_head_overflow_becomes_500),
		cmocka_unit_test(test_head_is_exact),
		cmocka_unit_test(test_reasons),
		cmocka_unit_test(test_release_twice),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
