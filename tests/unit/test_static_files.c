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
 *
 * The tests run twice, once per way of resolving a path (static_files.h):
 * openat2 with RESOLVE_BENEATH, and the realpath fallback; the group says
 * which.  The file cache's tests are at the end.
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
#include <zlib.h>

#include "compat.h"
#include "encoding.h"
#include "file_cache.h"
#include "http_date.h"
#include "http_parser.h"
#include "response.h"
#include "static_files.h"

struct tree {
	char base[64];
	char root[PATH_MAX];
	struct file_root fr; /* root, opened in the group's resolve mode */
};

/* How the group being run resolves paths: set by its group setup. */
static enum file_resolve group_resolve;

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
	if (file_resolve_root(www, t->root, sizeof(t->root)) != 0 ||
	    file_root_open(&t->fr, t->root) != 0)
		return -1;
	/* A kernel without openat2 picked the fallback: say so. */
	if (group_resolve == FILE_RESOLVE_OPENAT2 &&
	    t->fr.resolve != FILE_RESOLVE_OPENAT2)
		fprintf(stderr, "no openat2 on this kernel: realpath only\n");
	if (group_resolve == FILE_RESOLVE_REALPATH)
		t->fr.resolve = FILE_RESOLVE_REALPATH;
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

	file_root_close(&t->fr);
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
	file_serve(&t->fr, path, &q.r, resp);
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
	file_serve(&t->fr, "/hello.txt", &q.r, &resp);
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
	file_serve(&t->fr, "/sub", &q.r, &resp);
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
	file_serve(&t->fr, decoded, &q.r, resp);
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
	file_serve(&t->fr, "/hello.txt", &q.r, &resp);
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

/*
 * RESOLVE_BENEATH refuses absolute symlinks outright; an absolute link
 * that stays inside the root must still work (static_files.c resolves
 * it with realpath and opens the answer with RESOLVE_NO_SYMLINKS), and
 * one that leads out must not.
 */
static void test_absolute_symlinks(void **state)
{
	struct tree *t = *state;
	struct response resp;
	char p[PATH_MAX], target[PATH_MAX + 16];

	snprintf(target, sizeof(target), "%s/hello.txt", t->root);
	at(t, "abs_in", p);
	assert_int_equal(symlink(target, p), 0);
	snprintf(target, sizeof(target), "%s/sub", t->root);
	at(t, "abs_dir", p);
	assert_int_equal(symlink(target, p), 0);
	snprintf(target, sizeof(target), "%s/secret.txt", t->base);
	at(t, "abs_out", p);
	assert_int_equal(symlink(target, p), 0);

	assert_int_equal(serve(t, "/abs_in", &resp), 200);
	assert_int_equal(resp.file_len, 6);
	resp_release(&resp);
	assert_int_equal(serve(t, "/abs_dir/", &resp), 200);
	assert_int_equal(resp.file_len, 11);
	resp_release(&resp);
	assert_int_equal(serve(t, "/abs_dir/index.html", &resp), 200);
	resp_release(&resp);
	assert_refused(t, "/abs_out", 404);
}

/* CONCURRENCY_SERVERS_RESOLVE=realpath forces the fallback at open. */
static void test_resolve_env(void **state)
{
	struct tree *t = *state;
	struct file_root fr;

	assert_int_equal(setenv(FILE_RESOLVE_ENV, "realpath", 1), 0);
	assert_int_equal(file_root_open(&fr, t->root), 0);
	unsetenv(FILE_RESOLVE_ENV);
	assert_int_equal(fr.resolve, FILE_RESOLVE_REALPATH);
	assert_null(fr.cache);
	file_root_close(&fr);
}

/* ---- the file cache, through file_serve ---- */

#define CACHE_VALID_S 1

/* The cache's clock: only the tests move it. */
static long long fake_now_ms = 1000000;

static long long fake_clock(void)
{
	return fake_now_ms;
}

/* Moves the clock past the validity window: the next hit re-checks. */
static void time_passes(void)
{
	fake_now_ms += CACHE_VALID_S * 1000;
}

