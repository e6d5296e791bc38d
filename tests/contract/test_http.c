/*
 * test_http.c - the "http" group: what a well-formed request gets back.
 *
 * Static files from the suite's document root, the status codes of
 * RFC 9110, conditional requests, HEAD, request bodies (Content-Length,
 * chunked, 100-continue), path traversal and the demo API.  Each test
 * names the rule it checks.
 */
#include "contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "json.h"

#define HOST "Host: contract\r\n"
#define CLOSE "Connection: close\r\n"

static int port(void)
{
	return shared_server()->port;
}

/* True when a Content-Type value is the media type want (any params). */
static bool media_type_is(const char *value, const char *want)
{
	size_t n = strlen(want);

	return value && strncasecmp(value, want, n) == 0 &&
	       (value[n] == '\0' || value[n] == ';' || value[n] == ' ');
}

/* RFC 9110 section 5.6.7: "Sun, 06 Nov 1994 08:49:37 GMT". */
static bool parse_imf_fixdate(const char *s, time_t *out)
{
	struct tm tm;
	const char *end;

	memset(&tm, 0, sizeof(tm));
	if (!s || strlen(s) != 29)
		return false;
	end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (!end || *end)
		return false;
	*out = timegm(&tm);
	return true;
}

static void format_imf_fixdate(time_t t, char *out, size_t outsz)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, outsz, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void assert_content_length(const struct reply *r, size_t want)
{
	const char *cl = header_or_fail(r, "Content-Length");

	if (strtoull(cl, NULL, 10) != want || r->body_len != want)
		fail_msg("Content-Length %s and %zu body bytes, expected %zu",
			 cl, r->body_len, want);
}

static void assert_pattern_body(const struct reply *r, size_t len)
{
	size_t i;

	assert_content_length(r, len);
	for (i = 0; i < len; i++)
		if ((unsigned char)r->body[i] != doc_byte(i))
			fail_msg("body differs from the file at byte %zu", i);
}

/*
 * RFC 9110 sections 15.3.1 (200), 8.3 (Content-Type), 8.6 (Content-Length),
 * 6.6.1 (an origin server with a clock MUST send Date) and 10.2.4 (Server):
 * GET / serves index.html.
 */
static void get_index_200(void **state)
{
	const char *ct, *date;
	struct reply r;
	time_t t = 0;

	(void)state;
	get_ok(port(), "/", &r);
	assert_string_equal(r.version, "HTTP/1.1");
	ct = header_or_fail(&r, "Content-Type");
	if (!media_type_is(ct, "text/html"))
		fail_msg("Content-Type \"%s\", expected text/html", ct);
	assert_content_length(&r, strlen(DOC_INDEX));
	assert_memory_equal(r.body, DOC_INDEX, strlen(DOC_INDEX));
	date = header_or_fail(&r, "Date");
	if (!parse_imf_fixdate(date, &t))
		fail_msg("Date \"%s\" is not an IMF-fixdate", date);
	if (labs((long)(t - time(NULL))) > 3600)
		fail_msg("Date \"%s\" is more than an hour off", date);
	header_or_fail(&r, "Server");
	if (reply_header_count(&r, "Content-Length") != 1)
		fail_msg("Content-Length sent more than once");
	reply_free(&r);
}

/* RFC 9112 section 6.3 rule 6: Content-Length frames the body exactly. */
static void get_files_exact(void **state)
{
	struct reply r;

	(void)state;
	get_ok(port(), "/small.txt", &r);
	assert_pattern_body(&r, DOC_SMALL_LEN);
	reply_free(&r);
	get_ok(port(), "/big.bin", &r);
	assert_pattern_body(&r, DOC_BIG_LEN);
	reply_free(&r);
}

/*
 * RFC 9112 section 3.2.2: a server MUST accept a target in absolute-form,
 * although only proxies get them from most clients.
 */
