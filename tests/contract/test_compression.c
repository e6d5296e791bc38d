/*
 * test_compression.c - the "compression" group: Accept-Encoding, gzip on
 * the fly and from a .gz beside a file, Vary, the variant's ETag, 304 and
 * HEAD (encoding.h, static_files.h), against a real server.  Every gzip
 * body is inflated here with zlib and compared with the file on disk.
 *
 * The group builds a document root of its own and starts a server on it
 * with the default file cache:
 *
 *   base/secret.txt.gz     outside the root: never sent
 *   root/page.html         PAGE_LEN bytes of text: gzipped on the fly
 *   root/tiny.txt          below ENC_GZIP_MIN: always identity
 *   root/photo.png         text bytes, an image type: always identity
 *   root/pre.txt, .gz      the .gz holds PRE_GZ_TEXT, not pre.txt
 *   root/large.txt         BIG_LEN of text, above the cache: identity
 *   root/largepre.txt, .gz BIG_LEN of text, and a .gz: sent with sendfile
 *   root/out.txt, .gz      the .gz a symlink to base/secret.txt.gz
 *
 * The .gz files hold other text than their originals, so a body tells
 * which one was sent.  Requests use one keep-alive connection where a
 * test compares responses, so that in 02 they reach one child's cache.
 */
#include "contract.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define PAGE_LEN 8000
#define BIG_LEN (256 * 1024)
#define PRE_GZ_TEXT "the precompressed variant of pre.txt\n"
#define LARGE_GZ_TEXT "the precompressed variant of largepre.txt\n"
#define SECRET_TEXT DOC_SECRET "\n"

static char base[256]; /* mkdtemp'd: secret.txt.gz, root/ */
static char root[PATH_MAX];
static struct server_proc srv;

/* Text of len bytes that compresses well, different per seed. */
static char *make_text(size_t len, int seed)
{
	char *t = malloc(len + 1);
	size_t i;

	if (t == NULL)
		return NULL;
	for (i = 0; i < len; i++)
		t[i] = (i + 1) % 64 == 0 ? '\n'
					 : (char)('a' + (i / 7 + seed) % 26);
	t[len] = '\0';
	return t;
}

static int put_bytes(const char *rel, const void *data, size_t len)
{
	char path[PATH_MAX + 64];
	int fd, rc = 0;

	snprintf(path, sizeof(path), "%s/%s", base, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len)
		rc = -1;
	return close(fd) == 0 ? rc : -1;
}

/* Writes text gzipped (zlib's gzip wrapper) into rel. */
static int put_gz(const char *rel, const char *text)
{
	unsigned char out[4096];
	z_stream zs;
	int rc;

	memset(&zs, 0, sizeof(zs));
	if (deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY))
		return -1;
	zs.next_in = (Bytef *)text;
	zs.avail_in = (uInt)strlen(text);
	zs.next_out = out;
	zs.avail_out = sizeof(out);
	rc = deflate(&zs, Z_FINISH);
	deflateEnd(&zs);
	if (rc != Z_STREAM_END)
		return -1;
	return put_bytes(rel, out, zs.total_out);
}

static int put_text_file(const char *rel, size_t len, int seed)
{
	char *t = make_text(len, seed);
	int rc;

	if (t == NULL)
		return -1;
	rc = put_bytes(rel, t, len);
	free(t);
	return rc;
}

static int make_root(void)
{
	const char *tmp = getenv("TMPDIR");
	char target[PATH_MAX + 32], link[PATH_MAX + 32];

	snprintf(base, sizeof(base), "%s/contract-gzip-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(root, sizeof(root), "%s/root", base);
	if (mkdir(root, 0755) != 0 || put_gz("secret.txt.gz", SECRET_TEXT) ||
	    put_text_file("root/page.html", PAGE_LEN, 0) ||
	    put_text_file("root/tiny.txt", 100, 1) ||
	    put_text_file("root/photo.png", PAGE_LEN, 2) ||
	    put_text_file("root/pre.txt", PAGE_LEN, 3) ||
	    put_gz("root/pre.txt.gz", PRE_GZ_TEXT) ||
	    put_text_file("root/large.txt", BIG_LEN, 4) ||
	    put_text_file("root/largepre.txt", BIG_LEN, 5) ||
	    put_gz("root/largepre.txt.gz", LARGE_GZ_TEXT) ||
	    put_text_file("root/out.txt", PAGE_LEN, 6))
		return -1;
	snprintf(target, sizeof(target), "%s/secret.txt.gz", base);
	snprintf(link, sizeof(link), "%s/out.txt.gz", root);
	return symlink(target, link);
}

static int compression_up(void **state)
{
	static const char *const opts[] = { "--root", root, NULL };

	(void)state;
	if (make_root() != 0) {
		fprintf(stderr, "contract: the compression root: %s\n",
			strerror(errno));
		return -1;
	}
	return server_start(&srv, opts);
}

static int compression_down(void **state)
{
	(void)state;
	client_close_all();
	server_kill(&srv);
	if (base[0])
		remove_tree(base);
	return 0;
}

static int compression_teardown(void **state)
{
	(void)state;
	client_close_all();
	return 0;
}

/* ---- helpers ---- */

/* The file rel under the root (or base), read whole; len into *len. */
static char *disk_file(const char *rel, size_t *len)
{
	char path[PATH_MAX + 64];
	struct stat st;
	char *buf;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0)
		fail_msg("%s: %s", path, strerror(errno));
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL ||
	    read(fd, buf, (size_t)st.st_size) != (ssize_t)st.st_size)
		fail_msg("reading %s", path);
	close(fd);
	buf[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	return buf;
}

