/*
 * test_hardening.c - the "hardening" group: answers that were valid HTTP
 * but unsafe for what reads them (issue 8).
 *
 *   - /api/hello puts a client's name into JSON: the body must be UTF-8
 *     (RFC 8259 section 8.1), so bytes that are not are a 400;
 *   - a directory's 301 must not send a browser to another host: a
 *     Location of "//x/" is a network-path reference (RFC 3986 section
 *     4.2);
 *   - dotfiles under the root are 404, as if missing, but for the
 *     RFC 8615 directory /.well-known/;
 *   - a HEAD that fails to parse is still a HEAD: its 400 or 431 has a
 *     Content-Length and no body, or the body would be read as the next
 *     response (RFC 9110 section 9.3.2);
 *   - a query with a malformed %xx escape is malformed as a whole, whichever
 *     parameter the escape is in (http_parser.h: one query rule).
 */
#include "contract.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define HOST "Host: contract\r\n"
#define CLOSE "Connection: close\r\n"

static int port(void)
{
	return shared_server()->port;
}

/* Fetches "method target" on a fresh connection, or fails. */
static void request(const char *method, const char *target, struct reply *r)
{
	char req[512];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\n" HOST CLOSE "\r\n",
		 method, target);
	if (fetch(port(), req, r) == -1)
		fail_msg("%s %s: no valid response: %s", method, target,
			 client_error());
}

/*
 * True when s[0..len) matches UTF8-octets of RFC 3629 section 4.  Written
 * from the ABNF (the second byte's range depends on the first), not from
 * the server's decoder, so the two cannot share a mistake.
 */
static bool utf8_ok(const unsigned char *s, size_t len)
{
	size_t i = 0, n, k;
	unsigned char lo, hi;

	while (i < len) {
		unsigned char c = s[i];

		lo = 0x80;
		hi = 0xbf;
		if (c <= 0x7f) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0; /* no overlong */
			if (c == 0xed)
				hi = 0x9f; /* no surrogate */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90; /* no overlong */
			if (c == 0xf4)
				hi = 0x8f; /* nothing past U+10FFFF */
		} else {
			return false;
		}
		if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
			return false;
		for (k = 2; k < n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return false;
		i += n;
	}
	return true;
}

/*
 * RFC 8259 section 8.1: JSON text is UTF-8.  Whatever the name, the
 * answer is a 400 or a body that is valid JSON and valid UTF-8; names
 * that are well-formed UTF-8 are answered 200 with the characters in.
 */
static void hello_body_is_utf8_json(void **state)
{
	static const struct {
		const char *name;
		const char *want; /* in the body when well-formed, or NULL */
	} names[] = {
		{ "%ff%fe", NULL },
		{ "%C0%80", NULL },		 /* overlong NUL */
		{ "%C0%AF", NULL },		 /* overlong '/' */
		{ "%E0%80%AF", NULL },		 /* overlong '/' */
		{ "%ED%A0%80", NULL },		 /* a surrogate */
		{ "%F4%90%80%80", NULL },	 /* above U+10FFFF */
		{ "ab%E2%82", NULL },		 /* truncated */
		{ "%80abc", NULL },		 /* a stray continuation */
		{ "%C3%A9", "\xc3\xa9" },	 /* 2 bytes */
		{ "%E2%82%AC", "\xe2\x82\xac" }, /* 3 bytes */
		{ "%F0%9F%98%80", "\xf0\x9f\x98\x80" }, /* 4 bytes */
	};
	char target[128];
	struct reply r;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(names); i++) {
		snprintf(target, sizeof(target), "/api/hello?name=%s",
			 names[i].name);
		request("GET", target, &r);
		if (r.status == 400 && !names[i].want) {
			reply_free(&r);
			continue;
		}
		if (r.status != 200)
			fail_msg("GET %s: expected %s, got %d", target,
				 names[i].want ? "200" : "200 or 400",
				 r.status);
		if (!utf8_ok((const unsigned char *)r.body, r.body_len))
			fail_msg("GET %s: the body is not UTF-8: %s", target,
				 r.body);
		if (!json_valid(r.body, r.body_len))
			fail_msg("GET %s: not valid JSON: %s", target, r.body);
		if (names[i].want && !strstr(r.body, names[i].want))
			fail_msg("GET %s: the name is not in the body as it "
				 "was sent: %s",
				 target, r.body);
		reply_free(&r);
	}
}

/* The 301 for target must carry Location want, a path on this host. */
static void expect_redirect(const char *target, const char *want)
{
	const char *loc;
	struct reply r;

	request("GET", target, &r);
	assert_status(&r, 301, target);
	loc = header_or_fail(&r, "Location");
	/* Browsers treat "/\" like "//": both would leave this host. */
	if (loc[0] != '/' || loc[1] == '/' || loc[1] == '\\')
		fail_msg("GET %s: Location \"%s\" names another host", target,
			 loc);
	if (strcmp(loc, want) != 0)
		fail_msg("GET %s: Location \"%s\", expected \"%s\"", target,
			 loc, want);
	reply_free(&r);
}

/*
 * RFC 3986 section 4.2: "//sub/" is a network-path reference, the host
 * "sub".  A directory's redirect collapses the slashes of the path; the
 * query stays; %2F stays encoded; a backslash is refused before any
 * redirect.
 */