static void absolute_form_target(void **state)
{
	struct reply r;

	(void)state;
	fetch_or_fail(port(),
		      "GET http://contract/index.html HTTP/1.1\r\n" HOST CLOSE
		      "\r\n",
		      &r);
	assert_status(&r, 200, "GET http://contract/index.html");
	assert_content_length(&r, strlen(DOC_INDEX));
	assert_memory_equal(r.body, DOC_INDEX, strlen(DOC_INDEX));
	reply_free(&r);
}

/* A directory is served by its index.html (static_files.h). */
static void get_subdir_index(void **state)
{
	struct reply r;

	(void)state;
	get_ok(port(), "/sub/", &r);
	assert_content_length(&r, strlen(DOC_SUB_INDEX));
	assert_memory_equal(r.body, DOC_SUB_INDEX, strlen(DOC_SUB_INDEX));
	reply_free(&r);
}

/* RFC 9110 section 15.5.5: no current representation is a 404. */
static void get_missing_404(void **state)
{
	static const char *const reqs[] = {
		"GET /no-such-file.html HTTP/1.1\r\n" HOST CLOSE "\r\n",
		/* A directory without index.html is not listed. */
		"GET /noindex/ HTTP/1.1\r\n" HOST CLOSE "\r\n",
		"GET /sub/missing/ HTTP/1.1\r\n" HOST CLOSE "\r\n",
	};
	struct reply r;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(reqs); i++) {
		fetch_or_fail(port(), reqs[i], &r);
		assert_status(&r, 404, reqs[i]);
		reply_free(&r);
	}
}

/* RFC 9110 section 15.5.6: a 405 MUST carry Allow with the methods. */
static void method_not_allowed_405(void **state)
{
	struct reply r;

	(void)state;
	fetch_or_fail(port(), "DELETE / HTTP/1.1\r\n" HOST CLOSE "\r\n", &r);
	assert_status(&r, 405, "DELETE /");
	header_or_fail(&r, "Allow");
	if (!reply_header_has_token(&r, "Allow", "GET"))
		fail_msg("DELETE /: Allow \"%s\" lacks GET",
			 reply_header(&r, "Allow"));
	reply_free(&r);

	fetch_or_fail(port(), "GET /api/echo HTTP/1.1\r\n" HOST CLOSE "\r\n",
		      &r);
	assert_status(&r, 405, "GET /api/echo");
	header_or_fail(&r, "Allow");
	if (!reply_header_has_token(&r, "Allow", "POST"))
		fail_msg("GET /api/echo: Allow \"%s\" lacks POST",
			 reply_header(&r, "Allow"));
	reply_free(&r);
}

/*
 * Sends a conditional GET / and, pipelined behind it, GET /api/hello: a 304
 * has no body (RFC 9110 section 15.4.5), so the second response must start
 * right after the 304's head.  Returns the first status; r keeps it.
 */
static int conditional_get(const char *condition, struct reply *r)
{
	struct client *c = open_or_fail(port());
	struct reply next;
	char req[512];

	snprintf(req, sizeof(req),
		 "GET / HTTP/1.1\r\n" HOST "%s\r\n\r\n"
		 "GET /api/hello?name=after304 HTTP/1.1\r\n" HOST CLOSE "\r\n",
		 condition);
	send_or_fail(c, req);
	read_reply_or_fail(c, r, false, condition);
	read_reply_or_fail(c, &next, false, "the request after a 304");
	assert_status(&next, 200, "the request after a 304");
	if (!strstr(next.body, "after304"))
		fail_msg("the request after a 304 got \"%s\"", next.body);
	reply_free(&next);
	client_close(c);
	return r->status;
}

/*
 * RFC 9110 section 13.1.2: If-None-Match with the current ETag is a 304,
 * which MUST repeat the ETag (section 15.4.5); another ETag is a 200.  The
 * comparison MUST be the weak one, so W/"tag" matches "tag" too.
 */