/* The tree, with a cache of max_entries on its root. */
static int cache_setup_n(void **state, int max_entries)
{
	struct file_cache_config cfg = { .max_entries = max_entries,
					 .valid_s = CACHE_VALID_S,
					 .sharing = FILE_CACHE_PRIVATE,
					 .now_ms = fake_clock };
	struct tree *t;

	if (setup(state) != 0)
		return -1;
	t = *state;
	cfg.root_fd = t->fr.fd;
	t->fr.cache = file_cache_create(&cfg);
	return t->fr.cache != NULL ? 0 : -1;
}

static int cache_setup(void **state)
{
	return cache_setup_n(state, 64);
}

static int cache_setup_2(void **state)
{
	return cache_setup_n(state, 2);
}

/* Writes text into the file name under the root, in place (same inode). */
static void rewrite(const struct tree *t, const char *name, const char *text)
{
	char p[PATH_MAX];
	FILE *f;

	at(t, name, p);
	f = fopen(p, "r+");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(ftruncate(fileno(f), (off_t)strlen(text)), 0);
	fclose(f);
}

/* Sets the mtime of name to t seconds: a change the cache must notice. */
static void set_mtime(const struct tree *t, const char *name, time_t sec)
{
	struct timespec ts[2] = { { sec, 0 }, { sec, 0 } };
	char p[PATH_MAX];

	at(t, name, p);
	assert_int_equal(utimensat(AT_FDCWD, p, ts, 0), 0);
}

/*
 * GETs path and returns the status; the body (from memory or the file)
 * is copied into body, NUL-terminated.
 */
static int get_body(const struct tree *t, const char *path, char *body,
		    size_t bodysz)
{
	struct response resp;
	size_t n = 0;
	int status = serve(t, path, &resp);

	body[0] = '\0';
	if (status == 200 && resp.file_fd >= 0) {
		ssize_t got = pread(resp.file_fd, body, bodysz - 1, 0);

		n = got > 0 ? (size_t)got : 0;
	} else if (status == 200) {
		n = resp.body_len < bodysz - 1 ? resp.body_len : bodysz - 1;
		memcpy(body, resp.body, n);
	}
	body[n] = '\0';
	resp_release(&resp);
	return status;
}

/* Fails unless GET path is 200 with exactly want. */
static void expect_body(const struct tree *t, const char *path,
			const char *want)
{
	char body[256];
	int status = get_body(t, path, body, sizeof(body));

	if (status != 200 || strcmp(body, want) != 0)
		fail_msg("GET %s: %d \"%s\", expected 200 \"%s\"", path, status,
			 body, want);
}

/* A small file is served from memory, and a hit does not look at disk. */
static void test_cache_serves_from_memory(void **state)
{
	struct tree *t = *state;
	struct response resp;

	assert_int_equal(serve(t, "/hello.txt", &resp), 200);
	assert_int_equal(resp.file_fd, -1);
	assert_int_equal(resp.body_len, 6);
	assert_memory_equal(resp.body, "hello\n", 6);
	assert_string_equal(resp.content_type, "text/plain; charset=utf-8");
	assert_string_not_equal(extra_header(&resp, "ETag"), "");
	assert_true(strstr(extra_header(&resp, "Last-Modified"), " GMT"));
	assert_string_equal(extra_header(&resp, "Cache-Control"), "no-cache");
	resp_release(&resp);
	assert_int_equal(file_cache_count(t->fr.cache), 1);
	/* Changed on disk, but within the window: the cached copy. */
	rewrite(t, "hello.txt", "HELLO\n");
	set_mtime(t, "hello.txt", 1000000000);
	expect_body(t, "/hello.txt", "hello\n");
	assert_int_equal(file_cache_count(t->fr.cache), 1);
}

/* Same inode, new mtime (same size), then new size: seen after the window. */
static void test_cache_sees_change_in_place(void **state)
{
	struct tree *t = *state;

	expect_body(t, "/hello.txt", "hello\n");
	rewrite(t, "hello.txt", "HELLO\n");
	set_mtime(t, "hello.txt", 1000000000);
	expect_body(t, "/hello.txt", "hello\n");
	time_passes();
	expect_body(t, "/hello.txt", "HELLO\n");
	rewrite(t, "hello.txt", "hello, longer\n");
	set_mtime(t, "hello.txt", 1000000000); /* the mtime we cached */
	expect_body(t, "/hello.txt", "HELLO\n");
	time_passes();
	expect_body(t, "/hello.txt", "hello, longer\n");
}