/* Inflates a gzip body; fails the test unless it is one whole member. */
static char *gunzip(const char *z, size_t zlen, size_t *len)
{
	size_t cap = BIG_LEN * 2;
	char *out = malloc(cap);
	z_stream zs;
	int rc;

	memset(&zs, 0, sizeof(zs));
	if (out == NULL || inflateInit2(&zs, 15 + 16) != Z_OK)
		fail_msg("inflateInit2");
	zs.next_in = (Bytef *)z;
	zs.avail_in = (uInt)zlen;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)cap;
	rc = inflate(&zs, Z_FINISH);
	inflateEnd(&zs);
	if (rc != Z_STREAM_END || zs.avail_in != 0)
		fail_msg("the body (%zu bytes) is not one gzip member: "
			 "inflate said %d, %u bytes left over",
			 zlen, rc, zs.avail_in);
	*len = zs.total_out;
	return out;
}

/* Sends GET (or HEAD) path with extra header lines on c, reads the reply. */
static void ask(struct client *c, const char *method, const char *path,
		const char *headers, struct reply *r)
{
	char req[1024], what[256];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\nHost: contract\r\n%s\r\n",
		 method, path, headers);
	snprintf(what, sizeof(what), "%s %s with \"%.*s\"", method, path,
		 (int)strcspn(headers, "\r"), headers);
	send_or_fail(c, req);
	read_reply_or_fail(c, r, strcmp(method, "HEAD") == 0, what);
}

static void assert_vary(const struct reply *r, const char *what)
{
	if (!reply_header_has_token(r, "Vary", "Accept-Encoding"))
		fail_msg("%s: no Vary: Accept-Encoding; the head was:\n%s",
			 what, r->head);
}

/*
 * Fails unless r is a 200 of want (want_len bytes), sent gzipped or not
 * as gzip says, with Vary and a Content-Length of what was sent.
 */
static void assert_body(const struct reply *r, bool gzip, const char *want,
			size_t want_len, const char *what)
{
	const char *ce = reply_header(r, "Content-Encoding");
	const char *cl = header_or_fail(r, "Content-Length");
	size_t len;
	char *got;

	assert_status(r, 200, what);
	assert_vary(r, what);
	if (gzip && (ce == NULL || strcmp(ce, "gzip") != 0))
		fail_msg("%s: expected Content-Encoding: gzip; the head "
			 "was:\n%s",
			 what, r->head);
	if (!gzip && ce != NULL)
		fail_msg("%s: expected no Content-Encoding; the head was:\n%s",
			 what, r->head);
	if (strtoull(cl, NULL, 10) != r->body_len)
		fail_msg("%s: Content-Length %s, body %zu bytes", what, cl,
			 r->body_len);
	if (!gzip) {
		got = r->body;
		len = r->body_len;
	} else {
		got = gunzip(r->body, r->body_len, &len);
	}
	if (len != want_len || memcmp(got, want, len) != 0)
		fail_msg("%s: the %s body (%zu bytes) is not the expected "
			 "%zu bytes",
			 what, gzip ? "decoded" : "", len, want_len);
	if (gzip)
		free(got);
}

/* GET path with headers: a 200 whose body (decoded) is the file rel. */
static void expect_file(struct client *c, const char *path, const char *headers,
			bool gzip, const char *rel)
{
	struct reply r;
	size_t len;
	char *want = disk_file(rel, &len), what[256];

	snprintf(what, sizeof(what), "GET %s with \"%.*s\"", path,
		 (int)strcspn(headers, "\r"), headers);
	ask(c, "GET", path, headers, &r);
	assert_body(&r, gzip, want, len, what);
	reply_free(&r);
	free(want);
}

