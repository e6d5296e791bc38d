/*
 * test_static_files.c - serving under a document root, and above all never
 * serving outside it.  Each test builds the same tree in a fresh mkdtemp():
 *
 *   base/secret.txt          outside the root: must never be served
 *   base/www/                the root
 *     hello.txt, a..b.txt    plain files ("a..b" is a legal name)
 *     sub/index.html         a directory with an index
 *     empty/                 a directory without one
 *     link_in -> hello.txt   a symlink that stays inside: fine
 *     link_out -> ../secret.txt, dir_out -> ..   symlinks that leave: 404
 *     fifo                   not a regular file: 403, and no hang
 *     .hidden, .git/config, sub/.env, .well-known/.private,
 *     sub/.well-known/security.txt   dotfiles: 404 as if missing
 *     .well-known/security.txt       RFC 8615: served
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http_date.h"
#include "http_parser.h"
#include "response.h"
#include "static_files.h"

struct tree {
	char base[64];
	char root[PATH_MAX];
};

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void at(const struct tree *t, const char *name, char *out)
{
	snprintf(out, PATH_MAX, "%s/www/%s", t->base, name);
}

static int setup(void **state)
{
	struct tree *t = calloc(1, sizeof(*t));
	char p[PATH_MAX], www[PATH_MAX];

	if (t == NULL)
		return -1;
	strcpy(t->base, "/tmp/test_static_files.XXXXXX");
	if (mkdtemp(t->base) == NULL)
		return -1;
	snprintf(www, sizeof(www), "%s/www", t->base);
	mkdir(www, 0755);
	put_file(t->base, "secret.txt", "top secret\n");
	put_file(www, "hello.txt", "hello\n");
	put_file(www, "a..b.txt", "dots\n");
	at(t, "sub", p);
	mkdir(p, 0755);
	put_file(p, "index.html", "<p>sub</p>\n");
	at(t, "empty", p);
	mkdir(p, 0755);
	at(t, "link_in", p);
	symlink("hello.txt", p);
	at(t, "link_out", p);
	symlink("../secret.txt", p);
	at(t, "dir_out", p);
	symlink("..", p);
	at(t, "fifo", p);
	mkfifo(p, 0644);
	put_file(www, ".hidden", "hidden\n");
	at(t, ".git", p);
	mkdir(p, 0755);
	put_file(p, "config", "[core]\n");
	at(t, "sub", p);
	put_file(p, ".env", "PASSWORD=x\n");
	at(t, "sub/.well-known", p);
	mkdir(p, 0755);
	put_file(p, "security.txt", "not at the top\n");
	at(t, ".well-known", p);
	mkdir(p, 0755);
	put_file(p, "security.txt", "Contact: mailto:x@example.org\n");
	put_file(p, ".private", "private\n");
	if (file_resolve_root(www, t->root, sizeof(t->root)) != 0)
		return -1;
	*state = t;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type,
		      struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static int teardown(void **state)
{
	struct tree *t = *state;
	/* Depth first, and never following the symlinks out of the tree. */
	int rc = nftw(t->base, remove_one, 16, FTW_DEPTH | FTW_PHYS);

	free(t);
	return rc;
}

/* A parsed GET (or HEAD) of path, with extra header lines. */
struct req {
	char buf[1024];
	struct http_request r;
};

static void make_req(struct req *q, const char *method, const char *path,
		     const char *headers)
{
	struct http_limits lim;
	int n;

	n = snprintf(q->buf, sizeof(q->buf),
		     "%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n", method, path,
		     headers);
	http_limits_init(&lim);
	assert_int_equal(
		http_parse_request(q->buf, (size_t)n, &lim, &q->r, NULL), n);
}

/* file_serve of an already-decoded path with a plain GET. */
static int serve(const struct tree *t, const char *path, struct response *resp)
{
	struct req q;

	make_req(&q, "GET", "/", "");
	resp_init(resp);
	file_serve(t->root, path, &q.r, resp);
	return resp->status;
}

/* The value of header name among resp's extra lines, or "". */
static const char *extra_header(const struct response *resp, const char *name)
{
	static char value[256];
	const char *p = strstr(resp->extra, name);
	size_t n;

	value[0] = '\0';
	if (p == NULL)
		return value;
	p += strlen(name) + 2;
	n = strcspn(p, "\r");
	snprintf(value, sizeof(value), "%.*s", (int)n, p);
	return value;
}

