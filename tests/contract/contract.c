/*
 * contract.c - the contract suite's main(): the document root it builds,
 * starting and stopping server processes, and the assertion helpers the
 * test files share.  See contract.h for the usage and the groups.
 *
 * Every process the suite starts is its own process group and gets
 * PR_SET_PDEATHSIG, and an atexit handler (and a handler for SIGINT and
 * SIGTERM) kills every group still alive, so no server outlives the suite
 * even when a test fails half-way.
 */
#include "contract.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

#define MAX_SERVERS 16

const char *server_binary;
const char *server_model;

static const char *test_filter;
static char doc_base[256]; /* mkdtemp'd; root/ and secret.txt inside */
static char doc_root[PATH_MAX];
static struct server_proc shared;

/* Every server started and not yet reaped, for the emergency kill. */
static volatile pid_t started[MAX_SERVERS];

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

static void remove_docroot(void)
{
	if (doc_base[0])
		nftw(doc_base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- server processes ---- */

static void track(pid_t pid, bool on)
{
	size_t i;

	for (i = 0; i < MAX_SERVERS; i++) {
		if (on && started[i] == 0) {
			started[i] = pid;
			return;
		}
		if (!on && started[i] == pid)
			started[i] = 0;
	}
}

/* Async-signal-safe: kill() only. */
static void kill_all_started(void)
{
	size_t i;

	for (i = 0; i < MAX_SERVERS; i++) {
		if (started[i] > 0) {
			kill(-started[i], SIGKILL);
			kill(started[i], SIGKILL);
		}
	}
}

static void cleanup_at_exit(void)
{
	size_t i;

	kill_all_started();
	for (i = 0; i < MAX_SERVERS; i++)
		if (started[i] > 0)
			waitpid(started[i], NULL, 0);
	client_close_all();
	remove_docroot();
}

static void on_fatal_signal(int sig)
{
	kill_all_started();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void describe_status(int status, char *out, size_t outsz)
{
	if (WIFEXITED(status))
		snprintf(out, outsz, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, outsz, "killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, outsz, "wait status 0x%x", status);
}

/* In the child: stdout to the pipe, nothing else inherited, then exec. */
static void exec_server(char **argv, int out_fd, pid_t parent)
{
	sigset_t none;
	int devnull = open("/dev/null", O_RDONLY);
	long fd, max = sysconf(_SC_OPEN_MAX);

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (devnull == -1 || dup2(devnull, 0) == -1 || dup2(out_fd, 1) == -1)
		_exit(127);
	for (fd = 3; fd < max && fd < 65536; fd++)
		close((int)fd);
	/* The suite ignores SIGPIPE; the server must start from defaults. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(argv[0], argv);
	_exit(127);
}

/*
 * Reads the first line of the server's stdout before the deadline.
 * Returns 0 or -1 (the server exited or said nothing in time).
 */
static int read_first_line(int fd, char *line, size_t linesz)
{
	int64_t deadline = now_ms() + START_TIMEOUT_MS;
	size_t len = 0;

	while (len + 1 < linesz) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		ssize_t n;

		if (left <= 0 || poll(&pfd, 1, (int)left) == 0)
			return -1;
		n = read(fd, line + len, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	return 0;
}

/* "listening on http://127.0.0.1:PORT\n" -> PORT, or -1. */
static int parse_address(const char *line)
{
	static const char prefix[] = "listening on http://127.0.0.1:";
	char *end;
	long port;

	if (strncmp(line, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	port = strtol(line + sizeof(prefix) - 1, &end, 10);
	if (strcmp(end, "\n") != 0 || port <= 0 || port > 65535)
		return -1;
	return (int)port;
}

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
	char *argv[64];
	char line[256], how[96];
	int pfd[2], status = 0;
	pid_t parent = getpid();
	pid_t pid;

	memset(s, 0, sizeof(*s));
	s->out_fd = -1;
	build_argv(argv, ARRAY_SIZE(argv), extra);
	if (pipe2(pfd, O_CLOEXEC) == -1)
		die("pipe2");
	pid = fork();
	if (pid == -1)
		die("fork");
	if (pid == 0)
		exec_server(argv, pfd[1], parent);
	setpgid(pid, pid); /* the child does it too; one of them wins */
	track(pid, true);
	close(pfd[1]);
	s->pid = pid;
	s->out_fd = pfd[0];
	if (read_first_line(s->out_fd, line, sizeof(line)) == -1) {
		if (!server_alive(s, &status)) {
			describe_status(status, how, sizeof(how));
			fprintf(stderr,
				"contract: %s exited (%s) before "
				"printing its address\n",
				server_binary, how);
		} else {
			fprintf(stderr,
				"contract: %s printed no address "
				"within %d ms\n",
				server_binary, START_TIMEOUT_MS);
		}
		server_kill(s);
		return -1;
	}
	s->port = parse_address(line);
	if (s->port == -1) {
		fprintf(stderr,
			"contract: %s printed \"%.*s\", expected "
			"\"listening on http://127.0.0.1:PORT\"\n",
			server_binary, (int)strcspn(line, "\n"), line);
		server_kill(s);
		return -1;
	}
	warm_up(s);
	s->base_fds = settled_fd_count(s->pid);
	return 0;
}

/* Keeps what the server printed after its address, for the SIGTERM test. */
static void drain_stdout(struct server_proc *s)
{
	ssize_t n;

	fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
	while (s->extra_len < sizeof(s->extra_out) - 1) {
		n = read(s->out_fd, s->extra_out + s->extra_len,
			 sizeof(s->extra_out) - 1 - s->extra_len);
		if (n <= 0)
			break;
		s->extra_len += (size_t)n;
	}
	s->extra_out[s->extra_len] = '\0';
}

static void forget(struct server_proc *s)
{
	if (s->pid <= 0)
		return;
	track(s->pid, false);
	/* Anything the model left behind in its group (02's children). */
	kill(-s->pid, SIGKILL);
	if (s->out_fd != -1) {
		drain_stdout(s);
		close(s->out_fd);
	}
	s->pid = 0;
	s->out_fd = -1;
}

bool server_alive(struct server_proc *s, int *status)
{
	int st;
	pid_t r;

	if (s->pid <= 0)
		return false;
	r = waitpid(s->pid, &st, WNOHANG);
	if (r == 0)
		return true;
	if (status)
		*status = r == s->pid ? st : 0;
	forget(s);
	return false;
}

int server_terminate(struct server_proc *s, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int status = 0;

	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	while (now_ms() < deadline) {
		if (!server_alive(s, &status))
			return status;
		sleep_ms(10);
	}
	server_kill(s);
	return -1;
}

void server_kill(struct server_proc *s)
{
	if (s->pid <= 0)
		return;
	kill(-s->pid, SIGKILL);
	kill(s->pid, SIGKILL);
	waitpid(s->pid, NULL, 0);
	forget(s);
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
	describe_status(status, how, sizeof(how));
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
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGHUP, on_fatal_signal);
	atexit(cleanup_at_exit);
	make_docroot();

	failed += run_http_tests();
	failed += run_error_tests();
	failed += run_hardening_tests();
	failed += run_connection_tests();
	failed += run_timeout_tests();
	failed += run_model_tests();
	return failed ? 1 : 0;
}