#define AE_GZIP "Accept-Encoding: gzip\r\n"

/* ---- tests ---- */

/* A text file in the cache is sent gzipped, and decodes to the file. */
static void test_gzip_on_the_fly(void **state)
{
	struct client *c = open_or_fail(srv.port);
	struct reply r;

	(void)state;
	expect_file(c, "/page.html", AE_GZIP, true, "page.html");
	expect_file(c, "/page.html", AE_GZIP, true, "page.html"); /* a hit */
	expect_file(c, "/page.html", "Accept-Encoding: gzip, deflate, br\r\n",
		    true, "page.html");
	ask(c, "GET", "/page.html", AE_GZIP, &r);
	if (r.body_len >= PAGE_LEN / 4)
		fail_msg("gzip of a repetitive page: %zu of %d bytes",
			 r.body_len, PAGE_LEN);
	assert_string_equal(header_or_fail(&r, "Content-Type"),
			    "text/html; charset=utf-8");
	reply_free(&r);
}

/* No gzip when the client does not take it, and Vary all the same. */
static void test_identity_unless_accepted(void **state)
{
	static const char *const identity[] = {
		"",
		"Accept-Encoding: identity\r\n",
		"Accept-Encoding: br, deflate\r\n",
		"Accept-Encoding: gzip;q=0\r\n",
		"Accept-Encoding: *;q=0, identity\r\n",
		"Accept-Encoding: gzip;q=0.5, identity\r\n",
		"Accept-Encoding: gzip;q=nope\r\n",
		/* Identity refused too: identity anyway (encoding.h). */
		"Accept-Encoding: gzip;q=0, identity;q=0\r\n",
	};
	static const char *const gzip[] = {
		"Accept-Encoding: GZIP\r\n",
		"Accept-Encoding: x-gzip\r\n",
		"Accept-Encoding: *\r\n",
		"Accept-Encoding: identity;q=0.5, gzip;q=0.8\r\n",
		"Accept-Encoding: br\r\nAccept-Encoding: gzip\r\n",
		"Accept-Encoding:  deflate ,  gzip ; q=0.1  \r\n",
	};
	struct client *c = open_or_fail(srv.port);
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(identity); i++)
		expect_file(c, "/page.html", identity[i], false, "page.html");
	for (i = 0; i < ARRAY_SIZE(gzip); i++)
		expect_file(c, "/page.html", gzip[i], true, "page.html");
}

/* Small files, and types that are compressed already, go as they are. */
static void test_small_and_binary_are_identity(void **state)
{
	struct client *c = open_or_fail(srv.port);

	(void)state;
	expect_file(c, "/tiny.txt", AE_GZIP, false, "tiny.txt");
	expect_file(c, "/photo.png", AE_GZIP, false, "photo.png");
	/* Above the cache's bound and no .gz: never compressed on a loop. */
	expect_file(c, "/large.txt", AE_GZIP, false, "large.txt");
}

/* name.gz wins over compressing name, small or large, with name's type. */
static void test_precompressed_wins(void **state)
{
	struct client *c = open_or_fail(srv.port);
	struct reply r;
	int round;

	(void)state;
	for (round = 0; round < 2; round++) {
		ask(c, "GET", "/pre.txt", AE_GZIP, &r);
		assert_body(&r, true, PRE_GZ_TEXT, strlen(PRE_GZ_TEXT),
			    "GET /pre.txt");
		assert_string_equal(header_or_fail(&r, "Content-Type"),
				    "text/plain; charset=utf-8");
		reply_free(&r);
		ask(c, "GET", "/largepre.txt", AE_GZIP, &r);
		assert_body(&r, true, LARGE_GZ_TEXT, strlen(LARGE_GZ_TEXT),
			    "GET /largepre.txt");
		reply_free(&r);
		expect_file(c, "/pre.txt", "", false, "pre.txt");
		expect_file(c, "/largepre.txt", "", false, "largepre.txt");
	}
}

/* A .gz beside a file follows the file's rules: no way out of the root. */
static void test_precompressed_stays_in_root(void **state)
{
	struct client *c = open_or_fail(srv.port);
	struct reply r;

	(void)state;
	ask(c, "GET", "/out.txt", AE_GZIP, &r);
	if (r.body_len > 0 && reply_header(&r, "Content-Encoding")) {
		size_t len;
		char *got = gunzip(r.body, r.body_len, &len);

		if (memmem(got, len, DOC_SECRET, strlen(DOC_SECRET)))
			fail_msg("GET /out.txt sent the .gz outside the root");
		free(got);
	}
	reply_free(&r);
	/* It is compressed on the fly instead, from the file itself. */
	expect_file(c, "/out.txt", AE_GZIP, true, "out.txt");
}