static void if_none_match_304(void **state)
{
	char cond[256];
	struct reply r, c;

	(void)state;
	get_ok(port(), "/", &r);
	snprintf(cond, sizeof(cond), "If-None-Match: %s",
		 header_or_fail(&r, "ETag"));
	conditional_get(cond, &c);
	assert_status(&c, 304, cond);
	if (c.body_len != 0)
		fail_msg("a 304 carried a body");
	if (!reply_header(&c, "ETag") ||
	    strcmp(reply_header(&c, "ETag"), reply_header(&r, "ETag")) != 0)
		fail_msg("the 304 did not repeat ETag %s",
			 reply_header(&r, "ETag"));
	reply_free(&c);

	conditional_get("If-None-Match: \"no-such-etag\"", &c);
	assert_status(&c, 200, "If-None-Match with another ETag");
	reply_free(&c);

	conditional_get("If-None-Match: *", &c);
	assert_status(&c, 304, "If-None-Match: *");
	reply_free(&c);

	/* A list matches if any member does, compared weakly. */
	snprintf(cond, sizeof(cond), "If-None-Match: \"other\", W/%s",
		 reply_header(&r, "ETag"));
	conditional_get(cond, &c);
	assert_status(&c, 304, cond);
	reply_free(&c);
	reply_free(&r);
}

/*
 * RFC 9110 section 13.1.3: If-Modified-Since at Last-Modified is a 304, an
 * earlier date is a 200, and If-None-Match, when present, wins (a recipient
 * MUST ignore If-Modified-Since then).  Section 8.8.2: Last-Modified is the
 * file's mtime.
 */
static void if_modified_since_304(void **state)
{
	char cond[256], want[64];
	const char *lm;
	struct reply r, c;

	(void)state;
	get_ok(port(), "/", &r);
	lm = header_or_fail(&r, "Last-Modified");
	format_imf_fixdate(DOC_MTIME, want, sizeof(want));
	if (strcmp(lm, want) != 0)
		fail_msg("Last-Modified \"%s\", the file's mtime is \"%s\"", lm,
			 want);
	snprintf(cond, sizeof(cond), "If-Modified-Since: %s", lm);
	conditional_get(cond, &c);
	assert_status(&c, 304, cond);
	reply_free(&c);

	format_imf_fixdate(DOC_MTIME - 86400, want, sizeof(want));
	snprintf(cond, sizeof(cond), "If-Modified-Since: %s", want);
	conditional_get(cond, &c);
	assert_status(&c, 200, "If-Modified-Since a day before the mtime");
	reply_free(&c);

	snprintf(cond, sizeof(cond),
		 "If-None-Match: \"no-such-etag\"\r\nIf-Modified-Since: %s",
		 lm);
	conditional_get(cond, &c);
	assert_status(&c, 200,
		      "a stale If-None-Match with a fresh "
		      "If-Modified-Since");
	reply_free(&c);
	reply_free(&r);
}

static void assert_same_header(const struct reply *get,
			       const struct reply *head, const char *name)
{
	const char *a = reply_header(get, name), *b = reply_header(head, name);

	if (!a)
		return;
	if (!b || strcmp(a, b) != 0)
		fail_msg("HEAD sent %s \"%s\", GET sent \"%s\"", name,
			 b ? b : "(none)", a);
}

/*
 * RFC 9110 section 9.3.2: HEAD gets the same header fields as GET and no
 * body; the response pipelined behind it starts right after its head.
 */
static void head_no_body(void **state)
{
	static const char *const same[] = { "Content-Type", "Content-Length",
					    "ETag", "Last-Modified" };
	struct client *c;
	struct reply get, head, next;
	size_t i;

	(void)state;
	get_ok(port(), "/", &get);
	c = open_or_fail(port());
	send_or_fail(c, "HEAD / HTTP/1.1\r\n" HOST "\r\n"
			"GET /api/hello?name=afterhead HTTP/1.1\r\n" HOST CLOSE
			"\r\n");
	read_reply_or_fail(c, &head, true, "HEAD /");
	assert_status(&head, 200, "HEAD /");
	for (i = 0; i < ARRAY_SIZE(same); i++)
		assert_same_header(&get, &head, same[i]);
	read_reply_or_fail(c, &next, false,
			   "the request pipelined after HEAD (did HEAD send "
			   "a body?)");
	assert_status(&next, 200, "the request after HEAD");
	if (!strstr(next.body, "afterhead"))
		fail_msg("the request after HEAD got \"%s\"", next.body);
	reply_free(&next);
	reply_free(&head);
	reply_free(&get);
}

