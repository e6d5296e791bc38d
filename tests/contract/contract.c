/*
 * contract.c - the contract suite's main(): the document root it builds,
 * starting and stopping server processes, and the assertion helpers the
 * test files share.  See contract.h for the usage and the groups.
 *
 * Every process the suite starts is its own process group and gets
 * PR_SET_PDEATHSIG, and server_kill_all_at_exit() (server_proc.h) kills
 * every group still alive at exit or on SIGINT and SIGTERM, so no server
 * outlives the suite even when a test fails half-way.
 */
#include "contract.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proc.h"

const char *server_binary;
const char *server_model;

static const char *test_filter;
static char doc_base[256]; /* mkdtemp'd; root/ and secret.txt inside */
static char doc_root[PATH_MAX];
static struct server_proc shared;

/* ---- the document root ---- */

unsigned char doc_byte(size_t i)
{
	/* Not periodic at any power of two, so a misplaced range shows. */
	return (unsigned char)(i * 131 + (i >> 9) * 7 + (i >> 17));
}

static void die(const char *what)
{
	fprintf(stderr, "contract: %s: %s\n", what, strerror(errno));
	exit(2);
}

/* base/rel into path; a path too long for PATH_MAX is fatal. */
static void doc_path(char *path, const char *rel)
{
	int n = snprintf(path, PATH_MAX, "%s/%s", doc_base, rel);

	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		die(rel);
	}
}

static void write_file(const char *rel, const char *data, size_t len)
{
	char path[PATH_MAX];
	int fd;

	doc_path(path, rel);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd == -1 || write(fd, data, len) != (ssize_t)len || close(fd))
		die(path);
}

static void write_pattern_file(const char *rel, size_t len)
{
	char *data = malloc(len);
	size_t i;

	if (!data)
		die("malloc");
	for (i = 0; i < len; i++)
		data[i] = (char)doc_byte(i);
	write_file(rel, data, len);
	free(data);
}

static void make_dir(const char *rel)
{
	char path[PATH_MAX];

	doc_path(path, rel);
	if (mkdir(path, 0755) == -1)
		die(path);
}

static void make_link(const char *target, const char *rel)
{
	char path[PATH_MAX];

	doc_path(path, rel);
	if (symlink(target, path) == -1)
		die(path);
}

static void set_mtime(const char *rel, time_t t)
{
	struct timespec times[2] = { { t, 0 }, { t, 0 } };
	char path[PATH_MAX];

	doc_path(path, rel);
	if (utimensat(AT_FDCWD, path, times, 0) == -1)
		die(path);
}

/*
 * base/secret.txt             outside the root: must never be served
 * base/root/index.html        DOC_INDEX, mtime DOC_MTIME
 * base/root/small.txt         DOC_SMALL_LEN pattern bytes
 * base/root/big.bin           DOC_BIG_LEN pattern bytes
 * base/root/sub/index.html    DOC_SUB_INDEX
 * base/root/noindex/file.txt  a directory without an index
 * base/root/link_abs.txt      -> base/secret.txt
 * base/root/link_rel.txt      -> ../secret.txt
 * base/root/link_dir          -> base
 * base/root/.hidden, root/.git/config, root/sub/.env   DOC_DOTFILE: 404
 * base/root/.well-known/security.txt  DOC_SECURITY_TXT (RFC 8615): served
 */
