/*
 * test_cache.c - the "cache" group: the open-file cache and the two ways
 * of resolving a path (static_files.h, file_cache.h), against a real
 * server.
 *
 * The group builds a document root of its own, which it changes under the
 * server, and starts two servers on it:
 *
 *   cached   --file-cache-valid 1: a file replaced, changed or deleted is
 *            served fresh (or 404) within a bounded poll of
 *            FRESH_WITHIN_MS; 304 and HEAD come through the cache;
 *   plain    CONCURRENCY_SERVERS_RESOLVE=realpath and --file-cache-valid
 *            0: the fallback resolver, and no cache, so a change shows on
 *            the very next request.
 *
 * Both must keep every symlink rule: a link inside the root to a file
 * inside it (relative or absolute) is served, one leading out is 404.
 *
 * The polls go over one keep-alive connection, so that in 02 they reach
 * the cache of one child, which lives as long as the connection.
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

#define HOST "Host: contract\r\n"

/* A change must show within this (valid 1 s, and a margin), polled. */
#define FRESH_WITHIN_MS 3000
#define POLL_MS 100

static char base[256]; /* mkdtemp'd: secret.txt, root/ */
static char root[PATH_MAX];
static struct server_proc cached, plain;

/* base/rel into out (PATH_MAX); base is short, so it fits. */
static void path_of(char *out, const char *rel)
{
	snprintf(out, PATH_MAX, "%s/%s", base, rel);
}

/*
 * Writes text into rel through a new file renamed over it: a new inode.
 * Returns 0, or -1 with errno set.
 */
