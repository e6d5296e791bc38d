/*
 * test_app.c - the dispatch and the demo API: JSON escaping, UTF-8 names
 * (well-formed ones pass, every malformed kind is 400), echo, 405 with
 * Allow, static files behind the API, parameter errors as 400, the clamps,
 * keep-alive, where a request is routed, and which routes may block.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app.h"
#include "router.h"
#include "static_files.h"
#include "stats.h"

static struct app app;
static char root[PATH_MAX];
static char base[] = "/tmp/test_app.XXXXXX";
static char index_path[PATH_MAX];

static int group_setup(void **state)
{
	FILE *f;

	(void)state;
	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(index_path, sizeof(index_path), "%s/index.html", base);
	f = fopen(index_path, "w");
	if (f == NULL)
		return -1;
	fputs("<p>index</p>\n", f);
	fclose(f);
	app.model = "test_model";
	app.root = root;
	app.stats = stats_create();
	if (app.stats == NULL)
		return -1;
	return file_resolve_root(base, root, sizeof(root));
}

static int group_teardown(void **state)
{
	(void)state;
	stats_destroy(app.stats);
	unlink(index_path);
	return rmdir(base);
}

/* One request and its response; the buffer outlives the borrowed body. */
struct exchange {
	char buf[2048];
	struct http_request req;
	struct app_route route;
	struct response resp;
	char head[RESP_HEAD_MAX + 1];
	char body[RESP_BODY_MAX + 1];
};

static struct exchange ex;

/* Parses raw, runs app_handle, and returns the status. */
static int handle(const char *raw)
{
	struct http_limits lim;
	size_t len = strlen(raw);

	assert_true(len < sizeof(ex.buf));
	memcpy(ex.buf, raw, len);
	http_limits_init(&lim);
	assert_int_equal(http_parse_request(ex.buf, len, &lim, &ex.req, NULL),
			 (ssize_t)len);
	app_find_route(&ex.req, &ex.route);
	app_handle(&app, &ex.req, &ex.route, &ex.resp);
	memcpy(ex.head, ex.resp.head, ex.resp.head_len);
	ex.head[ex.resp.head_len] = '\0';
	ex.body[0] = '\0';
	if (ex.resp.body_len > 0 && ex.resp.body_len < sizeof(ex.body)) {
		memcpy(ex.body, ex.resp.body, ex.resp.body_len);
		ex.body[ex.resp.body_len] = '\0';
	}
	resp_release(&ex.resp);
	return ex.resp.status;
}

static int get(const char *target)
{
	char raw[1024];

	snprintf(raw, sizeof(raw), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n",
		 target);
	return handle(raw);
}

static void test_hello(void **state)
{
	(void)state;
	assert_int_equal(get("/api/hello"), 200);
	assert_string_equal(ex.body, "{\"message\":\"Hello, world!\"}\n");
	assert_non_null(strstr(ex.head, "Content-Type: application/json\r\n"));
	assert_int_equal(get("/api/hello?name=Ada+Lovelace"), 200);
	assert_string_equal(ex.body,
			    "{\"message\":\"Hello, Ada Lovelace!\"}\n");
	assert_int_equal(get("/api/hello?x=1&name=%C3%A9"), 200);
	assert_string_equal(ex.body, "{\"message\":\"Hello, \xc3\xa9!\"}\n");
}

static void test_hello_escapes_json(void **state)
{
	(void)state;
	assert_int_equal(get("/api/hello?name=a%22b%5Cc%0A%01%7F"), 200);
	assert_string_equal(
		ex.body,
		"{\"message\":\"Hello, a\\\"b\\\\c\\u000a\\u0001\\u007f!\"}\n");
	assert_int_equal(get("/api/hello?name="), 200);
	assert_string_equal(ex.body, "{\"message\":\"Hello, !\"}\n");
	assert_int_equal(get("/api/hello?name=%zz"), 400);
}