static void test_resolve_root(void **state)
{
	struct tree *t = *state;
	char out[PATH_MAX], p[PATH_MAX];

	assert_int_equal(file_resolve_root(t->root, out, sizeof(out)), 0);
	assert_string_equal(out, t->root);
	at(t, "hello.txt", p);
	assert_int_equal(file_resolve_root(p, out, sizeof(out)), -1);
	assert_int_equal(errno, ENOTDIR);
	at(t, "nope", p);
	assert_int_equal(file_resolve_root(p, out, sizeof(out)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(file_resolve_root(t->root, out, 4), -1);
	assert_int_equal(errno, ENAMETOOLONG);
}

static void test_serves_regular_file(void **state)
{
	struct tree *t = *state;
	struct response resp;

	assert_int_equal(serve(t, "/hello.txt", &resp), 200);
	assert_true(resp.file_fd >= 0);
	assert_int_equal(resp.file_offset, 0);
	assert_int_equal(resp.file_len, 6);
	assert_string_equal(resp.content_type, "text/plain; charset=utf-8");
	assert_string_not_equal(extra_header(&resp, "ETag"), "");
	assert_true(strstr(extra_header(&resp, "Last-Modified"), " GMT"));
	resp_release(&resp);
	assert_int_equal(serve(t, "/a..b.txt", &resp), 200);
	resp_release(&resp);
}

static void test_head_sends_no_file(void **state)
{
	struct tree *t = *state;
	struct response resp;
	struct req q;

	make_req(&q, "HEAD", "/hello.txt", "");
	resp_init(&resp);
	file_serve(t->root, "/hello.txt", &q.r, &resp);
	resp_finish(&resp, &q.r);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(resp.head, "Content-Length: 6\r\n"));
	assert_int_equal(resp_body_bytes(&resp), 0);
	assert_int_equal(resp.file_fd, -1);
}

static void assert_refused(const struct tree *t, const char *path, int status)
{
	struct response resp;

	assert_int_equal(serve(t, path, &resp), status);
	assert_int_equal(resp.file_fd, -1);
	assert_int_equal(resp.file_len, 0);
	assert_null(memmem(resp.body, resp.body_len, "secret", 6));
}

static void test_traversal_is_403(void **state)
{
	struct tree *t = *state;

	assert_refused(t, "/../secret.txt", 403);
	assert_refused(t, "/..", 403);
	assert_refused(t, "/sub/../../secret.txt", 403);
	assert_refused(t, "/sub/..", 403);
	assert_refused(t, "/../../../../etc/passwd", 403);
	assert_refused(t, "/..\\secret.txt", 403);
	assert_refused(t, "/sub\\index.html", 403);
	assert_refused(t, "relative.txt", 400);
	assert_refused(t, "", 400);
}

static void test_encoded_traversal_is_403(void **state)
{
	static const char *const raw[] = { "/%2e%2e/secret.txt",
					   "/%2E%2E/secret.txt",
					   "/sub/%2e%2e/%2e%2e/secret.txt",
					   "/..%2fsecret.txt",
					   "/%2e%2e%5csecret.txt" };
	struct tree *t = *state;
	char decoded[PATH_MAX];
	struct http_str s;
	size_t i;

	for (i = 0; i < sizeof(raw) / sizeof(raw[0]); i++) {
		s.p = raw[i];
		s.len = strlen(raw[i]);
		assert_true(http_decode_path(&s, decoded, sizeof(decoded)) > 0);
		assert_refused(t, decoded, 403);
	}
}

static void test_symlinks(void **state)
{
	struct tree *t = *state;
	struct response resp;

	assert_int_equal(serve(t, "/link_in", &resp), 200);
	assert_int_equal(resp.file_len, 6);
	resp_release(&resp);
	assert_refused(t, "/link_out", 404);
	assert_refused(t, "/dir_out/secret.txt", 404);
	assert_refused(t, "/dir_out/", 404);
	assert_refused(t, "/dir_out", 404);
}

static void test_not_found_and_special_files(void **state)
{
	struct tree *t = *state;

	assert_refused(t, "/nope.html", 404);
	assert_refused(t, "/hello.txt/x", 404);
	assert_refused(t, "/empty/", 404);
	/* A FIFO would block open() and read(): refused, not served. */
	assert_refused(t, "/fifo", 403);
}

static void test_directory_index_and_redirect(void **state)
{
	struct tree *t = *state;
	struct response resp;
	struct req q;

	assert_int_equal(serve(t, "/sub/", &resp), 200);
	assert_string_equal(resp.content_type, "text/html; charset=utf-8");
	assert_int_equal(resp.file_len, 11);
	resp_release(&resp);
	assert_int_equal(serve(t, "/", &resp), 404); /* the root has none */

	make_req(&q, "GET", "/sub?x=1", "");
	resp_init(&resp);
	file_serve(t->root, "/sub", &q.r, &resp);
	assert_int_equal(resp.status, 301);
	assert_string_equal(extra_header(&resp, "Location"), "/sub/?x=1");
	assert_int_equal(resp.file_fd, -1);
}

/* GET of a raw request target: decoded as app_handle does, then served. */
static int serve_target(const struct tree *t, const char *target,
			struct response *resp)
{
	char decoded[PATH_MAX];
	struct req q;

	make_req(&q, "GET", target, "");
	assert_true(http_decode_path(&q.r.path, decoded, sizeof(decoded)) > 0);
	resp_init(resp);
	file_serve(t->root, decoded, &q.r, resp);
	return resp->status;
}

/* The 301 for target, whose Location must be want. */
static void assert_redirect(const struct tree *t, const char *target,
			    const char *want)
{
	struct response resp;
	const char *loc;

	assert_int_equal(serve_target(t, target, &resp), 301);
	loc = extra_header(&resp, "Location");
	if (strcmp(loc, want) != 0)
		fail_msg("GET %s: Location \"%s\", expected \"%s\"", target,
			 loc, want);
	/* RFC 3986 section 4.2: "//x" and, to browsers, "/\\x" name a host. */
	assert_true(loc[0] == '/' && loc[1] != '/' && loc[1] != '\\');
	assert_int_equal(resp.file_fd, -1);
	resp_release(&resp);
}

static void test_redirect_is_never_protocol_relative(void **state)
{
	struct tree *t = *state;
	struct response resp;

	assert_redirect(t, "/sub", "/sub/");
	assert_redirect(t, "//sub", "/sub/");
	assert_redirect(t, "///sub?x=1", "/sub/?x=1");
	assert_redirect(t, "////sub", "/sub/");
	assert_redirect(t, "//empty?a=//b", "/empty/?a=//b");
	/* Decoded "//sub", but the Location keeps the client's encoding. */
	assert_redirect(t, "/%2Fsub", "/%2Fsub/");
	assert_redirect(t, "//%2F/sub", "/%2F/sub/");
	/* A backslash never reaches the redirect. */
	assert_int_equal(serve_target(t, "/\\sub", &resp), 403);
	assert_int_equal(serve_target(t, "/%5Csub", &resp), 403);
	assert_int_equal(serve_target(t, "/%5C%5Csub", &resp), 403);
}

/* A segment starting with '.' is 404, except /.well-known/ (RFC 8615). */
static void test_dotfiles_are_404(void **state)
{
	static const char *const hidden[] = {
		"/.hidden",
		"/.git/config",
		"/.git/",
		"/.git",
		"/sub/.env",
		"//.hidden",
		"/sub//.env",
		"/%2ehidden",
		"/%2Egit/config",
		"/sub%2f.env",
		"/./hello.txt",
		"/sub/.",
		"/.well-known/.private",
		"/sub/.well-known/security.txt",
		"/.well-knownx/security.txt",
		"/.Well-Known/security.txt",
	};
	struct tree *t = *state;
	struct response resp;
	size_t i;

	for (i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		if (serve_target(t, hidden[i], &resp) != 404)
			fail_msg("GET %s: expected 404, got %d", hidden[i],
				 resp.status);
		assert_int_equal(resp.file_fd, -1);
		assert_null(memmem(resp.body, resp.body_len, "PASSWORD", 8));
		resp_release(&resp);
	}
	assert_int_equal(serve_target(t, "/.well-known/security.txt", &resp),
			 200);
	assert_int_equal(resp.file_len, 30);
	resp_release(&resp);
	assert_int_equal(serve_target(t, "//.well-known//security.txt", &resp),
			 200);
	resp_release(&resp);
	assert_redirect(t, "/.well-known", "/.well-known/");
	/* Dots inside a name are not dotfiles. */
	assert_int_equal(serve_target(t, "/a..b.txt", &resp), 200);
	resp_release(&resp);
}

static void test_mime_types(void **state)
{
	(void)state;
	assert_string_equal(file_mime_type("/a/index.html"),
			    "text/html; charset=utf-8");
	assert_string_equal(file_mime_type("x.CSS"), "text/css; charset=utf-8");
	assert_string_equal(file_mime_type("app.js"),
			    "text/javascript; charset=utf-8");
	assert_string_equal(file_mime_type("d.json"), "application/json");
	assert_string_equal(file_mime_type("i.png"), "image/png");
	assert_string_equal(file_mime_type("i.jpg"), "image/jpeg");
	assert_string_equal(file_mime_type("i.jpeg"), "image/jpeg");
	assert_string_equal(file_mime_type("i.gif"), "image/gif");
	assert_string_equal(file_mime_type("i.svg"), "image/svg+xml");
	assert_string_equal(file_mime_type("favicon.ico"), "image/x-icon");
	assert_string_equal(file_mime_type("m.wasm"), "application/wasm");
	assert_string_equal(file_mime_type("d.pdf"), "application/pdf");
	assert_string_equal(file_mime_type("f.woff2"), "font/woff2");
	assert_string_equal(file_mime_type("v.mp4"), "video/mp4");
	assert_string_equal(file_mime_type("big/1mib.bin"),
			    "application/octet-stream");
	assert_string_equal(file_mime_type("Makefile"),
			    "application/octet-stream");
	assert_string_equal(file_mime_type("dir.d/noext"),
			    "application/octet-stream");
	assert_string_equal(file_mime_type("trailing."),
			    "application/octet-stream");
}

static void test_etag(void **state)
{
	struct stat a, b;
	char ea[64], eb[64];

	(void)state;
	memset(&a, 0, sizeof(a));
	a.st_size = 0x1234;
	a.st_mtim.tv_sec = 1;
	a.st_mtim.tv_nsec = 5;
	file_etag(&a, ea, sizeof(ea));
	assert_string_equal(ea, "\"1234-3b9aca05\"");
	b = a;
	b.st_mtim.tv_nsec = 6;
	file_etag(&b, eb, sizeof(eb));
	assert_string_not_equal(ea, eb);
	b = a;
	b.st_size++;
	file_etag(&b, eb, sizeof(eb));
	assert_string_not_equal(ea, eb);
}

/* Serves /hello.txt with extra request headers; returns the status. */
static int conditional(const struct tree *t, const char *headers)
{
	struct response resp;
	struct req q;

	make_req(&q, "GET", "/hello.txt", headers);
	resp_init(&resp);
	file_serve(t->root, "/hello.txt", &q.r, &resp);
	if (resp.status == 304)
		assert_int_equal(resp.file_fd, -1);
	resp_release(&resp);
	return resp.status;
}

static void test_not_modified(void **state)
{
	struct tree *t = *state;
	char etag[64], date[HTTP_DATE_LEN], h[256], p[PATH_MAX];
	struct stat st;

	at(t, "hello.txt", p);
	assert_int_equal(stat(p, &st), 0);
	file_etag(&st, etag, sizeof(etag));
	http_date_format(st.st_mtime, date);

	snprintf(h, sizeof(h), "If-None-Match: %s\r\n", etag);
	assert_int_equal(conditional(t, h), 304);
	snprintf(h, sizeof(h), "If-None-Match: W/%s\r\n", etag);
	assert_int_equal(conditional(t, h), 304);
	snprintf(h, sizeof(h), "If-None-Match: \"a\", W/\"b\" ,%s\r\n", etag);
	assert_int_equal(conditional(t, h), 304);
	assert_int_equal(conditional(t, "If-None-Match: *\r\n"), 304);
	assert_int_equal(conditional(t, "If-None-Match: \"other\"\r\n"), 200);

	snprintf(h, sizeof(h), "If-Modified-Since: %s\r\n", date);
	assert_int_equal(conditional(t, h), 304);
	assert_int_equal(
		conditional(
			t,
			"If-Modified-Since: Thu, 01 Jan 2099 00:00:00 GMT\r\n"),
		304);
	assert_int_equal(
		conditional(
			t,
			"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT\r\n"),
		200);
	assert_int_equal(conditional(t, "If-Modified-Since: yesterday\r\n"),
			 200);
	/* If-None-Match wins over a matching If-Modified-Since. */
	snprintf(h, sizeof(h),
		 "If-None-Match: \"other\"\r\nIf-Modified-Since: %s\r\n", date);
	assert_int_equal(conditional(t, h), 200);
	assert_int_equal(conditional(t, ""), 200);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_resolve_root, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_serves_regular_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_head_sends_no_file, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_traversal_is_403, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_encoded_traversal_is_403,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlinks, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_not_found_and_special_files, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_directory_index_and_redirect, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_redirect_is_never_protocol_relative, setup,
			teardown),
		cmocka_unit_test_setup_teardown(test_dotfiles_are_404, setup,
						teardown),
		cmocka_unit_test(test_mime_types),
		cmocka_unit_test(test_etag),
		cmocka_unit_test_setup_teardown(test_not_modified, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