/* A file renamed over it (a new inode): seen after the window. */
static void test_cache_sees_replace(void **state)
{
	struct tree *t = *state;
	char from[PATH_MAX], to[PATH_MAX];

	expect_body(t, "/hello.txt", "hello\n");
	put_file(t->root, "hello.new", "fresh\n");
	at(t, "hello.new", from);
	at(t, "hello.txt", to);
	assert_int_equal(rename(from, to), 0);
	expect_body(t, "/hello.txt", "hello\n");
	time_passes();
	expect_body(t, "/hello.txt", "fresh\n");
}

/* Deleted: 404 after the window, and the entry is gone. */
static void test_cache_sees_delete(void **state)
{
	struct tree *t = *state;
	char p[PATH_MAX], body[64];

	expect_body(t, "/hello.txt", "hello\n");
	expect_body(t, "/sub/", "<p>sub</p>\n");
	at(t, "hello.txt", p);
	assert_int_equal(unlink(p), 0);
	at(t, "sub/index.html", p);
	assert_int_equal(unlink(p), 0);
	expect_body(t, "/hello.txt", "hello\n");
	time_passes();
	assert_int_equal(get_body(t, "/hello.txt", body, sizeof(body)), 404);
	assert_int_equal(get_body(t, "/sub/", body, sizeof(body)), 404);
	assert_int_equal(file_cache_count(t->fr.cache), 0);
}

/*
 * A cached symlink pointed out of the root afterwards: the re-check sees
 * another file, and the slow path refuses it.  Never the secret.
 */
static void test_cache_symlink_retargeted(void **state)
{
	struct tree *t = *state;
	char p[PATH_MAX], body[64];

	expect_body(t, "/link_in", "hello\n");
	at(t, "link_in", p);
	assert_int_equal(unlink(p), 0);
	assert_int_equal(symlink("../secret.txt", p), 0);
	time_passes();
	assert_int_equal(get_body(t, "/link_in", body, sizeof(body)), 404);
	assert_null(strstr(body, "secret"));
}

/* With 2 entries, the least recently used goes first. */
static void test_cache_lru_eviction(void **state)
{
	struct tree *t = *state;

	put_file(t->root, "a.txt", "a\n");
	put_file(t->root, "b.txt", "b\n");
	put_file(t->root, "c.txt", "c\n");
	expect_body(t, "/a.txt", "a\n");
	expect_body(t, "/b.txt", "b\n");
	expect_body(t, "/a.txt", "a\n"); /* a is now the most recent */
	expect_body(t, "/c.txt", "c\n"); /* b goes */
	assert_int_equal(file_cache_count(t->fr.cache), 2);
	/* Without time passing, only an evicted entry shows the change. */
	rewrite(t, "a.txt", "A\n");
	rewrite(t, "b.txt", "B\n");
	expect_body(t, "/a.txt", "a\n");
	expect_body(t, "/b.txt", "B\n"); /* a miss: c goes */
	assert_int_equal(file_cache_count(t->fr.cache), 2);
}

/*
 * A response keeps its entry alive after the cache dropped it (replaced
 * and evicted): its body is still the bytes it had.  ASan would see a
 * use after free here.
 */
static void test_cache_entry_outlives_eviction(void **state)
{
	struct tree *t = *state;
	struct response held;

	put_file(t->root, "a.txt", "old a\n");
	put_file(t->root, "b.txt", "b\n");
	put_file(t->root, "c.txt", "c\n");
	assert_int_equal(serve(t, "/a.txt", &held), 200);
	rewrite(t, "a.txt", "new a!\n");
	time_passes();
	expect_body(t, "/a.txt", "new a!\n"); /* replaced */
	expect_body(t, "/b.txt", "b\n");
	expect_body(t, "/c.txt", "c\n"); /* and evicted */
	assert_int_equal(held.body_len, 6);
	assert_memory_equal(held.body, "old a\n", 6);
	resp_release(&held);
	assert_null(held.body);
	resp_release(&held); /* twice is safe */
}

