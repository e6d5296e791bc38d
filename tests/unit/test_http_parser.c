/*
 * test_http_parser.c - the request parser against RFC 9110 and RFC 9112.
 *
 * Every rejection the RFCs require is here with the status we answer, and
 * every valid request is also fed one byte at a time: each prefix must be
 * "incomplete" until the last byte.  Those prefixes sit at the very end of
 * a page followed by an inaccessible one, so reading one byte too far
 * crashes the test instead of passing by luck.
 *
 * Every request parsed here is also fed in pieces to one struct
 * http_parse_state, and each call must answer what a parse from scratch of
 * the same bytes answers, with the same fields.  The state's examined
 * counter shows the work: it must grow with a request's length, however
 * the request is split, where parsing from scratch after each piece grows
 * with the square of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http_parser.h"

/* A literal with its length, so that requests may hold NUL bytes. */
#define RAW(s) s, sizeof(s) - 1

/* The start of most requests below. */
#define GET11 "GET / HTTP/1.1\r\nHost: a\r\n"
#define POST11 "POST / HTTP/1.1\r\nHost: a\r\n"

struct status_case {
	const char *raw;
	size_t len;
	int status;
};

/* A request copied into a buffer the test owns: the views point into it. */
struct parsed {
	char buf[4096];
	struct http_request req;
	ssize_t rc;
};

static struct http_limits default_limits(void)
{
	struct http_limits lim;

	http_limits_init(&lim);
	return lim;
}

/* Limits small enough to reach with short literals. */
static struct http_limits small_limits(void)
{
	struct http_limits lim = {
		.max_request_line = 32,
		.max_header_bytes = 64,
		.max_headers = 4,
		.max_body = 16,
	};

	return lim;
}

/* True if two views sit at the same offset in their buffers. */
static bool same_view(const struct http_str *a, const char *abuf,
		      const struct http_str *b, const char *bbuf)
{
	if (a->len != b->len)
		return false;
	return a->len == 0 || a->p - abuf == b->p - bbuf;
}

#define assert_same_view(field)                                                \
	assert_true(same_view(&a->field, abuf, &b->field, bbuf))

/* Every field of a, parsed from abuf, is the same as b's from bbuf. */
static void assert_same_request(const struct http_request *a, const char *abuf,
				const struct http_request *b, const char *bbuf)
{
	size_t i;

	assert_int_equal(a->status, b->status);
	assert_int_equal(a->header_len, b->header_len);
	assert_int_equal(a->method, b->method);
	assert_same_view(method_name);
	assert_same_view(target);
	assert_same_view(path);
	assert_same_view(query);
	assert_same_view(host);
	assert_int_equal(a->version_minor, b->version_minor);
	assert_int_equal(a->num_headers, b->num_headers);
	for (i = 0; i < a->num_headers; i++) {
		assert_same_view(headers[i].name);
		assert_same_view(headers[i].value);
	}
	assert_int_equal(a->content_length, b->content_length);
	assert_int_equal(a->chunked, b->chunked);
	assert_int_equal(a->keep_alive, b->keep_alive);
	assert_int_equal(a->expect_continue, b->expect_continue);
	assert_same_view(body);
	assert_memory_equal(a->body.p, b->body.p, a->body.len);
}

/*
 * Feeds raw[0..n) to one state, step bytes more per call (the first call
 * has none), and checks each answer against a parse from scratch of the
 * same prefix: the same return and the same fields, up to the final
 * answer.  Returns that answer.
 */
static ssize_t expect_same_with_state(const char *raw, size_t n,
				      const struct http_limits *lim,
				      size_t step)
{
	struct http_request inc, one;
	struct http_parse_state st;
	char *buf = malloc(n + 1), *copy = malloc(n + 1);
	size_t len = 0;
	ssize_t rc, want;

	assert_non_null(buf);
	assert_non_null(copy);
	memcpy(buf, raw, n);
	http_parse_state_init(&st);
	for (;;) {
		rc = http_parse_request(buf, len, lim, &inc, &st);
		memcpy(copy, raw, len);
		want = http_parse_request(copy, len, lim, &one, NULL);
		if (rc != want || inc.status != one.status)
			print_error("%zu of \"%.*s\" with a state: got %zd/%d, "
				    "from scratch %zd/%d\n",
				    len, (int)n, raw, rc, inc.status, want,
				    one.status);
		assert_int_equal(rc, want);
		assert_same_request(&inc, buf, &one, copy);
		if (rc != HTTP_INCOMPLETE || len == n)
			break;
		len = n - len > step ? len + step : n;
	}
	free(copy);
	free(buf);
	return rc;
}

static ssize_t parse_with(struct parsed *p, const char *raw, size_t n,
			  const struct http_limits *lim)
{
	assert_true(n <= sizeof(p->buf));
	memcpy(p->buf, raw, n);
	p->rc = http_parse_request(p->buf, n, lim, &p->req, NULL);
	/* The same answer, whatever pieces the bytes arrive in. */
	assert_int_equal(expect_same_with_state(raw, n, lim, 1), p->rc);
	assert_int_equal(expect_same_with_state(raw, n, lim, 5), p->rc);
	return p->rc;
}

static ssize_t parse(struct parsed *p, const char *raw)
{
	struct http_limits lim = default_limits();

	return parse_with(p, raw, strlen(raw), &lim);
}

static void expect_status_with(const char *raw, size_t n,
			       const struct http_limits *lim, int status)
{
	struct parsed p;

	parse_with(&p, raw, n, lim);
	if (p.rc != HTTP_ERROR || p.req.status != status)
		print_error("request \"%.*s\": got %zd/%d, want status %d\n",
			    (int)n, raw, p.rc, p.req.status, status);
	assert_int_equal(p.rc, HTTP_ERROR);
	assert_int_equal(p.req.status, status);
}

static void expect_status(const char *raw, size_t n, int status)
{
	struct http_limits lim = default_limits();

	expect_status_with(raw, n, &lim, status);
}

static void expect_statuses(const struct status_case *c, size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		expect_status(c[i].raw, c[i].len, c[i].status);
}

/* Parses raw, which must be one complete request of exactly n bytes. */
static void expect_complete(struct parsed *p, const char *raw, size_t n)
{
	struct http_limits lim = default_limits();

	parse_with(p, raw, n, &lim);
	if (p->rc != (ssize_t)n)
		print_error("request \"%.*s\": got %zd/%d, want %zu\n", (int)n,
			    raw, p->rc, p->req.status, n);
	assert_int_equal(p->rc, n);
	assert_int_equal(p->req.status, 0);
}

static bool str_is(const struct http_str *s, const char *want)
{
	return s->len == strlen(want) && memcmp(s->p, want, s->len) == 0;
}

#define assert_str(view, want) assert_true(str_is(&(view), want))

/* ---- a guard page behind the input --------------------------------------- */

struct guard {
	char *base;
	size_t page;
};

static void guard_map(struct guard *g)
{
	g->page = (size_t)sysconf(_SC_PAGESIZE);
	g->base = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(g->base != MAP_FAILED);
	assert_int_equal(mprotect(g->base + g->page, g->page, PROT_NONE), 0);
}

static void guard_unmap(struct guard *g)
{
	munmap(g->base, 2 * g->page);
}

/* Copies n bytes so that the last one is the last readable byte. */
static char *guard_place(struct guard *g, const char *raw, size_t n)
{
	char *p = g->base + g->page - n;

	assert_true(n <= g->page);
	memcpy(p, raw, n);
	return p;
}

/*
 * Feeds raw one byte more at a time: incomplete, with header_len 0 until
 * the head is complete and head_len after, until the whole request is
 * there.  Every call sees its bytes at the end of a page.
 */
static void expect_every_prefix(const char *raw, size_t n, size_t head_len)
{
	struct http_limits lim = default_limits();
	struct http_request req;
	struct guard g;
	ssize_t rc;
	size_t i;

	guard_map(&g);
	for (i = 0; i < n; i++) {
		rc = http_parse_request(guard_place(&g, raw, i), i, &lim, &req,
					NULL);
		if (rc != HTTP_INCOMPLETE)
			print_error("prefix of %zu bytes: got %zd/%d\n", i, rc,
				    req.status);
		assert_int_equal(rc, HTTP_INCOMPLETE);
		assert_int_equal(req.header_len, i < head_len ? 0 : head_len);
		assert_int_equal(req.status, 0);
	}
	rc = http_parse_request(guard_place(&g, raw, n), n, &lim, &req, NULL);
	assert_int_equal(rc, n);
	assert_int_equal(req.header_len, head_len);
	guard_unmap(&g);
	/* Each prefix extending the last, with one state: the same answers. */
	assert_int_equal(expect_same_with_state(raw, n, &lim, 1), n);
}

/* ---- valid requests ------------------------------------------------------ */

static void test_simple_get(void **state)
{
	static const char raw[] = "GET /index.html?a=1&b=2 HTTP/1.1\r\n"
				  "Host: example.com:8080\r\n"
				  "User-Agent: test\r\n\r\n";
	struct parsed p;

	(void)state;
	expect_complete(&p, RAW(raw));
	assert_int_equal(p.req.method, HTTP_GET);
	assert_str(p.req.method_name, "GET");
	assert_str(p.req.target, "/index.html?a=1&b=2");
	assert_str(p.req.path, "/index.html");
	assert_str(p.req.query, "a=1&b=2");
	assert_int_equal(p.req.version_minor, 1);
	assert_int_equal(p.req.num_headers, 2);
	assert_str(p.req.headers[0].name, "Host");
	assert_str(p.req.headers[0].value, "example.com:8080");
	assert_str(p.req.headers[1].name, "User-Agent");
	assert_str(p.req.host, "example.com:8080");
	assert_true(p.req.keep_alive);
	assert_false(p.req.chunked);
	assert_false(p.req.expect_continue);
	assert_int_equal(p.req.content_length, 0);
	assert_int_equal(p.req.header_len, sizeof(raw) - 1);
	assert_int_equal(p.req.body.len, 0);
}