static int put_text(const char *rel, const char *text)
{
	char path[PATH_MAX], tmp[PATH_MAX + 8];
	FILE *f;

	path_of(path, rel);
	snprintf(tmp, sizeof(tmp), "%s.new", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return -1;
	if (fputs(text, f) < 0) {
		fclose(f);
		return -1;
	}
	if (fclose(f) != 0)
		return -1;
	return rename(tmp, path);
}

static int put_link(const char *target, const char *rel)
{
	char path[PATH_MAX];

	path_of(path, rel);
	return symlink(target, path);
}

static void replace_file(const char *rel, const char *text)
{
	if (put_text(rel, text) != 0)
		fail_msg("writing %s: %s", rel, strerror(errno));
}

/* Rewrites rel in place: the same inode, new size and mtime. */
static void rewrite_file(const char *rel, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	path_of(path, rel);
	f = fopen(path, "r+");
	if (f == NULL || fputs(text, f) < 0 ||
	    ftruncate(fileno(f), (off_t)strlen(text)) != 0 || fclose(f) != 0)
		fail_msg("rewriting %s: %s", path, strerror(errno));
}

static void make_link(const char *target, const char *rel)
{
	if (put_link(target, rel) != 0)
		fail_msg("symlink %s: %s", rel, strerror(errno));
}

/*
 * base/secret.txt
 * base/root/index.html, small.txt ("small"), sub/index.html ("sub")
 * base/root/link_in -> small.txt, abs_in -> base/root/small.txt
 * base/root/link_out -> ../secret.txt, abs_out -> base/secret.txt
 */
static int make_root(void)
{
	const char *tmp = getenv("TMPDIR");
	char target[PATH_MAX + 16];

	snprintf(base, sizeof(base), "%s/contract-cache-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (mkdtemp(base) == NULL)
		return -1;
	snprintf(root, sizeof(root), "%s/root", base);
	path_of(target, "root/sub");
	if (mkdir(root, 0755) != 0 || mkdir(target, 0755) != 0 ||
	    put_text("secret.txt", DOC_SECRET "\n") != 0 ||
	    put_text("root/index.html", DOC_INDEX) != 0 ||
	    put_text("root/small.txt", "small\n") != 0 ||
	    put_text("root/sub/index.html", "sub\n") != 0 ||
	    put_link("small.txt", "root/link_in") != 0 ||
	    put_link("../secret.txt", "root/link_out") != 0)
		return -1;
	path_of(target, "root/small.txt");
	if (put_link(target, "root/abs_in") != 0)
		return -1;
	path_of(target, "secret.txt");
	return put_link(target, "root/abs_out");
}

static int cache_up(void **state)
{
	static const char *const cached_opts[] = { "--root", root,
						   "--file-cache-valid", "1",
						   NULL };
	static const char *const plain_opts[] = { "--root", root,
						  "--file-cache-valid", "0",
						  NULL };
	int rc;

	(void)state;
	if (make_root() != 0) {
		fprintf(stderr, "contract: cache root: %s\n", strerror(errno));
		return -1;
	}
	if (server_start(&cached, cached_opts) != 0)
		return -1;
	/* Read once, at start-up, by the server: set it for that only. */
	setenv("CONCURRENCY_SERVERS_RESOLVE", "realpath", 1);
	rc = server_start(&plain, plain_opts);
	unsetenv("CONCURRENCY_SERVERS_RESOLVE");
	return rc;
}

static int cache_down(void **state)
{
	(void)state;
	client_close_all();
	server_kill(&cached);
	server_kill(&plain);
	if (base[0] != '\0')
		remove_tree(base);
	return 0;
}

static int cache_test_teardown(void **state)
{
	(void)state;
	client_close_all();
	return 0;
}

/* Sends "method path" with extra header lines on c; reads the reply. */
static void ask(struct client *c, const char *method, const char *path,
		const char *headers, struct reply *r)
{
	char req[512];

	snprintf(req, sizeof(req), "%s %s HTTP/1.1\r\n" HOST "%s\r\n", method,
		 path, headers);
	send_or_fail(c, req);
	read_reply_or_fail(c, r, strcmp(method, "HEAD") == 0, path);
}

/* GET path on c: fails unless it is status with body (if not NULL). */
static void expect(struct client *c, const char *path, int status,
		   const char *body)
{
	struct reply r;

	ask(c, "GET", path, "", &r);
	assert_status(&r, status, path);
	if (body != NULL && strcmp(r.body, body) != 0)
		fail_msg("GET %s: body \"%s\", expected \"%s\"", path, r.body,
			 body);
	if (strstr(r.body, DOC_SECRET) != NULL)
		fail_msg("GET %s: served the secret outside the root", path);
	reply_free(&r);
}

/*
 * GETs path on c every POLL_MS until the answer is status (with body, if
 * not NULL); fails if it is not so within FRESH_WITHIN_MS.
 */
static void poll_until(struct client *c, const char *path, int status,
		       const char *body, const char *change)
{
	int64_t deadline = now_ms() + FRESH_WITHIN_MS;
	struct reply r;

	for (;;) {
		bool done;

		ask(c, "GET", path, "", &r);
		done = r.status == status &&
		       (body == NULL || strcmp(r.body, body) == 0);
		if (done || now_ms() > deadline)
			break;
		reply_free(&r);
		sleep_ms(POLL_MS);
	}
	if (r.status != status || (body != NULL && strcmp(r.body, body) != 0))
		fail_msg("%s: GET %s still answers %d \"%s\" after %d ms with "
			 "--file-cache-valid 1; expected %d \"%s\"",
			 change, path, r.status, r.body, FRESH_WITHIN_MS,
			 status, body != NULL ? body : "");
	reply_free(&r);
}

/* A file renamed over the cached one (a new inode) is served fresh. */
static void replaced_file_is_fresh(void **state)
{
	struct client *c = open_or_fail(cached.port);

	(void)state;
	replace_file("root/r.txt", "one\n");
	expect(c, "/r.txt", 200, "one\n");
	expect(c, "/r.txt", 200, "one\n");
	replace_file("root/r.txt", "two, replaced\n");
	poll_until(c, "/r.txt", 200, "two, replaced\n", "replaced");
}

/* Changed in place (same inode, new size and mtime): served fresh. */
static void changed_file_is_fresh(void **state)
{
	struct client *c = open_or_fail(cached.port);

	(void)state;
	replace_file("root/c.txt", "first\n");
	expect(c, "/c.txt", 200, "first\n");
	expect(c, "/c.txt", 200, "first\n");
	rewrite_file("root/c.txt", "second, in place\n");
	poll_until(c, "/c.txt", 200, "second, in place\n", "changed");
}

/* Deleted: 404, also for a directory whose index.html was cached. */
static void deleted_file_is_404(void **state)
{
	struct client *c = open_or_fail(cached.port);
	char path[PATH_MAX];

	(void)state;
	replace_file("root/d.txt", "doomed\n");
	make_link("d.txt", "root/d_link");
	expect(c, "/d.txt", 200, "doomed\n");
	expect(c, "/d_link", 200, "doomed\n");
	path_of(path, "root/d.txt");
	if (unlink(path) != 0)
		fail_msg("unlink %s: %s", path, strerror(errno));
	poll_until(c, "/d.txt", 404, NULL, "deleted");
	poll_until(c, "/d_link", 404, NULL, "link to a deleted file");
}

/* 304 and HEAD through the cache, 301 and 404 beside it. */
static void conditional_head_redirect(void **state)
{
	struct client *c = open_or_fail(cached.port);
	char inm[160];
	struct reply r;
	int i;

	(void)state;
	ask(c, "GET", "/small.txt", "", &r);
	assert_status(&r, 200, "GET /small.txt");
	snprintf(inm, sizeof(inm), "If-None-Match: %s\r\n",
		 header_or_fail(&r, "ETag"));
	reply_free(&r);
	for (i = 0; i < 2; i++) {
		ask(c, "GET", "/small.txt", inm, &r);
		assert_status(&r, 304, "GET /small.txt with its ETag");
		assert_int_equal(r.body_len, 0);
		reply_free(&r);
		ask(c, "HEAD", "/small.txt", "", &r);
		assert_status(&r, 200, "HEAD /small.txt");
		if (strcmp(header_or_fail(&r, "Content-Length"), "6") != 0)
			fail_msg("HEAD /small.txt: Content-Length %s",
				 reply_header(&r, "Content-Length"));
		assert_int_equal(r.body_len, 0);
		reply_free(&r);
		expect(c, "/sub/", 200, "sub\n");
		ask(c, "GET", "/sub", "", &r);
		assert_status(&r, 301, "GET /sub");
		assert_string_equal(header_or_fail(&r, "Location"), "/sub/");
		reply_free(&r);
		expect(c, "/missing.txt", 404, NULL);
	}
}

/* The symlink rules, asked twice (the second time a cache may answer). */
static void expect_symlink_rules(int port)
{
	struct client *c = open_or_fail(port);
	int i;

	for (i = 0; i < 2; i++) {
		expect(c, "/small.txt", 200, "small\n");
		expect(c, "/link_in", 200, "small\n");
		expect(c, "/abs_in", 200, "small\n");
		expect(c, "/link_out", 404, NULL);
		expect(c, "/abs_out", 404, NULL);
		expect(c, "/sub/../../secret.txt", 403, NULL);
	}
}

static void symlink_rules_openat2(void **state)
{
	(void)state;
	expect_symlink_rules(cached.port);
}

static void symlink_rules_realpath(void **state)
{
	(void)state;
	expect_symlink_rules(plain.port);
}

/* --file-cache-valid 0: no cache, a change shows on the next request. */
static void no_cache_is_always_fresh(void **state)
{
	struct client *c = open_or_fail(plain.port);

	(void)state;
	replace_file("root/p.txt", "before\n");
	expect(c, "/p.txt", 200, "before\n");
	replace_file("root/p.txt", "after, at once\n");
	expect(c, "/p.txt", 200, "after, at once\n");
	rewrite_file("root/p.txt", "in place\n");
	expect(c, "/p.txt", 200, "in place\n");
}

int run_cache_tests(void)
{
	static const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_teardown(f, cache_test_teardown)
		T(replaced_file_is_fresh),   T(changed_file_is_fresh),
		T(deleted_file_is_404),	     T(conditional_head_redirect),
		T(symlink_rules_openat2),    T(symlink_rules_realpath),
		T(no_cache_is_always_fresh),
#undef T
	};

	return run_group("cache", tests, ARRAY_SIZE(tests), cache_up,
			 cache_down);
}