static void redirect_stays_on_host(void **state)
{
	static const char *const refused[] = { "/\\sub", "/%5Csub",
					       "/%5C%5Csub", "/\\\\sub" };
	struct reply r;
	size_t i;

	(void)state;
	expect_redirect("//sub", "/sub/");
	expect_redirect("///sub?x=1", "/sub/?x=1");
	expect_redirect("//sub?next=//evil", "/sub/?next=//evil");
	expect_redirect("/%2Fsub", "/%2Fsub/");
	expect_redirect("http://contract//sub", "/sub/");
	/* The Location leads to the directory's index. */
	get_ok(port(), "/sub/", &r);
	if (!strstr(r.body, "sub index"))
		fail_msg("GET /sub/: not the sub index: %s", r.body);
	reply_free(&r);
	for (i = 0; i < ARRAY_SIZE(refused); i++) {
		request("GET", refused[i], &r);
		if (r.status != 400 && r.status != 403 && r.status != 404)
			fail_msg("GET %s: expected 400, 403 or 404, got %d",
				 refused[i], r.status);
		reply_free(&r);
	}
}

/*
 * Dotfiles are not published (static_files.h): 404 with the very answer
 * a missing file gets, so a scanner cannot tell them apart; the RFC 8615
 * /.well-known/ directory is served.
 */
static void dotfiles_are_404(void **state)
{
	static const char *const hidden[] = {
		"/.hidden",    "/.git/config", "/.git/",      "/.git",
		"/sub/.env",   "//.hidden",    "/%2ehidden",  "/%2Egit/config",
		"/sub%2F.env", "/./small.txt", "/sub/./.env",
	};
	struct reply missing, r;
	size_t i;

	(void)state;
	request("GET", "/no-such-file", &missing);
	assert_status(&missing, 404, "GET /no-such-file");
	for (i = 0; i < ARRAY_SIZE(hidden); i++) {
		request("GET", hidden[i], &r);
		assert_status(&r, 404, hidden[i]);
		if (r.body && strstr(r.body, "dotfile-never-served"))
			fail_msg("GET %s served the dotfile", hidden[i]);
		if (r.body_len != missing.body_len ||
		    memcmp(r.body, missing.body, r.body_len) != 0)
			fail_msg("GET %s: the 404 differs from a missing "
				 "file's: %s",
				 hidden[i], r.body);
		reply_free(&r);
	}
	reply_free(&missing);
	request("HEAD", "/.hidden", &r);
	assert_status(&r, 404, "HEAD /.hidden");
	reply_free(&r);
	get_ok(port(), "/.well-known/security.txt", &r);
	if (r.body_len != strlen(DOC_SECURITY_TXT) ||
	    memcmp(r.body, DOC_SECURITY_TXT, r.body_len) != 0)
		fail_msg("/.well-known/security.txt: wrong body: %s", r.body);
	reply_free(&r);
}

/*
 * Sends a HEAD of len bytes that cannot be parsed and expects status with
 * a Content-Length, then nothing but EOF: no body bytes.  The send may
 * stop half-way, as the server may answer before the end (431).
 */
static void expect_head_error(const char *req, size_t len, int status,
			      const char *what)
{
	struct client *c = open_or_fail(port());
	struct reply r;

	client_send(c, req, len);
	read_reply_or_fail(c, &r, true, what);
	assert_status(&r, status, what);
	header_or_fail(&r, "Content-Length");
	reply_free(&r);
	if (client_wait_close(c, CLIENT_TIMEOUT_MS) != 1)
		fail_msg("%s: the %d to a HEAD must end with its head: %s",
			 what, status,
			 c->len ? client_error() : "no close in time");
	client_close(c);
}

/* RFC 9110 section 9.3.2: no body in a response to HEAD, errors too. */
static void head_error_has_no_body(void **state)
{
	static const char bad[] =
		"HEAD / HTTP/1.1\r\n" HOST "Bad header\r\n\r\n";
	const size_t fill = 9 * 1024; /* over the 8 KiB header section */
	char *req = malloc(fill + 128);
	size_t n;

	(void)state;
	assert_non_null(req);
	expect_head_error(bad, sizeof(bad) - 1, 400,
			  "HEAD with a field line without a colon");
	n = (size_t)sprintf(req, "HEAD / HTTP/1.1\r\n" HOST "X-Long: ");
	memset(req + n, 'b', fill);
	n += fill;
	n += (size_t)sprintf(req + n, "\r\n\r\n");
	expect_head_error(req, n, 431, "HEAD with a 9 KiB header section");
	free(req);
}

/*
 * http_parser.h: a %xx escape that is malformed anywhere in the query
 * makes every lookup in it malformed, so /api/hello is a 400 whether the
 * bad escape is in name or in another parameter, before or after it.
 */
static void hello_malformed_query_400(void **state)
{
	static const char *const targets[] = {
		"/api/hello?x=%zz&name=a",
		"/api/hello?name=a&x=%zz",
		"/api/hello?name=a&%zz=1",
	};
	struct reply r;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(targets); i++) {
		request("GET", targets[i], &r);
		assert_status(&r, 400, targets[i]);
		reply_free(&r);
	}
}

int run_hardening_tests(void)
{
	/* One test a line, in the order they run. */
	/* clang-format off */
	static const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_teardown(f, shared_test_teardown)
		T(hello_body_is_utf8_json),
		T(redirect_stays_on_host),
		T(dotfiles_are_404),
		T(head_error_has_no_body),
		T(hello_malformed_query_400),
#undef T
	};
	/* clang-format on */

	return run_group("hardening", tests, ARRAY_SIZE(tests),
			 shared_server_up, NULL);
}