/* A body with every byte value, CR LF and NUL included. */
static char *binary_body(size_t len)
{
	char *b = malloc(len);
	size_t i;

	assert_non_null(b);
	for (i = 0; i < len; i++)
		b[i] = (char)(i * 7 + 3);
	return b;
}

/* RFC 9112 section 6.2: Content-Length gives the body's length. */
static void echo_content_length(void **state)
{
	const size_t len = 3000;
	char *body = binary_body(len);
	struct client *c = open_or_fail(port());
	char head[256];
	struct reply r;

	(void)state;
	snprintf(head, sizeof(head),
		 "POST /api/echo HTTP/1.1\r\n" HOST CLOSE
		 "Content-Type: application/octet-stream\r\n"
		 "Content-Length: %zu\r\n\r\n",
		 len);
	send_or_fail(c, head);
	if (client_send(c, body, len) == -1)
		fail_msg("sending the body: %s", client_error());
	read_reply_or_fail(c, &r, false, "POST /api/echo");
	assert_status(&r, 200, "POST /api/echo");
	assert_int_equal(r.body_len, len);
	assert_memory_equal(r.body, body, len);
	reply_free(&r);
	free(body);
}

/*
 * RFC 9112 section 7.1: a chunked body, with hex sizes in both cases, a
 * chunk extension (7.1.1, ignored) and a trailer field (7.1.2), is
 * decoded into the same bytes; the request is split across two writes.
 */
static void echo_chunked(void **state)
{
	static const char part1[] = "POST /api/echo HTTP/1.1\r\n" HOST CLOSE
				    "Transfer-Encoding: chunked\r\n\r\n"
				    "5;name=value\r\nhello\r\n"
				    "1A\r\n, chunked world, in thr";
	static const char part2[] = "ee!\r\n"
				    "a;ext\r\n0123456789\r\n"
				    "0\r\nX-Trailer: yes\r\n\r\n";
	static const char want[] = "hello, chunked world, in three!0123456789";
	struct client *c = open_or_fail(port());
	struct reply r;

	(void)state;
	send_or_fail(c, part1);
	sleep_ms(20);
	send_or_fail(c, part2);
	read_reply_or_fail(c, &r, false, "chunked POST /api/echo");
	assert_status(&r, 200, "chunked POST /api/echo");
	if (r.body_len != strlen(want) || memcmp(r.body, want, r.body_len))
		fail_msg("echoed \"%s\", expected \"%s\"", r.body, want);
	reply_free(&r);
}

/*
 * RFC 9110 section 10.1.1: a server that receives 100-continue sends
 * "100 Continue" before it reads the body; then the final response.
 */
static void expect_100_continue(void **state)
{
	struct client *c = open_or_fail(port());
	struct reply r;

	(void)state;
	send_or_fail(c, "POST /api/echo HTTP/1.1\r\n" HOST CLOSE
			"Content-Length: 11\r\nExpect: 100-continue\r\n\r\n");
	read_reply_or_fail(c, &r, false, "the head with Expect: 100-continue");
	if (strncmp(r.head, "HTTP/1.1 100 Continue\r\n", 23) != 0)
		fail_msg("expected \"HTTP/1.1 100 Continue\" before the body, "
			 "got:\n%s",
			 r.head);
	reply_free(&r);
	send_or_fail(c, "hello world");
	read_reply_or_fail(c, &r, false, "the body after 100 Continue");
	assert_status(&r, 200, "POST /api/echo after 100 Continue");
	assert_int_equal(r.body_len, 11);
	assert_memory_equal(r.body, "hello world", 11);
	reply_free(&r);
}

/*
 * RFC 9110 section 17.3 (attacks based on file and path names): no
 * spelling of a path may serve a file outside the root.  400, 403 and 404
 * are all acceptable answers; 200 with the outside file never is.
 */