static void test_known_methods(void **state)
{
	static const struct {
		const char *raw;
		enum http_method method;
	} cases[] = {
		{ GET11 "\r\n", HTTP_GET },
		{ "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_HEAD },
		{ POST11 "\r\n", HTTP_POST },
		{ "PUT / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PUT },
		{ "DELETE / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_DELETE },
		{ "CONNECT a:443 HTTP/1.1\r\n"
		  "Host: a:443\r\n\r\n",
		  HTTP_CONNECT },
		{ "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_OPTIONS },
		{ "OPTIONS /x HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_OPTIONS },
		{ "TRACE / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_TRACE },
		{ "PATCH / HTTP/1.1\r\nHost: a\r\n\r\n", HTTP_PATCH },
	};
	struct parsed p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		expect_complete(&p, cases[i].raw, strlen(cases[i].raw));
		assert_int_equal(p.req.method, cases[i].method);
		assert_true(str_is(&p.req.method_name,
				   http_method_name(cases[i].method)));
	}
}

/* RFC 9110 9.1: a well-formed method we do not implement gets 501. */
static void test_unknown_methods_are_501(void **state)
{
	static const struct status_case cases[] = {
		{ RAW("get / HTTP/1.1\r\nHost: a\r\n\r\n"), 501 },
		{ RAW("PURGE / HTTP/1.1\r\nHost: a\r\n\r\n"), 501 },
		{ RAW("M-SEARCH /x HTTP/1.1\r\nHost: a\r\n\r\n"), 501 },
		{ RAW("GETA / HTTP/1.1\r\nHost: a\r\n\r\n"), 501 },
		{ RAW("QUERY / HTTP/1.1\r\n"
		      "Host: a\r\n"
		      "Content-Length: 9\r\n\r\n"),
		  501 },
		{ RAW("BREW / HTTP/1.0\r\n\r\n"), 501 },
		/* ...but only once the head is known to be well-formed */
		{ RAW("PURGE / HTTP/1.1\r\n\r\n"), 400 },
		{ RAW("PURGE / HTTP/1.1\r\n"
		      "Host: a\r\n"
		      "A b: c\r\n\r\n"),
		  400 },
		{ RAW("PURGE / HTTP/2.0\r\nHost: a\r\n\r\n"), 505 },
	};

	(void)state;
	expect_statuses(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_target_forms(void **state)
{
	struct parsed p;

	(void)state;
	expect_complete(&p, RAW("GET /a/b?x=1?y HTTP/1.1\r\n"
				"Host: h\r\n\r\n"));
	assert_str(p.req.path, "/a/b");
	assert_str(p.req.query, "x=1?y");

	/* A fragment is not part of a target; if sent, it is dropped. */
	expect_complete(&p, RAW("GET /a?q#frag HTTP/1.1\r\nHost: h\r\n\r\n"));
	assert_str(p.req.path, "/a");
	assert_str(p.req.query, "q");

	/* absolute-form: the authority is the host, Host is ignored. */
	expect_complete(&p, RAW("GET http://example.org:81/p/q?r HTTP/1.1\r\n"
				"Host: other\r\n\r\n"));
	assert_str(p.req.target, "http://example.org:81/p/q?r");
	assert_str(p.req.path, "/p/q");
	assert_str(p.req.query, "r");
	assert_str(p.req.host, "example.org:81");

	expect_complete(&p, RAW("GET HTTPS://example.org?r HTTP/1.1\r\n"
				"Host: example.org\r\n\r\n"));
	assert_str(p.req.path, "/");
	assert_str(p.req.query, "r");
	assert_str(p.req.host, "example.org");

	expect_complete(&p, RAW("GET http://[::1]:8080 HTTP/1.1\r\n"
				"Host: [::1]:8080\r\n\r\n"));
	assert_str(p.req.path, "/");
	assert_int_equal(p.req.query.len, 0);

	/* asterisk-form, OPTIONS only */
	expect_complete(&p, RAW("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"));
	assert_str(p.req.path, "*");

	/* authority-form, CONNECT only */
	expect_complete(&p, RAW("CONNECT h.example:443 HTTP/1.1\r\n"
				"Host: h.example:443\r\n\r\n"));
	assert_str(p.req.host, "h.example:443");
	assert_int_equal(p.req.path.len, 0);

	/* Bytes >= 0x80 are not control characters: left to the router. */
	expect_complete(&p, RAW("GET /caf\xc3\xa9 HTTP/1.1\r\n"
				"Host: h\r\n\r\n"));
	assert_str(p.req.path, "/caf\xc3\xa9");
}

/*
 * The fast path finds '?' and '#' in the words it loads to find the end
 * of the target: each delimiter at every place of targets of 2 to 20
 * bytes, so that it falls in every lane of a word, in the word where the
 * target ends and in the one before.
 */
static void test_query_and_fragment_in_every_lane(void **state)
{
	static const char fill[] = "/abcdefghijklmnopqrs";
	char target[32], raw[96];
	struct parsed p;
	size_t n, k;
	int form;

	(void)state;
	for (n = 2; n < sizeof(fill); n++) {
		for (k = 1; k < n; k++) {
			/* "/ab#de", "/ab?de", and "/ab?d#" for a query that
			   a fragment ends */
			for (form = 0; form < 3; form++) {
				memcpy(target, fill, n);
				target[n] = '\0';
				target[k] = form == 0 ? '#' : '?';
				if (form == 2)
					target[n - 1] = '#';
				snprintf(raw, sizeof(raw),
					 "GET %s HTTP/1.1\r\nHost: a\r\n\r\n",
					 target);
				expect_complete(&p, raw, strlen(raw));
				target[k] = '\0';
				assert_str(p.req.path, target);
				if (form == 2 && k < n - 1)
					target[n - 1] = '\0';
				if (form == 0 || (form == 2 && k == n - 1))
					assert_int_equal(p.req.query.len, 0);
				else
					assert_str(p.req.query, target + k + 1);
			}
		}
	}
}

/*
 * The Host check reads one byte past the value, which every caller has:
 * the OWS trimmed off it, its line end (CRLF or a bare LF), or after a
 * target's authority, '/', '?', '#' or SP.  Each of them, after a name
 * and after a port.
 */
static void test_host_ends(void **state)
{
	static const char *const hosts[] = { "a",	 "localhost",
					     "a:80",	 "localhost:8080",
					     "[::1]:80", "a%20b" };
	static const char *const after_value[] = { " \r\n", "\t\r\n", "\r\n",
						   "\n" };
	static const char *const after_authority[] = { "", "/", "/p", "?q",
						       "#f" };
	char raw[128];
	struct parsed p;
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		for (j = 0; j < sizeof(after_value) / sizeof(after_value[0]);
		     j++) {
			snprintf(raw, sizeof(raw),
				 "GET / HTTP/1.1\r\nHost: %s%s\r\n", hosts[i],
				 after_value[j]);
			expect_complete(&p, raw, strlen(raw));
			assert_str(p.req.host, hosts[i]);
		}
		for (j = 0;
		     j < sizeof(after_authority) / sizeof(after_authority[0]);
		     j++) {
			snprintf(raw, sizeof(raw),
				 "GET http://%s%s HTTP/1.1\r\nHost: b\r\n\r\n",
				 hosts[i], after_authority[j]);
			expect_complete(&p, raw, strlen(raw));
			assert_str(p.req.host, hosts[i]);
		}
	}
	/* A port that runs into something else is still refused. */
	expect_status(RAW("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n"), 400);
	expect_status(RAW("GET / HTTP/1.1\r\nHost: a:8 0\r\n\r\n"), 400);
	expect_status(RAW("GET http://a:80x/ HTTP/1.1\r\nHost: a\r\n\r\n"),
		      400);
}

static void test_request_line_rejections(void **state)
{
	static const struct status_case cases[] = {
		/* method: a token, then exactly one SP */
		{ RAW(" / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("G\x00T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("G\tT / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GE(T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW(":GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET\x7f / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("G\xc3\xa9T / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		/* target */
		{ RAW("GET  HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET /  HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET /\x7fx HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET /\x01x HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET /\x00x HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET /\tx HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET index.html HTTP/1.1\r\n"
		      "Host: a\r\n\r\n"),
		  400 },
		{ RAW("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("OPTIONS ** HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET http://u:p@a/x HTTP/1.1\r\n"
		      "Host: a\r\n\r\n"),
		  400 },
		{ RAW("GET a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n"), 400 },
		/* HTTP/0.9 has no version at all */
		{ RAW("GET /\r\n\r\n"), 400 },
		/* version: "HTTP/" DIGIT "." DIGIT */
		{ RAW("GET / HTTP/1.01\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/01.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/11.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET / HTTX/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET / http/1.1\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET / ICE/1.0\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n"), 400 },
		/* well-formed, but not a version we speak */
		{ RAW("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505 },
		{ RAW("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505 },
		{ RAW("GET / HTTP/0.9\r\n\r\n"), 505 },
		{ RAW("GET / HTTP/5.6\r\nHost: a\r\n\r\n"), 505 },
	};

	(void)state;
	expect_statuses(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_versions(void **state)
{
	struct parsed p;

	(void)state;
	expect_complete(&p, RAW("GET / HTTP/1.0\r\n\r\n"));
	assert_int_equal(p.req.version_minor, 0);
	assert_int_equal(p.req.host.len, 0);
	expect_complete(&p, RAW(GET11 "\r\n"));
	assert_int_equal(p.req.version_minor, 1);
}

/* RFC 9112 2.2: empty lines before a request line are ignored. */
static void test_leading_empty_lines(void **state)
{
	static const char raw[] = "\r\n\r\n"
				  "\nGET / HTTP/1.1\r\n"
				  "Host: a\r\n\r\n";
	struct parsed p;

	(void)state;
	expect_complete(&p, RAW(raw));
	assert_str(p.req.method_name, "GET");
	assert_int_equal(p.req.header_len, sizeof(raw) - 1);
	expect_status(RAW("\r\rGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
	expect_status(RAW(" \r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
}

/* RFC 9112 2.2: a bare LF may end a line of the head; a bare CR may not. */
static void test_line_ends(void **state)
{
	static const struct status_case cases[] = {
		{ RAW("GET / HTTP/1.1\rHost: a\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n"), 400 },
		{ RAW(GET11 "X: b\rc\r\n\r\n"), 400 },
		{ RAW(GET11 "\rX\r\n\r\n"), 400 },
		{ RAW(GET11 "Content-Length: 3\r\n\rabc"), 400 },
		{ RAW("GET / HTTP/1.1\r\nHost\r: a\r\n\r\n"), 400 },
	};
	struct parsed p;

	(void)state;
	expect_complete(&p, RAW("GET / HTTP/1.1\nHost: a\nX: b\n\n"));
	assert_int_equal(p.req.num_headers, 2);
	assert_str(p.req.headers[1].value, "b");
	expect_complete(&p, RAW("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\n"));
	assert_str(p.req.headers[0].value, "a");
	expect_statuses(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_header_values(void **state)
{
	struct parsed p;

	(void)state;
	expect_complete(&p, RAW("GET / HTTP/1.1\r\n"
				"Host:a\r\n"
				"A: \t one \t two \t \r\n"
				"B:\r\n"
				"C:    \r\n"
				"D: caf\xc3\xa9 \xff\r\n"
				"|~!#$%&'*+-.^_`: x\r\n\r\n"));
	assert_int_equal(p.req.num_headers, 6);
	assert_str(p.req.headers[0].value, "a");
	assert_str(p.req.headers[1].value, "one \t two");
	assert_str(p.req.headers[2].value, "");
	assert_str(p.req.headers[3].value, "");
	assert_str(p.req.headers[4].value, "caf\xc3\xa9 \xff");
	assert_str(p.req.headers[5].name, "|~!#$%&'*+-.^_`");
	assert_str(*http_find_header(&p.req, "a"), "one \t two");
}

static void test_header_rejections(void **state)
{
	static const struct status_case cases[] = {
		/* field-name is a token, right before the colon */
		{ RAW(GET11 "A b: c\r\n\r\n"), 400 },
		{ RAW(GET11 "Ab : c\r\n\r\n"), 400 },
		{ RAW(GET11 "Ab\t: c\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), 400 },
		{ RAW(GET11 ": c\r\n\r\n"), 400 },
		{ RAW(GET11 "A@: c\r\n\r\n"), 400 },
		{ RAW(GET11 "/: c\r\n\r\n"), 400 },
		{ RAW(GET11 "{: c\r\n\r\n"), 400 },
		{ RAW(GET11 "A\x00: c\r\n\r\n"), 400 },
		{ RAW(GET11 "A\x1b: c\r\n\r\n"), 400 },
		{ RAW(GET11 "A\xc3\xa9: c\r\n\r\n"), 400 },
		{ RAW(GET11 "NoColon\r\n\r\n"), 400 },
		/* obs-fold, also on the first field line */
		{ RAW(GET11 "A: b\r\n c\r\n\r\n"), 400 },
		{ RAW(GET11 "A: b\r\n\tc\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), 400 },
		/* control characters in a value */
		{ RAW(GET11 "A: b\x00"
			    "c\r\n\r\n"),
		  400 },
		{ RAW(GET11 "A: b\x01\r\n\r\n"), 400 },
		{ RAW(GET11 "A: \x1b\r\n\r\n"), 400 },
		{ RAW(GET11 "A: b\x7f\r\n\r\n"), 400 },
		{ RAW(GET11 "A: b\rc\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.0\r\nA: \x0b\r\n\r\n"), 400 },
	};

	(void)state;
	expect_statuses(cases, sizeof(cases) / sizeof(cases[0]));
}

/* RFC 9112 3.2: exactly one valid Host in HTTP/1.1, at most one in 1.0. */
static void test_host(void **state)
{
	static const struct status_case cases[] = {
		{ RAW("GET / HTTP/1.1\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nX: a\r\n\r\n"), 400 },
		{ RAW(GET11 "Host: b\r\n\r\n"), 400 },
		{ RAW(GET11 "host: a\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.0\r\n"
		      "Host: a\r\n"
		      "Host: a\r\n\r\n"),
		  400 },
		{ RAW("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nHost: a:b\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nHost: a%zz\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nHost: a\"b\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nHost: []\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.0\r\nHost: a?b\r\n\r\n"), 400 },
	};
	static const char *const valid[] = {
		"localhost", "example.com:8080",    "0.0.0.0=5000", "[::1]",
		"[::1]:80",  "xn--caf-dma.example", "a%20b",	    "a:",
		"",
	};
	char raw[128];
	struct parsed p;
	size_t i;

	(void)state;
	expect_statuses(cases, sizeof(cases) / sizeof(cases[0]));
	for (i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		snprintf(raw, sizeof(raw), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n",
			 valid[i]);
		expect_complete(&p, raw, strlen(raw));
		assert_str(p.req.host, valid[i]);
	}
	expect_complete(&p, RAW("GET / HTTP/1.0\r\n\r\n"));
	assert_int_equal(p.req.host.len, 0);
}

static void test_content_length(void **state)
{
	static const struct status_case cases[] = {
		{ RAW(POST11 "Content-Length: +2\r\n\r\nab"), 400 },
		{ RAW(POST11 "Content-Length: -1\r\n\r\n"), 400 },
		{ RAW(POST11 "Content-Length:\r\n\r\n"), 400 },
		{ RAW(POST11 "Content-Length: 4 2\r\n\r\n"), 400 },
		{ RAW(POST11 "Content-Length: 0x1\r\n\r\n"), 400 },
		{ RAW(POST11 "Content-Length: 1e3\r\n\r\n"), 400 },
		{ RAW(POST11 "Content-Length: 1,\r\n\r\na"), 400 },
		{ RAW(POST11 "Content-Length: 18446744073709551616\r\n\r\n"),
		  400 },
		{ RAW(POST11 "Content-Length: 1000000000000000000000\r\n\r\n"),
		  400 },
		{ RAW(POST11 "Content-Length: 1\r\n"
			     "Content-Length: 2\r\n\r\n"
			     "ab"),
		  400 },
		{ RAW(POST11 "Content-Length: 0\r\n"
			     "Content-Length: 1\r\n\r\n"
			     "x"),
		  400 },
		{ RAW(POST11 "Content-Length: 1, 2\r\n\r\nab"), 400 },
		/* fits in 64 bits, but not in max_body */
		{ RAW(POST11 "Content-Length: 18446744073709551615\r\n\r\n"),
		  413 },
	};
	struct parsed p;

	(void)state;
	expect_statuses(cases, sizeof(cases) / sizeof(cases[0]));

	expect_complete(&p, RAW("PUT / HTTP/1.1\r\n"
				"Host: a\r\n"
				"Content-Length: 003\r\n\r\n"
				"abc"));
	assert_int_equal(p.req.content_length, 3);
	assert_str(p.req.body, "abc");

	expect_complete(&p, RAW("PUT / HTTP/1.1\r\n"
				"Host: a\r\n"
				"Content-Length:\t 5 \t\r\n\r\n"
				"hello"));
	assert_str(p.req.body, "hello");

	/* Identical duplicates carry no ambiguity (RFC 9110 8.6). */
	expect_complete(&p, RAW("PUT / HTTP/1.1\r\n"
				"Host: a\r\n"
				"Content-Length: 2\r\n"
				"content-length: 02\r\n\r\n"
				"ab"));
	assert_int_equal(p.req.content_length, 2);
	expect_complete(&p, RAW("PUT / HTTP/1.1\r\n"
				"Host: a\r\n"
				"Content-Length: 2, 2\r\n\r\n"
				"ab"));
	assert_str(p.req.body, "ab");

	expect_complete(&p, RAW("GET / HTTP/1.0\r\n"
				"conTENT-length: 5\r\n\r\n"
				"HELLO"));
	assert_str(p.req.body, "HELLO");
}

/* A declared length over max_body is refused before the body is read. */
static void test_content_length_over_limit(void **state)
{
	static const char raw[] = POST11 "Content-Length: 17\r\n\r\n";
	struct http_limits lim = small_limits();
	struct parsed p;

	(void)state;
	lim.max_header_bytes = 128;
	parse_with(&p, RAW(raw), &lim);
	assert_int_equal(p.rc, HTTP_ERROR);
	assert_int_equal(p.req.status, 413);
	assert_int_equal(p.req.header_len, sizeof(raw) - 1);

	/* max_body itself is fine */
	parse_with(&p, RAW(POST11 "Content-Length: 16\r\n\r\n"), &lim);
	assert_int_equal(p.rc, HTTP_INCOMPLETE);
	assert_int_equal(p.req.content_length, 16);

	expect_status(RAW(POST11 "Content-Length: 1048577\r\n\r\n"), 413);
}

static void test_transfer_encoding(void **state)
{
	static const struct status_case cases[] = {
		/* LESSON-worthy: both framings at once is a smuggling shape */
		{ RAW(POST11 "Content-Length: 5\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n"
			     "0\r\n\r\n"),
		  400 },
		{ RAW(POST11 "Transfer-Encoding: chunked\r\n"
			     "Content-Length: 5\r\n\r\n"
			     "0\r\n\r\n"),
		  400 },
		{ RAW(POST11 "Content-Length: 1\r\n"
			     "Transfer-Encoding: identity\r\n\r\n"
			     "a"),
		  400 },
		/* chunked not final: the length cannot be known */
		{ RAW(POST11 "Transfer-Encoding: gzip\r\n\r\n"), 400 },
		{ RAW(POST11 "Transfer-Encoding: identity\r\n\r\n"), 400 },
		{ RAW(POST11 "Transfer-Encoding: pigeons\r\n\r\n"), 400 },
		{ RAW(POST11 "Transfer-Encoding: chunked, gzip\r\n\r\n"), 400 },
		{ RAW(POST11 "Transfer-Encoding: chunked\r\n"
			     "Transfer-Encoding: gzip\r\n\r\n"),
		  400 },
		{ RAW(POST11 "Transfer-Encoding: chunkedchunked\r\n\r\n"),
		  400 },
		{ RAW(POST11 "Transfer-Encoding: chunked;x=1\r\n\r\n"), 400 },
		{ RAW(POST11 "Transfer-Encoding:\r\n\r\n"), 400 },
		{ RAW(POST11 "Transfer-Encoding: ,\r\n\r\n"), 400 },
		/* chunked twice */
		{ RAW(POST11 "Transfer-Encoding: chunked, chunked\r\n\r\n"),
		  400 },
		/* framing fine, but a coding we cannot decode */
		{ RAW(POST11 "Transfer-Encoding: gzip, chunked\r\n\r\n"), 501 },
		{ RAW(POST11 "Transfer-Encoding: gzip\r\n"
			     "Transfer-Encoding: chunked\r\n\r\n"),
		  501 },
		/* an HTTP/1.0 client cannot mean it */
		{ RAW("POST / HTTP/1.0\r\n"
		      "Transfer-Encoding: chunked\r\n\r\n"
		      "0\r\n\r\n"),
		  400 },
		{ RAW(POST11 "Transfer-Encoding : chunked\r\n\r\n"
			     "0\r\n\r\n"),
		  400 },
		{ RAW(POST11 "Transfer-Encoding: chunked\r\n"
			     " abc\r\n\r\n"
			     "0\r\n\r\n"),
		  400 },
	};
	struct parsed p;

	(void)state;
	expect_statuses(cases, sizeof(cases) / sizeof(cases[0]));
	expect_complete(&p, RAW(POST11 "Transfer-Encoding: CHUNKED\r\n\r\n"
				       "0\r\n\r\n"));
	assert_true(p.req.chunked);
	expect_complete(&p, RAW(POST11 "Transfer-Encoding: , chunked ,\r\n\r\n"
				       "0\r\n\r\n"));
	assert_true(p.req.chunked);
}

static void test_chunked_decoding(void **state)
{
	struct parsed p;

	(void)state;
	expect_complete(&p, RAW(POST11 "Transfer-Encoding: chunked\r\n\r\n"
				       "5\r\n"
				       "hello\r\n"
				       "6\r\n"
				       " world\r\n"
				       "0\r\n\r\n"));
	assert_true(p.req.chunked);
	assert_int_equal(p.req.content_length, 0);
	assert_str(p.req.body, "hello world");
	assert_true(p.req.body.p == p.buf + p.req.header_len);

	/* hex in both cases, leading zeros, "000" as the last chunk */
	expect_complete(&p, RAW(POST11 "Transfer-Encoding: chunked\r\n\r\n"
				       "0A\r\n"
				       "0123456789\r\n"
				       "00b\r\n"
				       "abcdefghijk\r\n"
				       "000\r\n\r\n"));
	assert_str(p.req.body, "0123456789abcdefghijk");

	/* extensions: BWS, tokens, quoted strings with quoted-pairs */
	expect_complete(&p,
			RAW(POST11 "Transfer-Encoding: chunked\r\n\r\n"
				   "5;a;b=c ; d = \"e \\\"f\\\"; g\\\\\"\r\n"
				   "hello\r\n"
				   "6 ;x\t\r\n"
				   " world\r\n"
				   "0;last=\"\"\r\n\r\n"));
	assert_str(p.req.body, "hello world");

	/* trailers are checked and dropped */
	expect_complete(&p, RAW(POST11 "Transfer-Encoding: chunked\r\n\r\n"
				       "3\r\n"
				       "abc\r\n"
				       "0\r\n"
				       "Vary: *\r\n"
				       "X-T: 1\r\n\r\n"));
	assert_str(p.req.body, "abc");
	assert_int_equal(p.req.num_headers, 2);

	/* an empty body, and data containing CRLF */
	expect_complete(&p, RAW(POST11 "Transfer-Encoding: chunked\r\n\r\n"
				       "0\r\n\r\n"));
	assert_int_equal(p.req.body.len, 0);
	expect_complete(&p, RAW(POST11 "Transfer-Encoding: chunked\r\n\r\n"
				       "4\r\n\r\n\r\n\r\n"
				       "0\r\n\r\n"));
	assert_str(p.req.body, "\r\n\r\n");
}

/* The data is moved in place; bytes past the request stay as they were. */
static void test_chunked_leaves_next_request(void **state)
{
	static const char first[] = POST11 "Transfer-Encoding: chunked\r\n\r\n"
					   "2\r\n"
					   "ab\r\n"
					   "1;x=y\r\n"
					   "c\r\n"
					   "0\r\n\r\n";
	static const char next[] = GET11 "\r\n";
	char raw[sizeof(first) + sizeof(next)];
	struct parsed p;

	(void)state;
	memcpy(raw, first, sizeof(first) - 1);
	memcpy(raw + sizeof(first) - 1, next, sizeof(next));
	parse_with(&p, raw, strlen(raw), NULL);
	assert_int_equal(p.rc, sizeof(first) - 1);
	assert_str(p.req.body, "abc");
	assert_memory_equal(p.buf + p.rc, next, sizeof(next) - 1);
}

static void test_chunked_rejections(void **state)
{
#define TE POST11 "Transfer-Encoding: chunked\r\n\r\n"
	static const struct status_case cases[] = {
		{ RAW(TE "z\r\nabc\r\n0\r\n\r\n"), 400 },
		{ RAW(TE "1x\r\na\r\n0\r\n\r\n"), 400 },
		{ RAW(TE "\r\nabc\r\n0\r\n\r\n"), 400 },
		{ RAW(TE "-1\r\na\r\n0\r\n\r\n"), 400 },
		{ RAW(TE "0x1\r\na\r\n0\r\n\r\n"), 400 },
		{ RAW(TE "3\r\nfoo\r\n\r\n"), 400 },
		{ RAW(TE "2 junk\r\naa\r\n0\r\n\r\n"), 400 },
		/* bare LF and bare CR anywhere in the framing */
		{ RAW(TE "6\nhello \r\n0\r\n\r\n"), 400 },
		{ RAW(TE "6\r\nhello \n0\r\n\r\n"), 400 },
		{ RAW(TE "6\r\nhello \r\n0\n\r\n"), 400 },
		{ RAW(TE "6\r\nhello \r\n0\r\n\n"), 400 },
		{ RAW(TE "6\rX\nhello \r\n0\r\n\r\n"), 400 },
		{ RAW(TE "3 \n  \r\nfoo\r\n0\r\n\r\n"), 400 },
		{ RAW(TE "5\r\r;x\r\nhello\r\n0\r\n\r\n"), 400 },
		/* data must be followed by CRLF */
		{ RAW(TE "5\r\nABCDE0\r\n\r\n"), 400 },
		{ RAW(TE "3\r\nabcd\r\n0\r\n\r\n"), 400 },
		/* extensions */
		{ RAW(TE "2;\r\naa\r\n0\r\n\r\n"), 400 },
		{ RAW(TE "2;=x\r\naa\r\n0\r\n\r\n"), 400 },
		{ RAW(TE "2;a=\r\naa\r\n0\r\n\r\n"), 400 },
		{ RAW(TE "2;a=\"b\r\naa\r\n0\r\n\r\n"), 400 },
		{ RAW(TE "2;a=\"b\x01\"\r\naa\r\n0\r\n\r\n"), 400 },
		{ RAW(TE "2;a b\r\naa\r\n0\r\n\r\n"), 400 },
		{ RAW(TE "2;a=b c\r\naa\r\n0\r\n\r\n"), 400 },
		/* trailers are fields */
		{ RAW(TE "0\r\nA b: c\r\n\r\n"), 400 },
		{ RAW(TE "0\r\nA: b\r\n c\r\n\r\n"), 400 },
		{ RAW(TE "0\r\nA: \x01\r\n\r\n"), 400 },
		{ RAW(TE "0\r\nNoColon\r\n\r\n"), 400 },
		/* a size that overflows any integer is over max_body first */
		{ RAW(TE "fffffffffffffffff\r\nabc\r\n0\r\n\r\n"), 413 },
		{ RAW(TE "100001\r\nabc"), 413 },
	};
#undef TE

	(void)state;
	expect_statuses(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_chunked_limits(void **state)
{
#define TE POST11 "Transfer-Encoding: chunked\r\n\r\n"
	static const char full[] = TE "8\r\n12345678\r\n8\r\n12345678\r\n"
				      "0\r\n\r\n";
	struct http_limits lim = small_limits();
	struct parsed p;
	char raw[256];
	size_t n, i;

	(void)state;
	/* exactly max_body (16) decoded bytes */
	parse_with(&p, RAW(full), &lim);
	assert_int_equal(p.rc, sizeof(full) - 1);
	assert_str(p.req.body, "1234567812345678");

	/* one more: refused as soon as the size line says so */
	expect_status_with(RAW(TE "8\r\n12345678\r\n9\r\n"), &lim, 413);
	expect_status_with(RAW(TE "11"), &lim, 413);

	/*
	 * The raw body may take max_body + max_header_bytes = 80 bytes:
	 * 14 one-byte chunks decode to only 14 bytes but take 84, and a
	 * chunk size of 80 zeros is refused because its line can no longer
	 * end within the limit.
	 */
	n = (size_t)sprintf(raw, "%s", TE);
	for (i = 0; i < 14; i++)
		n += (size_t)sprintf(raw + n, "1\r\na\r\n");
	expect_status_with(raw, n, &lim, 413);
	n = (size_t)sprintf(raw, "%s", TE);
	memset(raw + n, '0', 80);
	expect_status_with(raw, n + 80, &lim, 413);
	parse_with(&p, raw, n + 70, &lim);
	assert_int_equal(p.rc, HTTP_INCOMPLETE);
#undef TE
}

/* ---- incremental parsing ------------------------------------------------- */

static void test_every_prefix_is_incomplete(void **state)
{
	static const char get[] = "GET /a?b=c HTTP/1.1\r\n"
				  "Host: example.com\r\n"
				  "Accept: */*\r\n"
				  "X-Empty:\r\n\r\n";
	static const char post[] = "\r\n"
				   "POST /form HTTP/1.1\r\n"
				   "Host: example.com\r\n"
				   "Content-Length: 11\r\n\r\n"
				   "hello world";
	static const char head_chunked[] = "PUT /up HTTP/1.1\r\n"
					   "Host: example.com\r\n"
					   "Transfer-Encoding: chunked\r\n\r\n";
	static const char chunked[] = "PUT /up HTTP/1.1\r\n"
				      "Host: example.com\r\n"
				      "Transfer-Encoding: chunked\r\n\r\n"
				      "5;name=\"va;lue\"\r\n"
				      "hello\r\n"
				      "1A ; ext\r\n"
				      "abcdefghijklmnopqrstuvwxyz\r\n"
				      "0;done\r\n"
				      "Trailer-One: 1\r\n"
				      "Trailer-Two: two\r\n\r\n";
	static const char lf_only[] = "GET / HTTP/1.0\nA: b\n\n";

	(void)state;
	expect_every_prefix(RAW(get), sizeof(get) - 1);
	expect_every_prefix(RAW(post), sizeof(post) - 1 - 11);
	expect_every_prefix(RAW(chunked), sizeof(head_chunked) - 1);
	expect_every_prefix(RAW(lf_only), sizeof(lf_only) - 1);
}

/* Any read past the given length hits the PROT_NONE page and crashes. */
static void test_guard_page_partial_lines(void **state)
{
	static const char *const raws[] = {
		GET11 "\r",
		GET11 "A: b\r",
		"GET / HTTP/1.1\r",
		"GET / HTTP/1.",
		POST11 "Transfer-Encoding: chunked\r\n\r\n"
		       "5;a=\"b\\",
		POST11 "Transfer-Encoding: chunked\r\n\r\n"
		       "5\r\n"
		       "hello\r",
		POST11 "Transfer-Encoding: chunked\r\n\r\n"
		       "0\r\n"
		       "A: b\r\n"
		       "\r",
	};
	struct http_limits lim = default_limits();
	struct http_request req;
	struct guard g;
	size_t i, n;

	(void)state;
	guard_map(&g);
	for (i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		n = strlen(raws[i]);
		assert_int_equal(http_parse_request(guard_place(&g, raws[i], n),
						    n, &lim, &req, NULL),
				 HTTP_INCOMPLETE);
	}
	guard_unmap(&g);
}

static void test_pipelining(void **state)
{
	static const char raw[] = "POST /a HTTP/1.1\r\n"
				  "Host: h\r\n"
				  "Content-Length: 3\r\n\r\n"
				  "AAA\r\n"
				  "GET /b HTTP/1.1\r\n"
				  "Host: h\r\n\r\n"
				  "PUT /c HTTP/1.1\r\n"
				  "Host: h\r\n"
				  "Transfer-Encoding: chunked\r\n\r\n"
				  "2\r\n"
				  "CC\r\n"
				  "0\r\n\r\n"
				  "GET /d HTTP/1.1\r\n"
				  "Ho";
	static const char *const paths[] = { "/a", "/b", "/c" };
	static const char *const bodies[] = { "AAA", "", "CC" };
	struct parsed p;
	char *at;
	size_t left = sizeof(raw) - 1;
	size_t i;
	ssize_t n;

	(void)state;
	memcpy(p.buf, raw, left);
	at = p.buf;
	for (i = 0; i < 3; i++) {
		n = http_parse_request(at, left, NULL, &p.req, NULL);
		assert_true(n > 0);
		assert_str(p.req.path, paths[i]);
		assert_str(p.req.body, bodies[i]);
		at += n;
		left -= (size_t)n;
	}
	assert_int_equal(http_parse_request(at, left, NULL, &p.req, NULL),
			 HTTP_INCOMPLETE);
	assert_int_equal(left, strlen("GET /d HTTP/1.1\r\nHo"));
}

/* ---- with a state: the same answers, linear work ------------------------- */

/*
 * Feeds buf[0..n) step bytes more per call to *st, freshly initialised,
 * as a server does after each read.  Every answer before the last byte
 * must be "incomplete"; returns the final one.
 */
static ssize_t feed(char *buf, size_t n, const struct http_limits *lim,
		    size_t step, struct http_request *req,
		    struct http_parse_state *st)
{
	size_t len = 0;
	ssize_t rc;

	http_parse_state_init(st);
	do {
		len = n - len > step ? len + step : n;
		rc = http_parse_request(buf, len, lim, req, st);
	} while (rc == HTTP_INCOMPLETE && len < n);
	if (len < n)
		print_error("answer %zd/%d after %zu of %zu bytes\n", rc,
			    req->status, len, n);
	assert_int_equal(len, n);
	return rc;
}

/*
 * Parses raw[0..n) from scratch, then in pieces of step bytes with a state:
 * the same complete request (fields and body), for at most factor * n
 * bytes examined.  Returns the bytes examined.
 */
static size_t expect_linear(const char *raw, size_t n, size_t step,
			    size_t factor)
{
	struct http_request one, inc;
	struct http_parse_state st;
	char *copy = malloc(n), *buf = malloc(n);

	assert_non_null(copy);
	assert_non_null(buf);
	memcpy(copy, raw, n);
	memcpy(buf, raw, n);
	assert_int_equal(http_parse_request(copy, n, NULL, &one, NULL), n);
	assert_int_equal(feed(buf, n, NULL, step, &inc, &st), n);
	assert_same_request(&inc, buf, &one, copy);
	if (st.examined > factor * n)
		print_error("%zu bytes in pieces of %zu: %zu examined\n", n,
			    step, st.examined);
	assert_true(st.examined <= factor * n);
	free(buf);
	free(copy);
	return st.examined;
}

/* The issue's 7.7 KB head, and heads with one long line, byte by byte. */
static void test_head_byte_by_byte_is_linear(void **state)
{
	static char raw[HTTP_DEFAULT_MAX_HEADER_BYTES + 512];
	size_t n, i;

	(void)state;
	/* 40 fields of 190 bytes */
	n = (size_t)sprintf(raw, "GET /a?b=c HTTP/1.1\r\nHost: h\r\n");
	for (i = 0; i < 40; i++) {
		n += (size_t)sprintf(raw + n, "X-Field-%02zu: ", i);
		memset(raw + n, 'v', 175);
		n += 175;
		n += (size_t)sprintf(raw + n, "\r\n");
	}
	n += (size_t)sprintf(raw + n, "\r\n");
	assert_true(n > 7500);
	expect_linear(raw, n, 1, 2);

	/* a 7.9 KB target */
	n = (size_t)sprintf(raw, "GET /");
	memset(raw + n, 't', 7900);
	n += 7900;
	n += (size_t)sprintf(raw + n, " HTTP/1.1\r\nHost: h\r\n\r\n");
	expect_linear(raw, n, 1, 2);

	/* a 7.9 KB field value, and empty lines before the request */
	n = (size_t)sprintf(raw, "\r\n\r\nPUT / HTTP/1.1\r\nHost: h\r\n"
				 "Content-Length: 5\r\nX: ");
	memset(raw + n, ' ', 100);
	memset(raw + n + 100, 'v', 7800);
	n += 7900;
	n += (size_t)sprintf(raw + n, "\r\n\r\nhello");
	expect_linear(raw, n, 1, 2);
}

/* Appends n one-byte chunks "1;e=\"...\"\r\nx\r\n" (with ext if asked). */
static size_t add_chunks(char *p, size_t n, bool ext)
{
	static const char plain[] = "1\r\nx\r\n";
	static const char with_ext[] = "1 ; e=\"q\\\"\" ;f=g\r\ny\r\n";
	const char *c = ext ? with_ext : plain;
	size_t len = strlen(c), i;

	for (i = 0; i < n; i++)
		memcpy(p + i * len, c, len);
	return n * len;
}

#define CHUNKED_HEAD POST11 "Transfer-Encoding: chunked\r\n\r\n"

/*
 * The issue's chunked upload: about 1 MiB of 1-byte chunks in 300-byte
 * pieces.  Then smaller bodies byte by byte: with extensions and
 * trailers, and with a long size line and a long extension.
 */
static void test_chunked_in_pieces_is_linear(void **state)
{
	size_t cap = 1100 * 1000, n;
	char *raw = malloc(cap);

	(void)state;
	assert_non_null(raw);
	n = (size_t)sprintf(raw, "%s", CHUNKED_HEAD);
	n += add_chunks(raw + n, 174000, false);
	n += (size_t)sprintf(raw + n, "0\r\n\r\n");
	assert_true(n > 1000 * 1000 && n < cap);
	expect_linear(raw, n, 300, 4);

	n = (size_t)sprintf(raw, "%s", CHUNKED_HEAD);
	n += add_chunks(raw + n, 500, false);
	n += add_chunks(raw + n, 500, true);
	n += (size_t)sprintf(raw + n, "0\r\nT-1: a\r\nT-2: b\r\n\r\n");
	expect_linear(raw, n, 1, 4);

	n = (size_t)sprintf(raw, "%s", CHUNKED_HEAD);
	memset(raw + n, '0', 5000);
	n += 5000;
	n += (size_t)sprintf(raw + n, "3;n=\"");
	memset(raw + n, 'q', 5000);
	n += 5000;
	n += (size_t)sprintf(raw + n, "\"\r\nabc\r\n0\r\n\r\n");
	expect_linear(raw, n, 1, 4);
	free(raw);
}

/*
 * Feeds raw one byte more per call with a state until an answer that is
 * not "incomplete"; *at is the length that gave it.
 */
static ssize_t first_answer(const char *raw, size_t n,
			    const struct http_limits *lim,
			    struct http_request *req, size_t *at)
{
	struct http_parse_state st;
	ssize_t rc;

	http_parse_state_init(&st);
	for (*at = 0; *at <= n; (*at)++) {
		rc = http_parse_request((char *)raw, *at, lim, req, &st);
		if (rc != HTTP_INCOMPLETE)
			return rc;
	}
	return HTTP_INCOMPLETE;
}

/*
 * With a state, each limit still fires as soon as a byte past it is asked
 * for, long before the request would be complete; and a refused HEAD still
 * names its method, so it can be answered without a body.
 */
static void test_limits_fire_early_with_state(void **state)
{
	struct http_limits lim = small_limits();
	struct http_request req;
	char raw[512];
	size_t n, at;

	(void)state;
	/*
	 * 414: the request line may hold 32 bytes before its line end, so
	 * once 32 bytes of target-to-be have come, the next one asked for
	 * is past the limit, whatever it will be.
	 */
	n = (size_t)sprintf(raw, "HEAD /");
	memset(raw + n, 'a', 200);
	assert_int_equal(first_answer(raw, n + 200, &lim, &req, &at),
			 HTTP_ERROR);
	assert_int_equal(req.status, 414);
	assert_int_equal(at, 32);
	assert_int_equal(req.method, HTTP_HEAD);
	assert_str(req.method_name, "HEAD");

	/* 431: the field lines may hold 64 bytes */
	n = (size_t)sprintf(raw, "HEAD / HTTP/1.1\r\nHost: a\r\nX: ");
	memset(raw + n, 'v', 200);
	assert_int_equal(first_answer(raw, n + 200, &lim, &req, &at),
			 HTTP_ERROR);
	assert_int_equal(req.status, 431);
	assert_int_equal(at, strlen("HEAD / HTTP/1.1\r\n") + 64);
	assert_int_equal(req.method, HTTP_HEAD);
	assert_str(req.method_name, "HEAD");

	/* 431: a fifth field line, as soon as it starts */
	n = (size_t)sprintf(raw, "HEAD / HTTP/1.1\r\nHost: a\r\nB:\r\n"
				 "C:\r\nD:\r\nE: e\r\n\r\n");
	assert_int_equal(first_answer(raw, n, &lim, &req, &at), HTTP_ERROR);
	assert_int_equal(req.status, 431);
	assert_int_equal(at, n - strlen(": e\r\n\r\n"));
	assert_int_equal(req.method, HTTP_HEAD);

	/* 413: a declared length, as soon as the head is complete */
	n = (size_t)sprintf(raw, POST11 "Content-Length: 17\r\n\r\n");
	memset(raw + n, 'b', 17);
	lim.max_header_bytes = 128;
	assert_int_equal(first_answer(raw, n + 17, &lim, &req, &at),
			 HTTP_ERROR);
	assert_int_equal(req.status, 413);
	assert_int_equal(at, n);

	/* 413: chunk framing past max_body + max_header_bytes (80) */
	lim = small_limits();
	n = (size_t)sprintf(raw, "%s", CHUNKED_HEAD);
	n += add_chunks(raw + n, 20, false);
	n += (size_t)sprintf(raw + n, "0\r\n\r\n");
	assert_int_equal(first_answer(raw, n, &lim, &req, &at), HTTP_ERROR);
	assert_int_equal(req.status, 413);
	assert_int_equal(at, strlen(CHUNKED_HEAD) + 80);

	/* 413: a chunk size over max_body (16), at its second digit */
	n = (size_t)sprintf(raw, "%s11\r\n", CHUNKED_HEAD);
	assert_int_equal(first_answer(raw, n, &lim, &req, &at), HTTP_ERROR);
	assert_int_equal(req.status, 413);
	assert_int_equal(at, strlen(CHUNKED_HEAD) + 2);
}

/*
 * A server's loop: read a few bytes, parse with the connection's state,
 * answer a complete request, move what follows it to the front and start
 * a new state.  Pipelined requests come out one by one.
 */
static void test_state_across_pipelined_requests(void **state)
{
	static const char stream[] = "POST /a HTTP/1.1\r\n"
				     "Host: h\r\n"
				     "Content-Length: 3\r\n\r\n"
				     "AAA"
				     "PUT /b HTTP/1.1\r\n"
				     "Host: h\r\n"
				     "Transfer-Encoding: chunked\r\n\r\n"
				     "2\r\n"
				     "BB\r\n"
				     "0\r\n\r\n"
				     "GET /c HTTP/1.1\r\n"
				     "Host: h\r\n\r\n";
	static const char *const paths[] = { "/a", "/b", "/c" };
	static const char *const bodies[] = { "AAA", "BB", "" };
	struct http_parse_state st;
	struct http_request req;
	char buf[sizeof(stream)];
	size_t sent = 0, used = 0, done = 0, piece;
	ssize_t n;

	(void)state;
	http_parse_state_init(&st);
	while (sent < sizeof(stream) - 1) {
		piece = sizeof(stream) - 1 - sent < 7
				? sizeof(stream) - 1 - sent
				: 7;
		memcpy(buf + used, stream + sent, piece);
		sent += piece;
		used += piece;
		while ((n = http_parse_request(buf, used, NULL, &req, &st)) >
		       0) {
			assert_true(done < 3);
			assert_str(req.path, paths[done]);
			assert_str(req.body, bodies[done]);
			done++;
			memmove(buf, buf + n, used - (size_t)n);
			used -= (size_t)n;
			http_parse_state_init(&st);
		}
		assert_int_equal(n, HTTP_INCOMPLETE);
	}
	assert_int_equal(done, 3);
	assert_int_equal(used, 0);
}

/* No new bytes cost nothing; a shorter buffer (against the rules) restarts. */
static void test_state_same_or_shorter_len(void **state)
{
	static char raw[] = GET11 "X: y\r\n\r\n";
	struct http_parse_state st;
	struct http_request req;
	size_t examined;

	(void)state;
	http_parse_state_init(&st);
	assert_int_equal(http_parse_request(raw, 20, NULL, &req, &st),
			 HTTP_INCOMPLETE);
	examined = st.examined;
	assert_int_equal(http_parse_request(raw, 20, NULL, &req, &st),
			 HTTP_INCOMPLETE);
	assert_int_equal(st.examined, examined);
	assert_int_equal(http_parse_request(raw, 10, NULL, &req, &st),
			 HTTP_INCOMPLETE);
	assert_int_equal(
		http_parse_request(raw, sizeof(raw) - 1, NULL, &req, &st),
		sizeof(raw) - 1);
	assert_str(req.headers[1].value, "y");
	/* after a final answer, a call without init starts over too */
	assert_int_equal(
		http_parse_request(raw, sizeof(raw) - 1, NULL, &req, &st),
		sizeof(raw) - 1);
	assert_int_equal(req.num_headers, 2);
}

/* ---- every byte in every place ------------------------------------------- */

/*
 * The sets the RFCs define, written out as their text does.  The parser
 * answers the same questions from a table of its own; these tests hold
 * the table to the text for all 256 byte values.
 */
static bool rfc_tchar(unsigned char c) /* RFC 9110 5.6.2 */
{
	return c != '\0' &&
	       strchr("!#$%&'*+-.^_`|~0123456789"
		      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
		      c) != NULL;
}

static bool rfc_field_char(unsigned char c) /* RFC 9110 5.5, with obs-text */
{
	return c == '\t' || c == ' ' || (c >= 0x21 && c <= 0x7e) || c >= 0x80;
}

static bool rfc_host_char(unsigned char c) /* RFC 3986 2.2, 2.3 */
{
	return c != '\0' &&
	       strchr("-._~!$&'()*+,;=0123456789"
		      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
		      c) != NULL;
}

/*
 * The answer for a request made from pattern, whose '@' is replaced by the
 * byte c: the length for a complete request, else the status.
 */
static int answer_with_byte(const char *pattern, unsigned char c)
{
	struct http_limits lim = default_limits();
	struct http_request req;
	char buf[256];
	size_t n = strlen(pattern), i;
	ssize_t rc;

	assert_true(n <= sizeof(buf));
	for (i = 0; i < n; i++)
		buf[i] = pattern[i] == '@' ? (char)c : pattern[i];
	rc = http_parse_request(buf, n, &lim, &req, NULL);
	return rc > 0 ? 0 : rc == HTTP_ERROR ? req.status : -1;
}

static void expect_byte_answer(const char *pattern, unsigned char c, int want)
{
	int got = answer_with_byte(pattern, c);

	if (got != want)
		print_error("byte 0x%02x in \"%s\": got %d, want %d "
			    "(0: complete)\n",
			    c, pattern, got, want);
	assert_int_equal(got, want);
}

static void test_every_byte_in_every_place(void **state)
{
	unsigned int i;

	(void)state;
	for (i = 0; i < 256; i++) {
		unsigned char c = (unsigned char)i;

		/* a method: a well-formed unknown one is a 501 */
		expect_byte_answer("G@T / HTTP/1.1\r\nHost: a\r\n\r\n", c,
				   c == 'E'	  ? 0
				   : rfc_tchar(c) ? 501
						  : 400);
		/* a target: anything visible, and obs-text for the router */
		expect_byte_answer("GET /a@b HTTP/1.1\r\nHost: a\r\n\r\n", c,
				   c > 0x20 && c != 0x7f ? 0 : 400);
		/* a field name ("X:Y: v" is the field X with value "Y: v") */
		expect_byte_answer(GET11 "X@Y: v\r\n\r\n", c,
				   rfc_tchar(c) || c == ':' ? 0 : 400);
		/* a field value */
		expect_byte_answer(GET11 "X: a@b\r\n\r\n", c,
				   rfc_field_char(c) ? 0 : 400);
		/* a Host value: a reg-name ("a:b" has no valid port) */
		expect_byte_answer("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n", c,
				   rfc_host_char(c) ? 0 : 400);
		/* a chunk extension's name ("a=b" and "a;b" are fine too) */
		expect_byte_answer(
			POST11 "Transfer-Encoding: chunked\r\n\r\n"
			       "1;a@b\r\nx\r\n0\r\n\r\n",
			c, rfc_tchar(c) || c == '=' || c == ';' ? 0 : 400);
	}
}

/*
 * Long values and targets are checked 8 bytes at a time before byte by
 * byte: every byte value at each of 16 places in a long run, so that it
 * falls in every lane of a word and in the bytes after the last word.
 */
static void test_every_byte_in_long_runs(void **state)
{
	static const char fill[] = "abcdefghijklmnop";
	char value[128], target[128];
	unsigned int i, k;

	(void)state;
	for (i = 0; i < 256; i++) {
		unsigned char c = (unsigned char)i;

		for (k = 0; k < 16; k++) {
			snprintf(value, sizeof(value),
				 GET11 "X: %.*s@%s%s\r\n\r\n", (int)k, fill,
				 fill, fill);
			expect_byte_answer(value, c,
					   rfc_field_char(c) ? 0 : 400);
			snprintf(target, sizeof(target),
				 "GET /%.*s@%s%s HTTP/1.1\r\nHost: a\r\n\r\n",
				 (int)k, fill, fill, fill);
			expect_byte_answer(target, c,
					   c > 0x20 && c != 0x7f ? 0 : 400);
		}
	}
}

/* ---- the fields the parser acts on --------------------------------------- */

/*
 * The parser picks Host, Content-Length, Transfer-Encoding, Connection and
 * Expect out of the header fields by length first.  A name of the same
 * length and first letter that differs further on is another field, and
 * case never matters.
 */
static void test_framing_field_names(void **state)
{
	static const struct status_case cases[] = {
		/* look-alikes are other fields: no Host, a bad "length" */
		{ RAW("GET / HTTP/1.1\r\nHosx: a\r\n\r\n"), 400 },
		{ RAW("GET / HTTP/1.1\r\nxost: a\r\n\r\n"), 400 },
		{ RAW(GET11 "HOST: a\r\n\r\n"), 400 },
		{ RAW(GET11 "hOsT: b\r\n\r\n"), 400 },
		{ RAW(POST11 "CONTENT-LENGTH: x\r\n\r\n"), 400 },
		{ RAW(POST11 "TRANSFER-ENCODING: gzip\r\n\r\n"), 400 },
		{ RAW(POST11 "Content-Length: 1\r\n"
			     "transfer-encoding: chunked\r\n\r\n"
			     "0\r\n\r\n"),
		  400 },
	};
	struct parsed p;

	(void)state;
	expect_statuses(cases, sizeof(cases) / sizeof(cases[0]));
	expect_complete(&p, RAW(GET11 "Content-Lengtx: x\r\n"
				      "Content-Lenght: 5\r\n"
				      "Transfer-Encodinx: gzip\r\n"
				      "Transfer-Encoding-: gzip\r\n"
				      "Connectiom: close\r\n"
				      "Connections: close\r\n"
				      "Expecx: 100-continue\r\n"
				      "Hostx: b c\r\n\r\n"));
	assert_int_equal(p.req.content_length, 0);
	assert_false(p.req.chunked);
	assert_true(p.req.keep_alive);
	assert_false(p.req.expect_continue);
	assert_str(p.req.host, "a");
	assert_int_equal(p.req.num_headers, 9);

	expect_complete(&p, RAW("PUT / HTTP/1.1\r\n"
				"hOST: a\r\n"
				"CONNECTION: CLOSE\r\n"
				"eXPECT: 100-CONTINUE\r\n"
				"content-LENGTH: 2\r\n\r\n"
				"ab"));
	assert_str(p.req.host, "a");
	assert_false(p.req.keep_alive);
	assert_true(p.req.expect_continue);
	assert_str(p.req.body, "ab");
}

/* ---- what a call sets in struct http_request ----------------------------- */

/*
 * Every field the contract promises is set by the call itself, whatever
 * the struct held before: parsed into one filled with 0xa5 bytes and one
 * filled with zeros, every prefix of each request answers the same, with
 * the same fields (the headers up to num_headers).
 */
static void test_request_fields_set_by_each_call(void **state)
{
	static const char *const raws[] = {
		"GET /a?b HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
		"POST /p HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
		POST11 "Expect: 100-continue\r\n"
		       "Transfer-Encoding: chunked\r\n\r\n"
		       "3\r\nabc\r\n0\r\n\r\n",
		"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
		"GET http://h/x HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n",
		"PURGE / HTTP/1.1\r\nHost: h\r\n\r\n",
		"HEAD / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
	};
	struct http_request *dirty = malloc(sizeof(*dirty));
	struct http_request *clean = malloc(sizeof(*clean));
	char a[256], b[256];
	size_t i, n, len;
	ssize_t rd, rc;

	(void)state;
	assert_non_null(dirty);
	assert_non_null(clean);
	for (i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		n = strlen(raws[i]);
		assert_true(n <= sizeof(a));
		for (len = 0; len <= n; len++) {
			memcpy(a, raws[i], len);
			memcpy(b, raws[i], len);
			memset(dirty, 0xa5, sizeof(*dirty));
			memset(clean, 0, sizeof(*clean));
			rd = http_parse_request(a, len, NULL, dirty, NULL);
			rc = http_parse_request(b, len, NULL, clean, NULL);
			assert_int_equal(rd, rc);
			assert_same_request(dirty, a, clean, b);
		}
	}
	free(clean);
	free(dirty);
}

/* ---- connection management ----------------------------------------------- */

static void test_keep_alive_matrix(void **state)
{
	static const struct {
		int minor;
		const char *connection; /* NULL: no Connection field */
		bool keep_alive;
	} cases[] = {
		{ 1, NULL, true },
		{ 1, "close", false },
		{ 1, "keep-alive", true },
		{ 1, "foo, close", false },
		{ 1, "CLOSE", false },
		{ 1, "Keep-Alive, Upgrade", true },
		{ 1, "closed", true },
		{ 1, "keep-alive, close", false },
		{ 0, NULL, false },
		{ 0, "close", false },
		{ 0, "keep-alive", true },
		{ 0, "Keep-Alive", true },
		{ 0, "foo, close", false },
		{ 0, "foo , keep-alive ", true },
		{ 0, "keep-alive, close", false },
	};
	char raw[256];
	struct parsed p;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(raw, sizeof(raw),
			 "GET / HTTP/1.%d\r\nHost: a\r\n%s%s%s\r\n",
			 cases[i].minor,
			 cases[i].connection ? "Connection: " : "",
			 cases[i].connection ? cases[i].connection : "",
			 cases[i].connection ? "\r\n" : "");
		expect_complete(&p, raw, strlen(raw));
		if (p.req.keep_alive != cases[i].keep_alive)
			print_error("%s", raw);
		assert_int_equal(p.req.keep_alive, cases[i].keep_alive);
	}

	/* Options from all Connection lines count. */
	expect_complete(&p, RAW(GET11 "Connection: a\r\n"
				      "Connection: close\r\n\r\n"));
	assert_false(p.req.keep_alive);
}

static void test_expect_continue(void **state)
{
	static const char head[] = "PUT /f HTTP/1.1\r\n"
				   "Host: a\r\n"
				   "Expect: 100-Continue\r\n"
				   "Content-Length: 5\r\n\r\n";
	struct parsed p;

	(void)state;
	/* The head alone: incomplete, but enough to send 100 Continue. */
	parse(&p, head);
	assert_int_equal(p.rc, HTTP_INCOMPLETE);
	assert_int_equal(p.req.header_len, sizeof(head) - 1);
	assert_true(p.req.expect_continue);
	assert_int_equal(p.req.content_length, 5);
	assert_int_equal(p.req.status, 0);

	/* Part of the head: nothing is known yet. */
	parse_with(&p, head, sizeof(head) - 2, NULL);
	assert_int_equal(p.rc, HTTP_INCOMPLETE);
	assert_int_equal(p.req.header_len, 0);

	/* HTTP/1.0 cannot expect 100; other expectations are ignored. */
	parse(&p, "PUT /f HTTP/1.0\r\n"
		  "Expect: 100-continue\r\n"
		  "Content-Length: 5\r\n\r\n");
	assert_int_equal(p.rc, HTTP_INCOMPLETE);
	assert_false(p.req.expect_continue);
	parse(&p, "PUT /f HTTP/1.1\r\n"
		  "Host: a\r\n"
		  "Expect: 200-ok\r\n"
		  "Content-Length: 5\r\n\r\n");
	assert_int_equal(p.rc, HTTP_INCOMPLETE);
	assert_false(p.req.expect_continue);

	/* Chunked bodies may be preceded by 100 Continue too. */
	parse(&p, "PUT /f HTTP/1.1\r\n"
		  "Host: a\r\n"
		  "Expect: 100-continue\r\n"
		  "Transfer-Encoding: chunked\r\n\r\n"
		  "5\r\n"
		  "ab");
	assert_int_equal(p.rc, HTTP_INCOMPLETE);
	assert_true(p.req.expect_continue);
	assert_true(p.req.header_len > 0);
}

/* ---- limits -------------------------------------------------------------- */

static void test_request_line_limit(void **state)
{
	struct http_limits lim = small_limits();
	struct parsed p;

	(void)state;
	/* 32 bytes of request line: fine, complete or not */
	parse_with(&p, RAW("GET /0123456789abcdefgh HTTP/1.0\r\n\r\n"), &lim);
	assert_int_equal(p.rc, 36);
	parse_with(&p, RAW("GET /0123456789abcdefgh HTTP/1.0"), &lim);
	assert_int_equal(p.rc, HTTP_INCOMPLETE);
	parse_with(&p, RAW("GET /0123456789abcdefgh HTTP/1.0\r"), &lim);
	assert_int_equal(p.rc, HTTP_INCOMPLETE);
	/* 33 bytes, complete or not */
	expect_status_with(RAW("GET /0123456789abcdefghi HTTP/1.0\r\n\r\n"),
			   &lim, 414);
	expect_status_with(RAW("GET /0123456789abcdefghi HTTP/1.0"), &lim, 414);
	/* no line end within 32 bytes: refused without waiting for one */
	expect_status_with(RAW("GET /0123456789abcdef0123456789ab"), &lim, 414);
	/* ...or as soon as it cannot end in time: the version is missing */
	expect_status_with(RAW("GET /0123456789abcdef0123456789a"), &lim, 414);
	parse_with(&p, RAW("GET /0123456789abcdef0123"), &lim);
	assert_int_equal(p.rc, HTTP_INCOMPLETE);
	/* empty lines before it count too */
	expect_status_with(RAW("\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r"
			       "\n\r\n\r\n\r\n\r\n\r\n\r\n"),
			   &lim, 414);
}

static void test_request_line_limit_default(void **state)
{
	static char raw[HTTP_DEFAULT_MAX_REQUEST_LINE + 64];
	struct http_limits lim = default_limits();
	struct http_request req;
	size_t n;

	(void)state;
	/* exactly 8192 bytes: "GET " + target + " HTTP/1.0" */
	n = HTTP_DEFAULT_MAX_REQUEST_LINE - 4 - 9;
	memcpy(raw, "GET /", 5);
	memset(raw + 5, 'a', n - 1);
	memcpy(raw + 4 + n, " HTTP/1.0\r\n\r\n", 13);
	assert_int_equal(http_parse_request(raw, 4 + n + 13, &lim, &req, NULL),
			 4 + n + 13);
	memcpy(raw, "GET /", 5);
	memset(raw + 5, 'a', n);
	memcpy(raw + 5 + n, " HTTP/1.0\r\n\r\n", 13);
	assert_int_equal(http_parse_request(raw, 5 + n + 13, &lim, &req, NULL),
			 HTTP_ERROR);
	assert_int_equal(req.status, 414);
	/* incomplete but already too long */
	memset(raw + 5, 'a', sizeof(raw) - 5);
	assert_int_equal(http_parse_request(raw, sizeof(raw), &lim, &req, NULL),
			 HTTP_ERROR);
	assert_int_equal(req.status, 414);
}

/*
 * A request whose field lines and empty line take exactly n bytes; parsed
 * with lim, it must be complete (status 0) or refused with status.
 */
static void expect_header_bytes(const struct http_limits *lim, size_t n,
				int status)
{
	static const char line[] = "GET / HTTP/1.1\r\n";
	char raw[256];
	size_t len;

	/* "Host: a\r\n" + "X: " + value + "\r\n" + "\r\n" */
	assert_true(n >= 16 && n < sizeof(raw) - sizeof(line));
	len = (size_t)sprintf(raw, "%sHost: a\r\nX: ", line);
	memset(raw + len, 'v', n - 16);
	len += n - 16;
	len += (size_t)sprintf(raw + len, "\r\n\r\n");
	assert_int_equal(len, sizeof(line) - 1 + n);
	if (status != 0) {
		expect_status_with(raw, len, lim, status);
	} else {
		struct parsed p;

		assert_int_equal(parse_with(&p, raw, len, lim), len);
		assert_int_equal(p.req.header_len, len);
	}
}

static void test_header_limits(void **state)
{
	struct http_limits lim = small_limits();
	struct parsed p;

	(void)state;
	/* max_headers (4) fields: fine; a fifth: 431 */
	parse_with(&p, RAW(GET11 "B:\r\nC:\r\nD:\r\n\r\n"), &lim);
	assert_int_equal(p.rc, sizeof(GET11 "B:\r\nC:\r\nD:\r\n\r\n") - 1);
	expect_status_with(RAW(GET11 "B:\r\nC:\r\nD:\r\nE:\r\n\r\n"), &lim,
			   431);
	/* ...even before the fifth line is complete */
	expect_status_with(RAW(GET11 "B:\r\nC:\r\nD:\r\nE"), &lim, 431);

	/* field lines and the empty line: 64 bytes fine, 65 not */
	expect_header_bytes(&lim, 64, 0);
	expect_header_bytes(&lim, 65, 431);
	/* no empty line in sight */
	expect_status_with(RAW(GET11 "X: 0123456789012345678901234567890123456"
				     "7890123456789012345"),
			   &lim, 431);
	parse_with(&p, RAW(GET11 "X: 0123"), &lim);
	assert_int_equal(p.rc, HTTP_INCOMPLETE);
	assert_int_equal(p.req.header_len, 0);

	/* never more than HTTP_MAX_HEADERS, whatever the limits say */
	lim = default_limits();
	lim.max_headers = 1000;
	{
		static char raw[2048];
		size_t n = 0, i;

		n += (size_t)sprintf(raw, GET11);
		for (i = 0; i < HTTP_MAX_HEADERS; i++)
			n += (size_t)sprintf(raw + n, "X%zu: y\r\n", i);
		n += (size_t)sprintf(raw + n, "\r\n");
		expect_status_with(raw, n, &lim, 431);
	}
}

/* ---- helpers ------------------------------------------------------------- */

static ssize_t decode(const char *path, char *out, size_t outsz)
{
	struct http_str s = { path, strlen(path) };

	return http_decode_path(&s, out, outsz);
}

static void test_decode_path(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(decode("/a/b.html", out, sizeof(out)), 9);
	assert_string_equal(out, "/a/b.html");
	assert_int_equal(decode("/%2e%2E/etc", out, sizeof(out)), 7);
	assert_string_equal(out, "/../etc");
	assert_int_equal(decode("/a%2fb", out, sizeof(out)), 4);
	assert_string_equal(out, "/a/b");
	assert_int_equal(decode("/a+b%20c", out, sizeof(out)), 6);
	assert_string_equal(out, "/a+b c");
	assert_int_equal(decode("/caf%C3%A9", out, sizeof(out)), 6);
	assert_string_equal(out, "/caf\xc3\xa9");
	assert_int_equal(decode("", out, sizeof(out)), 0);
	assert_string_equal(out, "");

	assert_int_equal(decode("/%zz", out, sizeof(out)), -1);
	assert_int_equal(decode("/%2", out, sizeof(out)), -1);
	assert_int_equal(decode("/%", out, sizeof(out)), -1);
	assert_int_equal(decode("/%g0", out, sizeof(out)), -1);
	assert_int_equal(decode("/a%00.html", out, sizeof(out)), -1);

	/* the result and its NUL must fit */
	assert_int_equal(decode("/abc", out, 5), 4);
	assert_int_equal(decode("/abc", out, 4), -1);
	assert_int_equal(decode("/%41", out, 3), 2);
	assert_int_equal(decode("", out, 0), -1);
}

static ssize_t param(const char *query, const char *key, char *out,
		     size_t outsz)
{
	struct http_str q = { query, strlen(query) };

	return http_query_param(&q, key, out, outsz);
}

static void test_query_param(void **state)
{
	struct http_str empty = { NULL, 0 };
	char out[32];

	(void)state;
	assert_int_equal(param("a=1&b=22&c=", "b", out, sizeof(out)), 2);
	assert_string_equal(out, "22");
	assert_int_equal(param("a=1&b=22&c=", "a", out, sizeof(out)), 1);
	assert_string_equal(out, "1");
	assert_int_equal(param("a=1&b=22&c=", "c", out, sizeof(out)), 0);
	assert_string_equal(out, "");
	assert_int_equal(param("flag&x=1", "flag", out, sizeof(out)), 0);
	assert_int_equal(param("a=1&b=22", "d", out, sizeof(out)),
			 HTTP_QUERY_ABSENT);
	assert_int_equal(param("ab=1", "a", out, sizeof(out)),
			 HTTP_QUERY_ABSENT);
	assert_int_equal(param("a=1", "ab", out, sizeof(out)),
			 HTTP_QUERY_ABSENT);
	assert_int_equal(http_query_param(&empty, "a", out, sizeof(out)),
			 HTTP_QUERY_ABSENT);

	/* decoding: '+' is a space here, %xx as in paths */
	assert_int_equal(param("q=hello+big%20world%21", "q", out, sizeof(out)),
			 16);
	assert_string_equal(out, "hello big world!");
	assert_int_equal(param("a=%2B%26%3D", "a", out, sizeof(out)), 3);
	assert_string_equal(out, "+&=");
	assert_int_equal(param("a=1&a=2", "a", out, sizeof(out)), 1);
	assert_string_equal(out, "1");
	assert_int_equal(param("a=1=2", "a", out, sizeof(out)), 3);
	assert_string_equal(out, "1=2");

	/* malformed, or too long for out */
	assert_int_equal(param("a=%zz", "a", out, sizeof(out)),
			 HTTP_QUERY_MALFORMED);
	assert_int_equal(param("a=%2", "a", out, sizeof(out)),
			 HTTP_QUERY_MALFORMED);
	assert_int_equal(param("a=%00", "a", out, sizeof(out)),
			 HTTP_QUERY_MALFORMED);
	assert_int_equal(param("a=12345", "a", out, 5), HTTP_QUERY_MALFORMED);
	assert_int_equal(param("a=1234", "a", out, 5), 4);
	assert_int_equal(param("a=1", "a", out, 0), HTTP_QUERY_MALFORMED);
	assert_int_equal(param("a=1", "b", out, 0), HTTP_QUERY_ABSENT);
}

/*
 * One rule for keys and values (issue 8 finding 6, issue 9): both are
 * decoded alike, a key matches after decoding, and one broken escape
 * anywhere makes every lookup in the query malformed.
 */
static void test_query_param_one_rule(void **state)
{
	static const char *const malformed[] = {
		"name=%zz",	"n%61me=%zz",	"x=%zz&name=a", "name=a&x=%zz",
		"%zz=1&name=a", "name=a&%",	"name=a&x=%4",	"name=a&x%00=1",
		"n%00ame=a",	"name=a&x=%00", "name=%",	"name=a%0",
	};
	char out[32];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++) {
		if (param(malformed[i], "name", out, sizeof(out)) !=
		    HTTP_QUERY_MALFORMED)
			print_error("query \"%s\"\n", malformed[i]);
		assert_int_equal(param(malformed[i], "name", out, sizeof(out)),
				 HTTP_QUERY_MALFORMED);
		/* ...whatever key is asked for */
		assert_int_equal(param(malformed[i], "other", out, sizeof(out)),
				 HTTP_QUERY_MALFORMED);
	}

	/* A key matches once decoded, like a value. */
	assert_int_equal(param("n%61me=bob", "name", out, sizeof(out)), 3);
	assert_string_equal(out, "bob");
	assert_int_equal(
		param("x=1&%6E%61%6D%65=ann", "name", out, sizeof(out)), 3);
	assert_string_equal(out, "ann");
	assert_int_equal(param("n%61me", "name", out, sizeof(out)), 0);

	/* '+' is a space in keys too; an escaped '+' is a plus. */
	assert_int_equal(
		param("x=1&my+key=v&my%20key=w", "my key", out, sizeof(out)),
		1);
	assert_string_equal(out, "v");
	assert_int_equal(param("a+b=1&a%2Bb=2", "a+b", out, sizeof(out)), 1);
	assert_string_equal(out, "2");
	assert_int_equal(param("a+b=1", "a+b", out, sizeof(out)),
			 HTTP_QUERY_ABSENT);
	assert_int_equal(param("a+b=1", "a b", out, sizeof(out)), 1);
}

static void test_small_helpers(void **state)
{
	struct http_str s = { "Content-Length", 14 };
	struct http_limits lim;
	struct parsed p;

	(void)state;
	assert_true(http_str_equal_nocase(&s, "content-length"));
	assert_true(http_str_equal_nocase(&s, "CONTENT-LENGTH"));
	assert_false(http_str_equal_nocase(&s, "Content-Lengt"));
	assert_false(http_str_equal_nocase(&s, "Content-Lengths"));
	s.len = 0;
	assert_true(http_str_equal_nocase(&s, ""));

	assert_string_equal(http_method_name(HTTP_GET), "GET");
	assert_string_equal(http_method_name(HTTP_OPTIONS), "OPTIONS");
	assert_string_equal(http_method_name(HTTP_PATCH), "PATCH");

	http_limits_init(&lim);
	assert_int_equal(lim.max_request_line, HTTP_DEFAULT_MAX_REQUEST_LINE);
	assert_int_equal(lim.max_header_bytes, HTTP_DEFAULT_MAX_HEADER_BYTES);
	assert_int_equal(lim.max_headers, HTTP_MAX_HEADERS);
	assert_int_equal(lim.max_body, HTTP_DEFAULT_MAX_BODY);

	expect_complete(&p, RAW(GET11 "X-A: 1\r\nx-a: 2\r\n\r\n"));
	assert_str(*http_find_header(&p.req, "X-a"), "1");
	assert_null(http_find_header(&p.req, "X-B"));
	assert_null(http_find_header(&p.req, "X-"));
}

/* The fuzz corpus, relative to the repository's root (make unit runs there). */
#define FUZZ_CORPUS "tests/fuzz/corpus"

/* Reads at most max bytes of a file into buf; returns how many. */
static size_t read_file(const char *dir, const char *name, char *buf,
			size_t max)
{
	char path[512];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "rb");
	assert_non_null(f);
	n = fread(buf, 1, max, f);
	fclose(f);
	return n;
}

/*
 * Every input the fuzzer kept, parsed whole from scratch and fed in
 * pieces to a state: the same answer and every field the same.  A whole
 * head takes the parser's fast path and pieces take its steps, so this
 * compares the two on some 800 inputs chosen for the code they reach,
 * with the default limits and with small ones.
 */
static void test_fuzz_corpus_whole_and_in_pieces(void **state)
{
	const struct http_limits small = small_limits();
	static char raw[16384];
	struct dirent *e;
	size_t n, files = 0;
	DIR *d;

	(void)state;
	d = opendir(FUZZ_CORPUS);
	if (d == NULL)
		print_error("%s: not found; run from the repository's root\n",
			    FUZZ_CORPUS);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		n = read_file(FUZZ_CORPUS, e->d_name, raw, sizeof(raw));
		/* Pieces of 1 byte cost n parses of up to n bytes each. */
		expect_same_with_state(raw, n, NULL, n <= 1024 ? 1 : 61);
		expect_same_with_state(raw, n, &small, 1);
		files++;
	}
	closedir(d);
	assert_true(files > 100);
}

static void test_empty_and_garbage_input(void **state)
{
	struct http_request req;
	char buf[8] = "";

	(void)state;
	assert_int_equal(http_parse_request(buf, 0, NULL, &req, NULL),
			 HTTP_INCOMPLETE);
	assert_int_equal(req.header_len, 0);
	expect_status(RAW("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 400);
	expect_status(RAW("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 400);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple_get),
		cmocka_unit_test(test_known_methods),
		cmocka_unit_test(test_unknown_methods_are_501),
		cmocka_unit_test(test_target_forms),
		cmocka_unit_test(test_query_and_fragment_in_every_lane),
		cmocka_unit_test(test_host_ends),
		cmocka_unit_test(test_request_line_rejections),
		cmocka_unit_test(test_versions),
		cmocka_unit_test(test_leading_empty_lines),
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_header_values),
		cmocka_unit_test(test_header_rejections),
		cmocka_unit_test(test_host),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_content_length_over_limit),
		cmocka_unit_test(test_transfer_encoding),
		cmocka_unit_test(test_chunked_decoding),
		cmocka_unit_test(test_chunked_leaves_next_request),
		cmocka_unit_test(test_chunked_rejections),
		cmocka_unit_test(test_chunked_limits),
		cmocka_unit_test(test_every_prefix_is_incomplete),
		cmocka_unit_test(test_guard_page_partial_lines),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_head_byte_by_byte_is_linear),
		cmocka_unit_test(test_chunked_in_pieces_is_linear),
		cmocka_unit_test(test_limits_fire_early_with_state),
		cmocka_unit_test(test_state_across_pipelined_requests),
		cmocka_unit_test(test_state_same_or_shorter_len),
		cmocka_unit_test(test_every_byte_in_every_place),
		cmocka_unit_test(test_every_byte_in_long_runs),
		cmocka_unit_test(test_framing_field_names),
		cmocka_unit_test(test_request_fields_set_by_each_call),
		cmocka_unit_test(test_keep_alive_matrix),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_request_line_limit),
		cmocka_unit_test(test_request_line_limit_default),
		cmocka_unit_test(test_header_limits),
		cmocka_unit_test(test_decode_path),
		cmocka_unit_test(test_query_param),
		cmocka_unit_test(test_query_param_one_rule),
		cmocka_unit_test(test_small_helpers),
		cmocka_unit_test(test_empty_and_garbage_input),
		cmocka_unit_test(test_fuzz_corpus_whole_and_in_pieces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