/* Every well-formed length, at the edges of its range, passes unescaped. */
static void test_hello_utf8_valid(void **state)
{
	static const struct {
		const char *query, *name;
	} ok[] = {
		{ "%C2%80", "\xc2\x80" },		/* U+0080, least of 2 */
		{ "%C3%A9", "\xc3\xa9" },		/* e acute */
		{ "%DF%BF", "\xdf\xbf" },		/* U+07FF, most of 2 */
		{ "%E0%A0%80", "\xe0\xa0\x80" },	/* U+0800, least of 3 */
		{ "%E2%82%AC", "\xe2\x82\xac" },	/* euro sign */
		{ "%ED%9F%BF", "\xed\x9f\xbf" },	/* U+D7FF, below D800 */
		{ "%EE%80%80", "\xee\x80\x80" },	/* U+E000, above DFFF */
		{ "%EF%BF%BF", "\xef\xbf\xbf" },	/* U+FFFF */
		{ "%F0%90%80%80", "\xf0\x90\x80\x80" }, /* U+10000 */
		{ "%F0%9F%98%80", "\xf0\x9f\x98\x80" }, /* an emoji */
		{ "%F4%8F%BF%BF", "\xf4\x8f\xbf\xbf" }, /* U+10FFFF, the last */
		{ "a%C3%A9%E2%82%AC%F0%9F%98%80z",
		  "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80z" },
	};
	char target[128], want[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(target, sizeof(target), "/api/hello?name=%s",
			 ok[i].query);
		snprintf(want, sizeof(want), "{\"message\":\"Hello, %s!\"}\n",
			 ok[i].name);
		assert_int_equal(get(target), 200);
		assert_string_equal(ex.body, want);
	}
	/* Control characters next to multi-byte ones are still escaped. */
	assert_int_equal(get("/api/hello?name=%C3%A9%0A%22%01"), 200);
	assert_string_equal(ex.body, "{\"message\":\"Hello, \xc3\xa9\\u000a"
				     "\\\"\\u0001!\"}\n");
}

/* Each way bytes can fail to be UTF-8 (RFC 3629 section 4) is a 400. */
static void test_hello_utf8_invalid(void **state)
{
	static const char *const bad[] = {
		"%FF%FE", /* bytes UTF-8 never uses */
		"%FE",
		"%C0",
		"%F8%88%80%80%80", /* the old 5-byte form */
		"%80",		   /* a continuation with no lead */
		"a%BFb",
		"%C0%80", /* overlong NUL */
		"%C1%BF", /* overlong U+007F */
		"%C0%AF", /* overlong '/' */
		"%E0%80%80",
		"%E0%9F%BF", /* overlong 3-byte */
		"%F0%80%80%80",
		"%F0%8F%BF%BF",	      /* overlong 4-byte */
		"%ED%A0%80",	      /* U+D800, a surrogate */
		"%ED%BF%BF",	      /* U+DFFF */
		"%ED%A0%BD%ED%B8%80", /* a surrogate pair, CESU-8 */
		"%F4%90%80%80",	      /* U+110000 */
		"%F5%80%80%80",
		"%F7%BF%BF%BF", /* leads past U+10FFFF */
		"%C3",		/* truncated at the end */
		"%E2%82",
		"%F0%9F%98",
		"ok%E2%82",
		"%C3A", /* truncated by an ASCII byte */
		"%E2%82A",
		"%E2%28%A1",
		"%F0%9F%98%C3%A9",
	};
	char target[128];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(target, sizeof(target), "/api/hello?name=%s", bad[i]);
		if (get(target) != 400)
			fail_msg("%s: expected 400, got %d: %s", target,
				 ex.resp.status, ex.body);
		assert_null(strstr(ex.body, "Hello"));
	}
}

static void test_time(void **state)
{
	(void)state;
	assert_int_equal(get("/api/time"), 200);
	assert_true(strncmp(ex.body, "{\"epoch\":", 9) == 0);
	assert_non_null(strstr(ex.body, "\"iso\":\"20"));
	assert_non_null(strstr(ex.body, "Z\"}"));
}

static void test_echo(void **state)
{
	const char *p;

	(void)state;
	assert_int_equal(handle("POST /api/echo HTTP/1.1\r\nHost: x\r\n"
				"Content-Type: text/plain\r\n"
				"Content-Length: 4\r\n\r\nping"),
			 200);
	assert_string_equal(ex.body, "ping");
	assert_non_null(strstr(ex.head, "\r\nContent-Type: text/plain\r\n"));
	assert_non_null(strstr(ex.head, "\r\nContent-Length: 4\r\n"));
	/* Borrowed, not copied: the body points into the request buffer. */
	p = ex.resp.body;
	assert_true(p >= ex.buf && p < ex.buf + sizeof(ex.buf));

	assert_int_equal(handle("POST /api/echo HTTP/1.1\r\nHost: x\r\n"
				"Content-Length: 3\r\n\r\nabc"),
			 200);
	assert_non_null(strstr(ex.head, "Content-Type: application/"
					"octet-stream\r\n"));
}

