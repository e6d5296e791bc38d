/*
 * test_log.c - the Common Log Format line: its fields, escaping of what
 * the client sent, truncation that still ends the line, and appending to a
 * file with one write per line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_parser.h"
#include "log.h"

#define RFC_EXAMPLE_TIME 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */

static void parse(char *buf, struct http_request *req)
{
	struct http_limits lim;

	http_limits_init(&lim);
	assert_int_equal(http_parse_request(buf, strlen(buf), &lim, req, NULL),
			 (ssize_t)strlen(buf));
}

/* A request built by hand, to log bytes the parser would refuse. */
static void fake_request(struct http_request *req, const char *method,
			 const char *target, int minor)
{
	memset(req, 0, sizeof(*req));
	req->method_name.p = method;
	req->method_name.len = strlen(method);
	req->target.p = target;
	req->target.len = strlen(target);
	req->version_minor = minor;
}

static void test_clf_line(void **state)
{
	char buf[] = "GET /index.html?a=1 HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_request req;
	char out[512];
	size_t n;

	(void)state;
	parse(buf, &req);
	n = log_format_clf(out, sizeof(out), "127.0.0.1", RFC_EXAMPLE_TIME,
			   &req, 200, 2326);
	assert_string_equal(out, "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] "
				 "\"GET /index.html?a=1 HTTP/1.1\" 200 2326\n");
	assert_int_equal(n, strlen(out));
}

static void test_http10_and_empty_body(void **state)
{
	char buf[] = "HEAD / HTTP/1.0\r\n\r\n";
	struct http_request req;
	char out[512];

	(void)state;
	parse(buf, &req);
	log_format_clf(out, sizeof(out), "::1", RFC_EXAMPLE_TIME, &req, 304, 0);
	assert_string_equal(out, "::1 - - [06/Nov/1994:08:49:37 +0000] "
				 "\"HEAD / HTTP/1.0\" 304 -\n");
}

static void test_unparsed_request(void **state)
{
	char out[512];

	(void)state;
	log_format_clf(out, sizeof(out), NULL, RFC_EXAMPLE_TIME, NULL, 400,
		       120);
	assert_string_equal(out, "- - - [06/Nov/1994:08:49:37 +0000] "
				 "\"-\" 400 120\n");
}

static void test_target_is_escaped(void **state)
{
	struct http_request req;
	char out[512];

	(void)state;
	fake_request(&req, "GET", "/a\"b\\c\n\x1b[31m\x80", 1);
	log_format_clf(out, sizeof(out), "1.2.3.4", RFC_EXAMPLE_TIME, &req, 404,
		       10);
	assert_string_equal(out,
			    "1.2.3.4 - - [06/Nov/1994:08:49:37 +0000] "
			    "\"GET /a\\x22b\\x5cc\\x0a\\x1b[31m\\x80 HTTP/1.1\""
			    " 404 10\n");
	/* One line, whatever the client sent. */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
}

static void test_truncation_keeps_newline(void **state)
{
	static char target[8192];
	struct http_request req;
	char out[PIPE_BUF], small[40];
	size_t n;

	(void)state;
	memset(target, 'a', sizeof(target) - 1);
	target[0] = '/';
	fake_request(&req, "GET", target, 1);
	n = log_format_clf(out, sizeof(out), "127.0.0.1", RFC_EXAMPLE_TIME,
			   &req, 414, 0);
	assert_true(n < sizeof(out));
	assert_int_equal(n, strlen(out));
	assert_int_equal(out[n - 1], '\n');
	/* The long target was cut, not the status after it. */
	assert_non_null(strstr(out, " HTTP/1.1\" 414 -\n"));

	n = log_format_clf(small, sizeof(small), "127.0.0.1", RFC_EXAMPLE_TIME,
			   &req, 200, 1);
	assert_int_equal(n, sizeof(small) - 1);
	assert_int_equal(small[n - 1], '\n');
	assert_int_equal(small[n], '\0');
}

static void test_log_file_appends(void **state)
{
	char path[] = "/tmp/test_log.XXXXXX", text[1024];
	struct http_request req;
	struct stat st;
	ssize_t n;
	int fd, rfd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	umask(022);
	fd = log_open(path);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_APPEND);

	fake_request(&req, "GET", "/one", 1);
	log_access(fd, "10.0.0.1", &req, 200, 5);
	fake_request(&req, "POST", "/two", 1);
	log_access(fd, "10.0.0.2", &req, 201, 0);
	log_access(-1, "10.0.0.3", &req, 500, 0); /* no log: no-op */
	close(fd);

	rfd = open(path, O_RDONLY);
	n = read(rfd, text, sizeof(text) - 1);
	close(rfd);
	unlink(path);
	assert_true(n > 0);
	text[n] = '\0';
	assert_true(strncmp(text, "10.0.0.1 - - [", 14) == 0);
	assert_non_null(strstr(text, "\"GET /one HTTP/1.1\" 200 5\n10.0.0.2"));
	assert_non_null(strstr(text, "\"POST /two HTTP/1.1\" 201 -\n"));
	assert_null(strstr(text, "10.0.0.3"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clf_line),
		cmocka_unit_test(test_http10_and_empty_body),
		cmocka_unit_test(test_unparsed_request),
		cmocka_unit_test(test_target_is_escaped),
		cmocka_unit_test(test_truncation_keeps_newline),
		cmocka_unit_test(test_log_file_appends),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