static void make_docroot(void)
{
	char target[PATH_MAX];
	const char *tmp = getenv("TMPDIR");

	snprintf(doc_base, sizeof(doc_base), "%s/contract-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(doc_base))
		die("mkdtemp");
	doc_path(doc_root, "root");
	write_file("secret.txt", DOC_SECRET "\n", strlen(DOC_SECRET) + 1);
	make_dir("root");
	write_file("root/index.html", DOC_INDEX, strlen(DOC_INDEX));
	set_mtime("root/index.html", DOC_MTIME);
	write_pattern_file("root/small.txt", DOC_SMALL_LEN);
	write_pattern_file("root/big.bin", DOC_BIG_LEN);
	make_dir("root/sub");
	write_file("root/sub/index.html", DOC_SUB_INDEX, strlen(DOC_SUB_INDEX));
	make_dir("root/noindex");
	write_file("root/noindex/file.txt", "no index here\n", 14);
	doc_path(target, "secret.txt");
	make_link(target, "root/link_abs.txt");
	make_link("../secret.txt", "root/link_rel.txt");
	make_link(doc_base, "root/link_dir");
	write_file("root/.hidden", DOC_DOTFILE, strlen(DOC_DOTFILE));
	make_dir("root/.git");
	write_file("root/.git/config", DOC_DOTFILE, strlen(DOC_DOTFILE));
	write_file("root/sub/.env", DOC_DOTFILE, strlen(DOC_DOTFILE));
	make_dir("root/.well-known");
	write_file("root/.well-known/security.txt", DOC_SECURITY_TXT,
		   strlen(DOC_SECURITY_TXT));
}

static int remove_entry(const char *path, const struct stat *st, int flag,
			struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void remove_tree(const char *dir)
{
	nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void remove_docroot(void)
{
	if (doc_base[0])
		remove_tree(doc_base);
}

static void cleanup_at_exit(void)
{
	client_close_all();
	remove_docroot();
}

/* ---- server processes ---- */

/* Samples the descriptor count until two samples 50 ms apart agree. */
static int settled_fd_count(pid_t pid)
{
	int64_t deadline = now_ms() + 2000;
	int prev = proc_fd_count(pid), cur = prev;

	while (now_ms() < deadline) {
		sleep_ms(50);
		cur = proc_fd_count(pid);
		if (cur == prev)
			break;
		prev = cur;
	}
	return cur;
}

/* One request, so lazily opened descriptors exist before the baseline. */
static void warm_up(struct server_proc *s)
{
	struct client *c = client_open(s->port);
	struct reply r;

	if (!c)
		return;
	if (client_send_str(c, "GET / HTTP/1.1\r\nHost: contract\r\n"
			       "Connection: close\r\n\r\n") == 0 &&
	    client_read_reply(c, &r, false, CLIENT_TIMEOUT_MS) == 0) {
		reply_free(&r);
		client_wait_close(c, CLIENT_TIMEOUT_MS);
	}
	client_close(c);
}

/* The options every server the suite starts gets before its own. */
static void build_argv(char **argv, size_t max, const char *const *extra)
{
	static char max_body[32];
	static const char *const defaults[][2] = {
		{ "--port", "0" },
		{ "--host", "127.0.0.1" },
		{ "--root", NULL }, /* doc_root */
		{ "--quiet", NULL },
		{ "--max-body", NULL }, /* SUITE_MAX_BODY */
		{ "--keepalive-timeout", "20" },
		{ "--header-timeout", "20" },
		{ "--threads", "4" },
		{ "--queue", "256" },
		{ "--max-conns", "512" },
	};
	size_t n = 0, i;

	snprintf(max_body, sizeof(max_body), "%d", SUITE_MAX_BODY);
	argv[n++] = (char *)server_binary;
	for (i = 0; i < ARRAY_SIZE(defaults); i++) {
		const char *value = defaults[i][1];

		argv[n++] = (char *)defaults[i][0];
		if (strcmp(defaults[i][0], "--root") == 0)
			value = doc_root;
		else if (strcmp(defaults[i][0], "--max-body") == 0)
			value = max_body;
		if (value)
			argv[n++] = (char *)value;
	}
	for (i = 0; extra && extra[i] && n + 1 < max; i++)
		argv[n++] = (char *)extra[i];
	argv[n] = NULL;
}

int server_start(struct server_proc *s, const char *const *extra)
{
	const struct server_spawn_opts opts = {
		.start_timeout_ms = START_TIMEOUT_MS,
	};
	char *argv[64];

	build_argv(argv, ARRAY_SIZE(argv), extra);
	if (server_spawn(s, argv, &opts) == -1) {
		fprintf(stderr, "contract: %s\n", server_error());
		return -1;
	}
	warm_up(s);
	s->base_fds = settled_fd_count(s->pid);
	return 0;
}

/* ---- the shared server ---- */

struct server_proc *shared_server(void)
{
	return &shared;
}

int shared_server_up(void **state)
{
	(void)state;
	if (shared.pid > 0 && server_alive(&shared, NULL))
		return 0;
	return server_start(&shared, NULL);
}

int shared_server_down(void **state)
{
	(void)state;
	client_close_all();
	server_kill(&shared);
	return 0;
}

int shared_test_teardown(void **state)
{
	char how[96];
	int status = 0;

	(void)state;
	client_close_all();
	if (shared.pid <= 0 || server_alive(&shared, &status))
		return 0;
	server_describe_status(status, how, sizeof(how));
	print_error("the server died during this test (%s); restarting it\n",
		    how);
	server_start(&shared, NULL);
	return -1;
}

static bool group_selected(const struct CMUnitTest *tests, size_t n)
{
	size_t i;

	if (!test_filter)
		return true;
	for (i = 0; i < n; i++)
		if (fnmatch(test_filter, tests[i].name, 0) == 0)
			return true;
	return false;
}

int run_group(const char *name, const struct CMUnitTest *tests, size_t n,
	      CMFixtureFunction setup, CMFixtureFunction teardown)
{
	if (!group_selected(tests, n))
		return 0;
	print_message("[----------] group %s, server %s\n", name, server_model);
	return _cmocka_run_group_tests(name, tests, n, setup, teardown);
}

/* ---- assertions ---- */

struct client *open_or_fail(int port)
{
	struct client *c = client_open(port);

	if (!c)
		fail_msg("cannot connect to port %d: %s", port, client_error());
	return c;
}

void send_or_fail(struct client *c, const char *s)
{
	if (client_send_str(c, s) == -1)
		fail_msg("sending \"%.60s\": %s", s, client_error());
}

void read_reply_or_fail(struct client *c, struct reply *r, bool head,
			const char *what)
{
	if (client_read_reply(c, r, head, CLIENT_TIMEOUT_MS) == -1)
		fail_msg("%s: no valid response: %s", what, client_error());
}

void fetch_or_fail(int port, const char *request, struct reply *r)
{
	if (fetch(port, request, r) == -1)
		fail_msg("request \"%.*s\": no valid response: %s",
			 (int)strcspn(request, "\r\n"), request,
			 client_error());
}

void get_ok(int port, const char *path, struct reply *r)
{
	char req[1024];

	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: contract\r\n"
		 "Connection: close\r\n\r\n",
		 path);
	fetch_or_fail(port, req, r);
	assert_status(r, 200, path);
}

void assert_status(const struct reply *r, int want, const char *what)
{
	if (r->status != want)
		fail_msg("%s: expected status %d, got %d; the response "
			 "head was:\n%s",
			 what, want, r->status, r->head);
}

const char *header_or_fail(const struct reply *r, const char *name)
{
	const char *v = reply_header(r, name);

	if (!v)
		fail_msg("no %s header; the response head was:\n%s", name,
			 r->head);
	return v;
}

void assert_closes(struct client *c, const char *what)
{
	switch (client_wait_close(c, CLIENT_TIMEOUT_MS)) {
	case 1:
		return;
	case 0:
		fail_msg("%s: the server did not close the connection "
			 "within %d ms",
			 what, CLIENT_TIMEOUT_MS);
		break;
	default:
		fail_msg("%s: %s", what, client_error());
	}
}

void assert_server_serves(int port, const char *after)
{
	struct reply r;

	if (fetch(port,
		  "GET / HTTP/1.1\r\nHost: contract\r\n"
		  "Connection: close\r\n\r\n",
		  &r) == -1)
		fail_msg("after %s, GET / got no response: %s", after,
			 client_error());
	if (r.status != 200)
		fail_msg("after %s, GET / got status %d", after, r.status);
	reply_free(&r);
}

/* ---- main ---- */

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s path/to/server-binary [cmocka filter]\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	static char model[PATH_MAX];
	int failed = 0;

	if (argc < 2 || argc > 3)
		usage(argv[0]);
	server_binary = argv[1];
	if (access(server_binary, X_OK) == -1)
		die(server_binary);
	snprintf(model, sizeof(model), "%s", server_binary);
	server_model = basename(model);
	if (argc == 3) {
		test_filter = argv[2];
		cmocka_set_test_filter(test_filter);
	}
	signal(SIGPIPE, SIG_IGN);
	/* atexit runs these in reverse: the servers die first. */
	atexit(cleanup_at_exit);
	server_kill_all_at_exit();
	make_docroot();

	failed += run_http_tests();
	failed += run_error_tests();
	failed += run_hardening_tests();
	failed += run_range_tests();
	failed += run_connection_tests();
	failed += run_timeout_tests();
	failed += run_cache_tests();
	failed += run_loops_tests();
	failed += run_model_tests();
	failed += run_metrics_tests();
	failed += run_compression_tests();
	failed += run_ratelimit_tests();
	return failed ? 1 : 0;
}