static void test_method_not_allowed(void **state)
{
	(void)state;
	assert_int_equal(handle("POST /api/hello HTTP/1.1\r\nHost: x\r\n"
				"Content-Length: 0\r\n\r\n"),
			 405);
	assert_non_null(strstr(ex.head, "\r\nAllow: GET, HEAD\r\n"));
	assert_int_equal(get("/api/echo"), 405);
	assert_non_null(strstr(ex.head, "\r\nAllow: POST\r\n"));
	/* Not an API path: static files take GET and HEAD only. */
	assert_int_equal(handle("DELETE /index.html HTTP/1.1\r\nHost: x\r\n"
				"\r\n"),
			 405);
	assert_non_null(strstr(ex.head, "\r\nAllow: GET, HEAD\r\n"));
}

static void test_static_behind_api(void **state)
{
	(void)state;
	assert_int_equal(get("/"), 200);
	assert_non_null(strstr(ex.head, "Content-Type: text/html"));
	assert_non_null(strstr(ex.head, "Content-Length: 13\r\n"));
	assert_int_equal(get("/index.html"), 200);
	assert_int_equal(get("/nope"), 404);
	assert_non_null(strstr(ex.body, "404 Not Found"));
	assert_int_equal(get("/api/nope"), 404);
	assert_int_equal(get("/%2e%2e/etc/passwd"), 403);
	assert_int_equal(get("/a%00b"), 400);
}

static void test_head(void **state)
{
	(void)state;
	assert_int_equal(handle("HEAD /api/hello HTTP/1.1\r\nHost: x\r\n\r\n"),
			 200);
	assert_non_null(strstr(ex.head, "Content-Length: 28\r\n"));
	assert_int_equal(resp_body_bytes(&ex.resp), 0);
	assert_int_equal(handle("HEAD /index.html HTTP/1.1\r\nHost: x\r\n\r\n"),
			 200);
	assert_non_null(strstr(ex.head, "Content-Length: 13\r\n"));
	assert_int_equal(ex.resp.file_len, 0);
}

static void test_sleep(void **state)
{
	(void)state;
	assert_int_equal(get("/api/sleep?ms=1"), 200);
	assert_string_equal(ex.body, "{\"slept_ms\":1}\n");
	assert_int_equal(get("/api/sleep?ms=-5"), 200);
	assert_string_equal(ex.body, "{\"slept_ms\":0}\n");
	assert_int_equal(get("/api/sleep?ms=%32"), 200);
	assert_string_equal(ex.body, "{\"slept_ms\":2}\n");
	assert_int_equal(get("/api/sleep?ms=abc"), 400);
	assert_int_equal(get("/api/sleep?ms="), 400);
	assert_int_equal(get("/api/sleep?ms=1x"), 400);
	assert_int_equal(get("/api/sleep?ms=1.5"), 400);
	assert_int_equal(get("/api/sleep?ms=-"), 400);
	assert_int_equal(get("/api/sleep?ms=+1"), 400);
}

static void test_cpu(void **state)
{
	(void)state;
	assert_int_equal(get("/api/cpu"), 200);
	assert_true(strncmp(ex.body, "{\"n\":100,\"rounds\":100000,", 25) == 0);
	assert_int_equal(get("/api/cpu?n=0"), 200);
	assert_true(strncmp(ex.body, "{\"n\":0,\"rounds\":0,", 18) == 0);
	assert_int_equal(get("/api/cpu?n=99999999999999999999999"), 200);
	assert_true(strncmp(ex.body, "{\"n\":10000,", 11) == 0);
	assert_int_equal(get("/api/cpu?n=ten"), 400);
	assert_int_equal(get("/api/cpu?n=1&n=2"), 200); /* the first wins */
	assert_true(strncmp(ex.body, "{\"n\":1,", 7) == 0);
}

static void test_model_and_stats(void **state)
{
	(void)state;
	assert_int_equal(get("/api/model"), 200);
	assert_string_equal(ex.body, "{\"model\":\"test_model\"}\n");
	assert_int_equal(get("/api/stats"), 200);
	assert_true(strncmp(ex.body, "{\"model\":\"test_model\",", 22) == 0);
	assert_non_null(strstr(ex.head, "application/json"));
}

static void test_metrics(void **state)
{
	(void)state;
	assert_int_equal(get("/metrics"), 200);
	assert_non_null(strstr(ex.head, "\r\nContent-Type: text/plain; "
					"version=0.0.4; charset=utf-8\r\n"));
	assert_true(strncmp(ex.body, "# HELP ", 7) == 0);
	assert_non_null(strstr(ex.body, "{model=\"test_model\"} 1\n"));
	assert_non_null(strstr(ex.body, "_count "));
	assert_int_equal(handle("POST /metrics HTTP/1.1\r\nHost: x\r\n"
				"Content-Length: 0\r\n\r\n"),
			 405);
}