/* 304 and HEAD from a cached entry; the file range path for big files. */
static void test_cache_conditional_head_and_big(void **state)
{
	struct tree *t = *state;
	char etag[64], h[128], big[FILE_CACHE_BODY_MAX + 2];
	struct response resp;
	struct req q;

	assert_int_equal(serve(t, "/hello.txt", &resp), 200);
	snprintf(etag, sizeof(etag), "%s", extra_header(&resp, "ETag"));
	resp_release(&resp);
	snprintf(h, sizeof(h), "If-None-Match: %s\r\n", etag);
	assert_int_equal(conditional(t, h), 304);
	assert_int_equal(conditional(t, "If-None-Match: \"x\"\r\n"), 200);

	make_req(&q, "HEAD", "/hello.txt", "");
	resp_init(&resp);
	file_serve(&t->fr, "/hello.txt", &q.r, &resp);
	resp_finish(&resp, &q.r);
	assert_int_equal(resp.status, 200);
	assert_non_null(strstr(resp.head, "Content-Length: 6\r\n"));
	assert_non_null(strstr(resp.head, etag));
	assert_int_equal(resp_body_bytes(&resp), 0);
	resp_release(&resp);

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	put_file(t->root, "big.txt", big);
	assert_int_equal(serve(t, "/big.txt", &resp), 200);
	assert_true(resp.file_fd >= 0);
	assert_int_equal(resp.file_len, FILE_CACHE_BODY_MAX + 1);
	resp_release(&resp);
	assert_int_equal(file_cache_count(t->fr.cache), 1);
}

/* Every refusal stays a refusal with the cache, asked twice. */
static void test_cache_keeps_the_guards(void **state)
{
	static const struct {
		const char *path;
		int status;
	} refused[] = {
		{ "/../secret.txt", 403 },
		{ "/sub/../../secret.txt", 403 },
		{ "/..\\secret.txt", 403 },
		{ "relative.txt", 400 },
		{ "/link_out", 404 },
		{ "/dir_out/secret.txt", 404 },
		{ "/dir_out/", 404 },
		{ "/nope.html", 404 },
		{ "/hello.txt/x", 404 },
		{ "/empty/", 404 },
		{ "/fifo", 403 },
		{ "/.hidden", 404 },
		{ "/sub/.env", 404 },
		{ "/.git/config", 404 },
		{ "/", 404 },
	};
	struct tree *t = *state;
	struct response resp;
	size_t i;
	int round;

	for (round = 0; round < 2; round++) {
		for (i = 0; i < ARRAY_SIZE(refused); i++)
			assert_refused(t, refused[i].path, refused[i].status);
		expect_body(t, "/link_in", "hello\n");
		expect_body(t, "/sub/", "<p>sub</p>\n");
		expect_body(t, "/.well-known/security.txt",
			    "Contact: mailto:x@example.org\n");
		/* "/sub/" is cached; "/sub" is still a redirect. */
		assert_redirect(t, "/sub", "/sub/");
		assert_int_equal(serve(t, "/sub", &resp), 301);
		resp_release(&resp);
		time_passes();
	}
	assert_int_equal(file_cache_count(t->fr.cache), 3);
}

/* ---- gzip: the .gz beside a file, and the variant kept in the cache ---- */