static void traversal_refused(void **state)
{
	static const char *const paths[] = {
		"/../secret.txt",
		"/../../../../../../etc/passwd",
		"/./../secret.txt",
		"/sub/../../secret.txt",
		"/%2e%2e/secret.txt",
		"/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
		"/%2E%2E/secret.txt",
		"/..%2fsecret.txt",
		"/..%2f..%2f..%2f..%2fetc/passwd",
		"/sub/..%2f..%2fsecret.txt",
		"/..\\secret.txt",
		"/..%5csecret.txt",
		"/sub\\..\\..\\secret.txt",
		"/index.html%00",
		"/secret.txt%00.html",
		"/..%00/secret.txt",
		"//etc/passwd",
		"/link_abs.txt",
		"/link_rel.txt",
		"/link_dir/secret.txt",
	};
	char req[512], what[128];
	struct reply r;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		snprintf(req, sizeof(req),
			 "GET %s HTTP/1.1\r\n" HOST CLOSE "\r\n", paths[i]);
		snprintf(what, sizeof(what), "GET %s", paths[i]);
		fetch_or_fail(port(), req, &r);
		if (r.body && (strstr(r.body, DOC_SECRET) ||
			       strstr(r.body, "root:x:0:0")))
			fail_msg("%s served a file outside the root", what);
		if (r.status != 400 && r.status != 403 && r.status != 404)
			fail_msg("%s: expected 400, 403 or 404, got %d", what,
				 r.status);
		reply_free(&r);
	}
	assert_server_serves(port(), "the traversal attempts");
}

/*
 * RFC 8259 section 7: /api/hello puts the name into a JSON string, so
 * quotes, backslashes and control characters must come back escaped and
 * the document must stay valid JSON.
 */
static void api_hello_json_escaped(void **state)
{
	struct reply r;

	(void)state;
	get_ok(port(),
	       "/api/hello?name=%3Cscript%3Ealert(%22x%22)%3C%2Fscript%3E"
	       "%5C%01",
	       &r);
	if (!media_type_is(reply_header(&r, "Content-Type"),
			   "application/json"))
		fail_msg("Content-Type \"%s\", expected application/json",
			 reply_header(&r, "Content-Type"));
	if (!json_valid(r.body, r.body_len))
		fail_msg("not valid JSON: %s", r.body);
	if (!strstr(r.body, "script") || !strstr(r.body, "\\\"x\\\"") ||
	    !strstr(r.body, "\\\\"))
		fail_msg("the name is not in the reply, JSON-escaped: %s",
			 r.body);
	reply_free(&r);
}

/* /api/stats is JSON that names the model (stats.h). */
static void api_stats_json(void **state)
{
	char model[64];
	struct reply r;

	(void)state;
	get_ok(port(), "/api/stats", &r);
	if (!json_valid(r.body, r.body_len))
		fail_msg("not valid JSON: %s", r.body);
	if (json_find_string(r.body, "model", model, sizeof(model)) == -1)
		fail_msg("no \"model\" string member: %s", r.body);
	reply_free(&r);
}

/* /api/sleep?ms=50 answers after the wait (app.h). */
static void api_sleep_200(void **state)
{
	struct reply r;

	(void)state;
	get_ok(port(), "/api/sleep?ms=50", &r);
	reply_free(&r);
}

int run_http_tests(void)
{
	/* One test a line, in the order they run. */
	/* clang-format off */
	static const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_teardown(f, shared_test_teardown)
		T(get_index_200),
		T(get_files_exact),
		T(absolute_form_target),
		T(get_subdir_index),
		T(get_missing_404),
		T(method_not_allowed_405),
		T(if_none_match_304),
		T(if_modified_since_304),
		T(head_no_body),
		T(echo_content_length),
		T(echo_chunked),
		T(expect_100_continue),
		T(traversal_refused),
		T(api_hello_json_escaped),
		T(api_stats_json),
		T(api_sleep_200),
#undef T
	};
	/* clang-format on */

	return run_group("http", tests, ARRAY_SIZE(tests), shared_server_up,
			 NULL);
}