/* The two variants have two ETags; If-None-Match works with either. */
static void test_etags_and_304(void **state)
{
	struct client *c = open_or_fail(srv.port);
	char plain[128], gz[128], h[512], want[160];
	struct reply r;

	(void)state;
	ask(c, "GET", "/page.html", "", &r);
	snprintf(plain, sizeof(plain), "%s", header_or_fail(&r, "ETag"));
	reply_free(&r);
	ask(c, "GET", "/page.html", AE_GZIP, &r);
	snprintf(gz, sizeof(gz), "%s", header_or_fail(&r, "ETag"));
	reply_free(&r);
	snprintf(want, sizeof(want), "%.*s-gzip\"", (int)strlen(plain) - 1,
		 plain);
	assert_string_equal(gz, want);

	snprintf(h, sizeof(h), AE_GZIP "If-None-Match: %s\r\n", gz);
	ask(c, "GET", "/page.html", h, &r);
	assert_status(&r, 304, "If-None-Match: the gzip ETag");
	assert_string_equal(header_or_fail(&r, "ETag"), gz);
	assert_vary(&r, "304 of the gzip variant");
	reply_free(&r);

	snprintf(h, sizeof(h), AE_GZIP "If-None-Match: %s\r\n", plain);
	ask(c, "GET", "/page.html", h, &r);
	assert_status(&r, 304, "gzip taken, If-None-Match: the identity ETag");
	assert_string_equal(header_or_fail(&r, "ETag"), plain);
	assert_vary(&r, "304 of the identity variant");
	reply_free(&r);

	snprintf(h, sizeof(h), "If-None-Match: %s\r\n", plain);
	ask(c, "GET", "/page.html", h, &r);
	assert_status(&r, 304, "If-None-Match: the identity ETag");
	assert_vary(&r, "304 of identity");
	reply_free(&r);

	/* A gzip copy does not satisfy a client that cannot decode it. */
	snprintf(h, sizeof(h), "If-None-Match: %s\r\n", gz);
	ask(c, "GET", "/page.html", h, &r);
	assert_status(&r, 200, "no gzip, If-None-Match: the gzip ETag");
	assert_string_equal(header_or_fail(&r, "ETag"), plain);
	reply_free(&r);

	/* The same from a .gz file sent with sendfile. */
	ask(c, "GET", "/largepre.txt", AE_GZIP, &r);
	snprintf(gz, sizeof(gz), "%s", header_or_fail(&r, "ETag"));
	reply_free(&r);
	snprintf(h, sizeof(h), AE_GZIP "If-None-Match: %s\r\n", gz);
	ask(c, "GET", "/largepre.txt", h, &r);
	assert_status(&r, 304, "If-None-Match: the .gz variant's ETag");
	assert_string_equal(header_or_fail(&r, "ETag"), gz);
	assert_vary(&r, "304 of a .gz");
	reply_free(&r);
}

/* HEAD: the compressed length, and no body (the next reply parses). */
static void test_head(void **state)
{
	static const char *const paths[] = { "/page.html", "/pre.txt",
					     "/largepre.txt" };
	struct client *c = open_or_fail(srv.port);
	struct reply get, head;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(paths); i++) {
		ask(c, "GET", paths[i], AE_GZIP, &get);
		ask(c, "HEAD", paths[i], AE_GZIP, &head);
		assert_status(&head, 200, paths[i]);
		assert_string_equal(header_or_fail(&head, "Content-Encoding"),
				    "gzip");
		assert_vary(&head, paths[i]);
		if (strtoull(header_or_fail(&head, "Content-Length"), NULL,
			     10) != get.body_len)
			fail_msg("HEAD %s: Content-Length %s, GET sent %zu",
				 paths[i],
				 reply_header(&head, "Content-Length"),
				 get.body_len);
		assert_string_equal(header_or_fail(&head, "ETag"),
				    header_or_fail(&get, "ETag"));
		reply_free(&get);
		reply_free(&head);
	}
	/* Had HEAD sent a body, this reply would start inside it. */
	expect_file(c, "/tiny.txt", "", false, "tiny.txt");
}

int run_compression_tests(void)
{
#define T(f) cmocka_unit_test_teardown(f, compression_teardown)
	const struct CMUnitTest tests[] = {
		T(test_gzip_on_the_fly),
		T(test_identity_unless_accepted),
		T(test_small_and_binary_are_identity),
		T(test_precompressed_wins),
		T(test_precompressed_stays_in_root),
		T(test_etags_and_304),
		T(test_head),
	};
#undef T

	return run_group("compression", tests, ARRAY_SIZE(tests),
			 compression_up, compression_down);
}