static void put_bytes(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Writes text, gzipped, into path. */
static void put_gz_at(const char *path, const char *text)
{
	size_t zlen;
	char *z;

	assert_int_equal(enc_gzip(text, strlen(text), &z, &zlen), 0);
	put_bytes(path, z, zlen);
	free(z);
}

/* Writes text, gzipped, into name under the root. */
static void put_gz(const struct tree *t, const char *name, const char *text)
{
	char p[PATH_MAX];

	at(t, name, p);
	put_gz_at(p, text);
}

/* A page of len bytes of text that compresses well, NUL-terminated. */
#define PAGE_LEN 4096
static void make_page(char page[PAGE_LEN + 1])
{
	size_t i;

	for (i = 0; i < PAGE_LEN; i++)
		page[i] = "<li>a line of a page, again</li>\n"[i % 33];
	page[PAGE_LEN] = '\0';
}

/* file_serve of path as GET (or method) with header lines. */
static int serve_req(const struct tree *t, const char *method, const char *path,
		     const char *headers, struct response *resp)
{
	struct req q;

	make_req(&q, method, "/", headers);
	resp_init(resp);
	file_serve(&t->fr, path, &q.r, resp);
	if (strcmp(method, "HEAD") == 0)
		resp_finish(resp, &q.r);
	return resp->status;
}

/*
 * The body of a 200 (memory or file range) into out, NUL-terminated,
 * inflated first if it carries Content-Encoding: gzip.
 */
static void body_text(const struct response *resp, char *out, size_t outsz)
{
	char raw[FILE_CACHE_BODY_MAX * 2];
	size_t len = 0;

	if (resp->file_fd >= 0) {
		ssize_t n = pread(resp->file_fd, raw, sizeof(raw),
				  resp->file_offset);

		assert_true(n >= 0);
		len = (size_t)n;
	} else {
		assert_true(resp->body_len <= sizeof(raw));
		memcpy(raw, resp->body, resp->body_len);
		len = resp->body_len;
	}
	if (strcmp(extra_header(resp, "Content-Encoding"), "gzip") == 0) {
		z_stream zs;

		memset(&zs, 0, sizeof(zs));
		assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
		zs.next_in = (Bytef *)raw;
		zs.avail_in = (uInt)len;
		zs.next_out = (Bytef *)out;
		zs.avail_out = (uInt)(outsz - 1);
		assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
		out[zs.total_out] = '\0';
		inflateEnd(&zs);
		return;
	}
	assert_true(len < outsz);
	memcpy(out, raw, len);
	out[len] = '\0';
}

/* GETs path with headers: fails unless 200 with body want (decoded). */
static void expect_coded(const struct tree *t, const char *path,
			 const char *headers, bool gzip, const char *want)
{
	char body[PAGE_LEN + 64];
	struct response resp;

	assert_int_equal(serve_req(t, "GET", path, headers, &resp), 200);
	assert_string_equal(extra_header(&resp, "Vary"), "Accept-Encoding");
	assert_string_equal(extra_header(&resp, "Content-Encoding"),
			    gzip ? "gzip" : "");
	body_text(&resp, body, sizeof(body));
	if (strcmp(body, want) != 0)
		fail_msg("GET %s (%s): \"%.40s\", expected \"%.40s\"", path,
			 headers, body, want);
	resp_release(&resp);
}

#define AE_GZIP "Accept-Encoding: gzip\r\n"

/* name.gz is sent as name with Content-Encoding, only to who takes it. */
static void test_gz_beside_file(void **state)
{
	struct tree *t = *state;
	struct response resp;
	const char *etag;
	int round;

	put_gz(t, "hello.txt.gz", "precompressed hello\n");
	put_gz(t, "sub/index.html.gz", "<p>precompressed sub</p>\n");
	for (round = 0; round < 2; round++) { /* the second: cache hits */
		expect_coded(t, "/hello.txt", AE_GZIP, true,
			     "precompressed hello\n");
		expect_coded(t, "/hello.txt", "", false, "hello\n");
		expect_coded(t, "/hello.txt", "Accept-Encoding: gzip;q=0\r\n",
			     false, "hello\n");
		expect_coded(t, "/sub/", AE_GZIP, true,
			     "<p>precompressed sub</p>\n");
	}
	assert_int_equal(serve_req(t, "GET", "/hello.txt", AE_GZIP, &resp),
			 200);
	/* The file's type, not application/gzip; the variant's ETag. */
	assert_string_equal(resp.content_type, "text/plain; charset=utf-8");
	etag = extra_header(&resp, "ETag");
	assert_non_null(strstr(etag, "-gzip\""));
	resp_release(&resp);
	/* The .gz itself, asked for by name, is a file like any other. */
	assert_int_equal(serve_req(t, "GET", "/hello.txt.gz", AE_GZIP, &resp),
			 200);
	assert_string_equal(resp.content_type, "application/gzip");
	assert_string_equal(extra_header(&resp, "Content-Encoding"), "");
	resp_release(&resp);
}

/* A .gz that leads out of the root, or is no regular file, is not sent. */
static void test_gz_obeys_the_root(void **state)
{
	struct tree *t = *state;
	char p[PATH_MAX], target[PATH_MAX];

	snprintf(target, sizeof(target), "%s/secret.txt.gz", t->base);
	put_gz_at(target, "top secret\n");
	at(t, "hello.txt.gz", p);
	assert_int_equal(symlink("../secret.txt.gz", p), 0);
	at(t, "a..b.txt.gz", p);
	assert_int_equal(symlink(target, p), 0); /* absolute, outside */
	at(t, "sub/index.html.gz", p);
	assert_int_equal(mkdir(p, 0755), 0);
	at(t, "link_in.gz", p); /* link_in -> hello.txt */
	assert_int_equal(mkfifo(p, 0644), 0);
	expect_coded(t, "/hello.txt", AE_GZIP, false, "hello\n");
	expect_coded(t, "/a..b.txt", AE_GZIP, false, "dots\n");
	expect_coded(t, "/sub/", AE_GZIP, false, "<p>sub</p>\n");
	expect_coded(t, "/link_in", AE_GZIP, false, "hello\n");
	/* Dotfiles stay hidden, .gz or not. */
	put_gz(t, ".hidden.gz", "hidden\n");
	assert_refused(t, "/.hidden", 404);
}

/* Without a cache nothing is compressed on the fly: see static_files.h. */
static void test_no_cache_no_gzip_on_the_fly(void **state)
{
	struct tree *t = *state;
	char page[PAGE_LEN + 1], p[PATH_MAX];

	make_page(page);
	at(t, "page.html", p);
	put_bytes(p, page, PAGE_LEN);
	expect_coded(t, "/page.html", AE_GZIP, false, page);
}

/* The ETag and header lines of GET path with headers into etag. */
static int etag_of(const struct tree *t, const char *path, const char *headers,
		   char etag[64])
{
	struct response resp;
	int status = serve_req(t, "GET", path, headers, &resp);

	snprintf(etag, 64, "%s", extra_header(&resp, "ETag"));
	resp_release(&resp);
	return status;
}

/* A compressible file in the cache: gzipped once, when first asked. */
static void test_gzip_on_the_fly(void **state)
{
	struct tree *t = *state;
	char page[PAGE_LEN + 1], p[PATH_MAX], plain[64], gz[64], want[80];
	struct response a, b;

	make_page(page);
	at(t, "page.html", p);
	put_bytes(p, page, PAGE_LEN);
	at(t, "page.png", p); /* the same bytes, a type that is not text */
	put_bytes(p, page, PAGE_LEN);
	expect_coded(t, "/page.html", AE_GZIP, true, page);
	expect_coded(t, "/page.html", "", false, page);
	expect_coded(t, "/page.html", "Accept-Encoding: br\r\n", false, page);
	expect_coded(t, "/page.png", AE_GZIP, false, page);
	expect_coded(t, "/hello.txt", AE_GZIP, false, "hello\n"); /* small */

	/* Once per file version: two requests send the very same bytes. */
	assert_int_equal(serve_req(t, "GET", "/page.html", AE_GZIP, &a), 200);
	assert_int_equal(serve_req(t, "GET", "/page.html", AE_GZIP, &b), 200);
	assert_ptr_equal(a.body, b.body);
	assert_true(a.body_len < PAGE_LEN / 10);
	resp_release(&b);

	/* HEAD: the compressed length, no body. */
	assert_int_equal(serve_req(t, "HEAD", "/page.html", AE_GZIP, &b), 200);
	snprintf(want, sizeof(want), "Content-Length: %zu\r\n", a.body_len);
	assert_non_null(strstr(b.head, want));
	assert_non_null(strstr(b.head, "Content-Encoding: gzip\r\n"));
	assert_int_equal(resp_body_bytes(&b), 0);
	resp_release(&b);
	resp_release(&a);

	/* The variant's ETag is the identity one, "-gzip" inside quotes. */
	assert_int_equal(etag_of(t, "/page.html", "", plain), 200);
	assert_int_equal(etag_of(t, "/page.html", AE_GZIP, gz), 200);
	snprintf(want, sizeof(want), "%.*s-gzip\"", (int)strlen(plain) - 1,
		 plain);
	assert_string_equal(gz, want);
}

/*
 * Lazily: a client that does not take gzip leaves the entry without a
 * variant; the first that does makes it, and later ones send its bytes.
 */
static void test_gzip_only_when_asked(void **state)
{
	struct tree *t = *state;
	char page[PAGE_LEN + 1], p[PATH_MAX];
	const struct file_gzip *gz;
	struct response a, b;
	struct file_entry *e;

	make_page(page);
	at(t, "page.html", p);
	put_bytes(p, page, PAGE_LEN);
	expect_coded(t, "/page.html", "", false, page);
	expect_coded(t, "/page.html", "Accept-Encoding: br\r\n", false, page);
	e = file_cache_get(t->fr.cache, "/page.html");
	assert_non_null(e);
	assert_null(file_entry_gzip(e));

	assert_int_equal(serve_req(t, "GET", "/page.html", AE_GZIP, &a), 200);
	gz = file_entry_gzip(e);
	assert_non_null(gz);
	assert_ptr_equal(a.body, gz->data);
	assert_int_equal(a.body_len, gz->len);
	assert_int_equal(serve_req(t, "GET", "/page.html", AE_GZIP, &b), 200);
	assert_ptr_equal(b.body, gz->data);
	assert_ptr_equal(file_entry_gzip(e), gz);
	resp_release(&b);
	resp_release(&a);
	file_entry_unref(e);
	expect_coded(t, "/page.html", AE_GZIP, true, page);
}

/* If-None-Match with either ETag, as a client that takes either. */
static void test_gzip_not_modified(void **state)
{
	struct tree *t = *state;
	char page[PAGE_LEN + 1], p[PATH_MAX], plain[64], gz[64], h[256];
	struct response resp;

	make_page(page);
	at(t, "page.html", p);
	put_bytes(p, page, PAGE_LEN);
	assert_int_equal(etag_of(t, "/page.html", "", plain), 200);
	assert_int_equal(etag_of(t, "/page.html", AE_GZIP, gz), 200);

	/* The gzip copy is current: 304 with its ETag and Vary. */
	snprintf(h, sizeof(h), AE_GZIP "If-None-Match: %s\r\n", gz);
	assert_int_equal(serve_req(t, "GET", "/page.html", h, &resp), 304);
	assert_string_equal(extra_header(&resp, "ETag"), gz);
	assert_string_equal(extra_header(&resp, "Vary"), "Accept-Encoding");
	assert_string_equal(extra_header(&resp, "Content-Encoding"), "");
	resp_release(&resp);
	/* The identity copy is current too, for who takes identity. */
	snprintf(h, sizeof(h), AE_GZIP "If-None-Match: \"x\", %s\r\n", plain);
	assert_int_equal(serve_req(t, "GET", "/page.html", h, &resp), 304);
	assert_string_equal(extra_header(&resp, "ETag"), plain);
	resp_release(&resp);
	/* Both held: the one we would send. */
	snprintf(h, sizeof(h), AE_GZIP "If-None-Match: %s, %s\r\n", plain, gz);
	assert_int_equal(serve_req(t, "GET", "/page.html", h, &resp), 304);
	assert_string_equal(extra_header(&resp, "ETag"), gz);
	resp_release(&resp);
	/* A gzip copy is no use to a client that does not take gzip. */
	snprintf(h, sizeof(h), "If-None-Match: %s\r\n", gz);
	assert_int_equal(serve_req(t, "GET", "/page.html", h, &resp), 200);
	assert_string_equal(extra_header(&resp, "ETag"), plain);
	resp_release(&resp);
	/* Nor an identity copy to one that refuses identity. */
	snprintf(h, sizeof(h),
		 "Accept-Encoding: gzip, identity;q=0\r\n"
		 "If-None-Match: %s\r\n",
		 plain);
	assert_int_equal(serve_req(t, "GET", "/page.html", h, &resp), 200);
	assert_string_equal(extra_header(&resp, "ETag"), gz);
	resp_release(&resp);
	/* The identity copy, asked for as identity. */
	snprintf(h, sizeof(h), "If-None-Match: %s\r\n", plain);
	assert_int_equal(serve_req(t, "GET", "/page.html", h, &resp), 304);
	assert_string_equal(extra_header(&resp, "Vary"), "Accept-Encoding");
	resp_release(&resp);
}

/* A .gz that appears, changes or goes is seen after the window. */
static void test_cache_sees_gz_change(void **state)
{
	struct tree *t = *state;
	char page[PAGE_LEN + 1], p[PATH_MAX];

	make_page(page);
	at(t, "page.html", p);
	put_bytes(p, page, PAGE_LEN);
	expect_coded(t, "/page.html", AE_GZIP, true, page);
	put_gz(t, "page.html.gz", "first\n");
	expect_coded(t, "/page.html", AE_GZIP, true, page); /* within */
	time_passes();
	expect_coded(t, "/page.html", AE_GZIP, true, "first\n");
	put_gz(t, "page.html.gz", "second, longer\n");
	time_passes();
	expect_coded(t, "/page.html", AE_GZIP, true, "second, longer\n");
	at(t, "page.html.gz", p);
	assert_int_equal(unlink(p), 0);
	time_passes();
	expect_coded(t, "/page.html", AE_GZIP, true, page);
	expect_coded(t, "/page.html", "", false, page);
}

#define C(f) cmocka_unit_test_setup_teardown(f, cache_setup, teardown)
#define CACHE_TESTS                                                            \
	C(test_cache_serves_from_memory), C(test_cache_sees_change_in_place),  \
		C(test_cache_sees_replace), C(test_cache_sees_delete),         \
		C(test_cache_symlink_retargeted),                              \
		cmocka_unit_test_setup_teardown(test_cache_lru_eviction,       \
						cache_setup_2, teardown),      \
		cmocka_unit_test_setup_teardown(                               \
			test_cache_entry_outlives_eviction, cache_setup_2,     \
			teardown),                                             \
		C(test_cache_conditional_head_and_big),                        \
		C(test_cache_keeps_the_guards), C(test_gz_beside_file),        \
		C(test_gz_obeys_the_root), C(test_gzip_on_the_fly),            \
		C(test_gzip_only_when_asked), C(test_gzip_not_modified),       \
		C(test_cache_sees_gz_change)

static int group_openat2(void **state)
{
	(void)state;
	group_resolve = FILE_RESOLVE_OPENAT2;
	return 0;
}

static int group_realpath(void **state)
{
	(void)state;
	group_resolve = FILE_RESOLVE_REALPATH;
	return 0;
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_resolve_root),
		T(test_serves_regular_file),
		T(test_head_sends_no_file),
		T(test_traversal_is_403),
		T(test_encoded_traversal_is_403),
		T(test_symlinks),
		T(test_absolute_symlinks),
		T(test_not_found_and_special_files),
		T(test_directory_index_and_redirect),
		T(test_redirect_is_never_protocol_relative),
		T(test_dotfiles_are_404),
		cmocka_unit_test(test_mime_types),
		cmocka_unit_test(test_etag),
		T(test_not_modified),
		T(test_resolve_env),
		T(test_gz_beside_file),
		T(test_gz_obeys_the_root),
		T(test_no_cache_no_gzip_on_the_fly),
	};
	const struct CMUnitTest cache_tests[] = { CACHE_TESTS };
#undef T
	int failed = 0;

	/* The groups choose the mode; the environment must not. */
	unsetenv(FILE_RESOLVE_ENV);
	failed += cmocka_run_group_tests_name("openat2", tests, group_openat2,
					      NULL);
	failed += cmocka_run_group_tests_name("realpath", tests, group_realpath,
					      NULL);
	failed += cmocka_run_group_tests_name("cache (openat2)", cache_tests,
					      group_openat2, NULL);
	failed += cmocka_run_group_tests_name("cache (realpath)", cache_tests,
					      group_realpath, NULL);
	return failed;
}