static void test_keep_alive(void **state)
{
	(void)state;
	assert_int_equal(get("/nope"), 404);
	assert_true(ex.resp.keep_alive);
	assert_non_null(strstr(ex.head, "Connection: keep-alive\r\n"));
	assert_int_equal(handle("GET / HTTP/1.1\r\nHost: x\r\n"
				"Connection: close\r\n\r\n"),
			 200);
	assert_false(ex.resp.keep_alive);
	assert_non_null(strstr(ex.head, "Connection: close\r\n"));
	assert_int_equal(handle("GET / HTTP/1.0\r\n\r\n"), 200);
	assert_false(ex.resp.keep_alive);
}

static void test_handle_error(void **state)
{
	struct response resp;

	(void)state;
	app_handle_error(503, false, &resp);
	memcpy(ex.head, resp.head, resp.head_len);
	ex.head[resp.head_len] = '\0';
	assert_int_equal(resp.status, 503);
	assert_true(strncmp(ex.head, "HTTP/1.1 503 Service Unavailable\r\n",
			    34) == 0);
	assert_non_null(strstr(ex.head, "\r\nConnection: close\r\n"));
	assert_non_null(strstr(ex.head, "\r\nRetry-After: 1\r\n"));
	assert_true(resp_body_bytes(&resp) > 0);
	resp_release(&resp);

	/* A HEAD gets the error's headers, Content-Length too, no body. */
	app_handle_error(400, true, &resp);
	memcpy(ex.head, resp.head, resp.head_len);
	ex.head[resp.head_len] = '\0';
	assert_int_equal(resp.status, 400);
	assert_null(strstr(ex.head, "Retry-After"));
	assert_non_null(strstr(ex.head, "\r\nContent-Length: "));
	assert_int_equal(resp_body_bytes(&resp), 0);
	resp_release(&resp);
}

/* Parses raw into ex.req and routes it into ex.route. */
static void route(const char *raw)
{
	struct http_limits lim;
	size_t len = strlen(raw);

	memcpy(ex.buf, raw, len);
	http_limits_init(&lim);
	assert_int_equal(http_parse_request(ex.buf, len, &lim, &ex.req, NULL),
			 (ssize_t)len);
	app_find_route(&ex.req, &ex.route);
}

static void test_find_route(void **state)
{
	(void)state;
	route("GET /api/hello?name=x HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(ex.route.status, 0);
	assert_non_null(ex.route.route);
	assert_string_equal(ex.route.route->path, "/api/hello");
	/* A file: no handler, and the path decoded once, here. */
	route("GET /a%20b/c.html?x=1 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(ex.route.status, 0);
	assert_null(ex.route.route);
	assert_string_equal(ex.route.path, "/a b/c.html");
	route("GET /a%2 HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(ex.route.status, 400);
	assert_null(ex.route.route);
	route("POST /api/hello HTTP/1.1\r\nHost: x\r\n"
	      "Content-Length: 0\r\n\r\n");
	assert_int_equal(ex.route.status, 405);
	assert_string_equal(ex.route.allow, "GET, HEAD");
	route("DELETE /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
	assert_int_equal(ex.route.status, 405);
	assert_string_equal(ex.route.allow, "GET, HEAD");
	assert_null(ex.route.route);
}

/* Parses raw into ex.req, routes it and asks app_may_block. */
static bool may_block(const char *raw)
{
	struct http_limits lim;
	size_t len = strlen(raw);

	memcpy(ex.buf, raw, len);
	http_limits_init(&lim);
	assert_int_equal(http_parse_request(ex.buf, len, &lim, &ex.req, NULL),
			 (ssize_t)len);
	app_find_route(&ex.req, &ex.route);
	return app_may_block(&ex.route);
}

static void test_may_block(void **state)
{
	(void)state;
	assert_true(
		may_block("GET /api/sleep?ms=5 HTTP/1.1\r\nHost: x\r\n\r\n"));
	assert_true(may_block("GET /api/cpu HTTP/1.1\r\nHost: x\r\n\r\n"));
	assert_true(may_block("HEAD /api/cpu HTTP/1.1\r\nHost: x\r\n\r\n"));
	assert_false(may_block("GET /api/hello HTTP/1.1\r\nHost: x\r\n\r\n"));
	assert_false(may_block("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"));
	assert_false(may_block("PUT /api/sleep HTTP/1.1\r\nHost: x\r\n"
			       "Content-Length: 0\r\n\r\n"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_hello_escapes_json),
		cmocka_unit_test(test_hello_utf8_valid),
		cmocka_unit_test(test_hello_utf8_invalid),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_echo),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_static_behind_api),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_sleep),
		cmocka_unit_test(test_cpu),
		cmocka_unit_test(test_model_and_stats),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_handle_error),
		cmocka_unit_test(test_find_route),
		cmocka_unit_test(test_may_block),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
