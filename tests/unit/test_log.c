/*
 * test_log.c - the Common Log Format line: its fields, escaping of what
 * the client sent, truncation that still ends the line, appending to a
 * file with one write per line, and the reopen that log rotation asks for:
 * in the process itself, in a forked child, under threads that keep
 * logging, and when the path cannot be opened.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http_parser.h"
#include "log.h"

#define RFC_EXAMPLE_TIME 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */

static void parse(char *buf, struct http_request *req)
{
	struct http_limits lim;

	http_limits_init(&lim);
	assert_int_equal(http_parse_request(buf, strlen(buf), &lim, req, NULL),
			 (ssize_t)strlen(buf));
}

/* A request built by hand, to log bytes the parser would refuse. */
static void fake_request(struct http_request *req, const char *method,
			 const char *target, int minor)
{
	memset(req, 0, sizeof(*req));
	req->method_name.p = method;
	req->method_name.len = strlen(method);
	req->target.p = target;
	req->target.len = strlen(target);
	req->version_minor = minor;
}

static void test_clf_line(void **state)
{
	char buf[] = "GET /index.html?a=1 HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_request req;
	char out[512];
	size_t n;

	(void)state;
	parse(buf, &req);
	n = log_format_clf(out, sizeof(out), "127.0.0.1", RFC_EXAMPLE_TIME,
			   &req, 200, 2326);
	assert_string_equal(out, "127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] "
				 "\"GET /index.html?a=1 HTTP/1.1\" 200 2326\n");
	assert_int_equal(n, strlen(out));
}

static void test_http10_and_empty_body(void **state)
{
	char buf[] = "HEAD / HTTP/1.0\r\n\r\n";
	struct http_request req;
	char out[512];

	(void)state;
	parse(buf, &req);
	log_format_clf(out, sizeof(out), "::1", RFC_EXAMPLE_TIME, &req, 304, 0);
	assert_string_equal(out, "::1 - - [06/Nov/1994:08:49:37 +0000] "
				 "\"HEAD / HTTP/1.0\" 304 -\n");
}

static void test_unparsed_request(void **state)
{
	char out[512];

	(void)state;
	log_format_clf(out, sizeof(out), NULL, RFC_EXAMPLE_TIME, NULL, 400,
		       120);
	assert_string_equal(out, "- - - [06/Nov/1994:08:49:37 +0000] "
				 "\"-\" 400 120\n");
}

static void test_target_is_escaped(void **state)
{
	struct http_request req;
	char out[512];

	(void)state;
	fake_request(&req, "GET", "/a\"b\\c\n\x1b[31m\x80", 1);
	log_format_clf(out, sizeof(out), "1.2.3.4", RFC_EXAMPLE_TIME, &req, 404,
		       10);
	assert_string_equal(out,
			    "1.2.3.4 - - [06/Nov/1994:08:49:37 +0000] "
			    "\"GET /a\\x22b\\x5cc\\x0a\\x1b[31m\\x80 HTTP/1.1\""
			    " 404 10\n");
	/* One line, whatever the client sent. */
	assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
}

static void test_truncation_keeps_newline(void **state)
{
	static char target[8192];
	struct http_request req;
	char out[PIPE_BUF], small[40];
	size_t n;

	(void)state;
	memset(target, 'a', sizeof(target) - 1);
	target[0] = '/';
	fake_request(&req, "GET", target, 1);
	n = log_format_clf(out, sizeof(out), "127.0.0.1", RFC_EXAMPLE_TIME,
			   &req, 414, 0);
	assert_true(n < sizeof(out));
	assert_int_equal(n, strlen(out));
	assert_int_equal(out[n - 1], '\n');
	/* The long target was cut, not the status after it. */
	assert_non_null(strstr(out, " HTTP/1.1\" 414 -\n"));

	n = log_format_clf(small, sizeof(small), "127.0.0.1", RFC_EXAMPLE_TIME,
			   &req, 200, 1);
	assert_int_equal(n, sizeof(small) - 1);
	assert_int_equal(small[n - 1], '\n');
	assert_int_equal(small[n], '\0');
}

static void test_log_file_appends(void **state)
{
	char path[] = "/tmp/test_log.XXXXXX", text[1024];
	struct http_request req;
	struct stat st;
	ssize_t n;
	int fd, rfd;

	(void)state;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	umask(022);
	fd = log_open(path);
	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_APPEND);

	fake_request(&req, "GET", "/one", 1);
	log_access(fd, "10.0.0.1", &req, 200, 5);
	fake_request(&req, "POST", "/two", 1);
	log_access(fd, "10.0.0.2", &req, 201, 0);
	log_access(-1, "10.0.0.3", &req, 500, 0); /* no log: no-op */
	close(fd);

	rfd = open(path, O_RDONLY);
	n = read(rfd, text, sizeof(text) - 1);
	close(rfd);
	unlink(path);
	assert_true(n > 0);
	text[n] = '\0';
	assert_true(strncmp(text, "10.0.0.1 - - [", 14) == 0);
	assert_non_null(strstr(text, "\"GET /one HTTP/1.1\" 200 5\n10.0.0.2"));
	assert_non_null(strstr(text, "\"POST /two HTTP/1.1\" 201 -\n"));
	assert_null(strstr(text, "10.0.0.3"));
}

/* ---- reopening on SIGHUP ---- */

/* A fresh directory and the log path inside it. */
struct logdir {
	char dir[64];
	char path[96];
};

static void logdir_make(struct logdir *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/test_log.XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->path, sizeof(d->path), "%s/access.log", d->dir);
}

/* path.suffix into out. */
static void rotated(const struct logdir *d, int suffix, char *out, size_t outsz)
{
	snprintf(out, outsz, "%s.%d", d->path, suffix);
}

static void rotate(const struct logdir *d, int suffix)
{
	char to[128];

	rotated(d, suffix, to, sizeof(to));
	assert_int_equal(rename(d->path, to), 0);
}

/* The whole file into buf (NUL-terminated); "" if it does not exist. */
static size_t slurp(const char *path, char *buf, size_t bufsz)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);

	buf[0] = '\0';
	if (fd < 0)
		return 0;
	while (len + 1 < bufsz &&
	       (n = read(fd, buf + len, bufsz - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	return len;
}

static void log_target(int fd, const char *target)
{
	struct http_request req;

	fake_request(&req, "GET", target, 1);
	log_access(fd, "127.0.0.1", &req, 200, 1);
}

static void test_reopen_after_rename(void **state)
{
	char text[4096], old[128];
	struct logdir d;
	int fd;

	(void)state;
	logdir_make(&d);
	fd = log_open(d.path);
	assert_true(fd >= 0);
	assert_int_equal(log_reopen_setup(fd, d.path), 0);
	assert_int_equal(log_reopen_if_requested(), 0); /* nothing asked */
	log_target(fd, "/before");
	rotate(&d, 1);
	log_target(fd, "/renamed"); /* no SIGHUP yet: still the old file */
	log_reopen_request();
	log_target(fd, "/after");
	assert_int_equal(log_reopen_if_requested(), 0); /* done already */

	/* The same number, a new file, still close-on-exec. */
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_APPEND);
	slurp(d.path, text, sizeof(text));
	assert_non_null(strstr(text, "\"GET /after HTTP/1.1\""));
	assert_null(strstr(text, "/before"));
	rotated(&d, 1, old, sizeof(old));
	slurp(old, text, sizeof(text));
	assert_non_null(strstr(text, "/before"));
	assert_non_null(strstr(text, "/renamed"));
	assert_null(strstr(text, "/after"));

	log_reopen_teardown();
	log_reopen_request(); /* after teardown: harmless */
	close(fd);
	unlink(old);
	unlink(d.path);
	rmdir(d.dir);
}

/*
 * A child has its own descriptor table, and only the parent is signalled:
 * the child must still reopen, because the generation is shared.
 */
static void test_reopen_in_forked_child(void **state)
{
	char text[4096], old[128], go;
	struct logdir d;
	int fd, pipefd[2], status;
	pid_t pid;

	(void)state;
	logdir_make(&d);
	fd = log_open(d.path);
	assert_true(fd >= 0);
	assert_int_equal(log_reopen_setup(fd, d.path), 0);
	assert_int_equal(pipe(pipefd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[1]);
		/* Waits for the parent to rotate and ask for the reopen. */
		if (read(pipefd[0], &go, 1) != 1)
			_exit(1);
		log_target(fd, "/child");
		_exit(0);
	}
	close(pipefd[0]);
	rotate(&d, 1);
	log_reopen_request(); /* what the parent's handler does */
	assert_int_equal(write(pipefd[1], "g", 1), 1);
	close(pipefd[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	slurp(d.path, text, sizeof(text));
	assert_non_null(strstr(text, "/child"));
	/* The parent's own table still points at the old file until... */
	assert_int_equal(log_reopen_if_requested(), 1);
	log_target(fd, "/parent");
	slurp(d.path, text, sizeof(text));
	assert_non_null(strstr(text, "/parent"));
	rotated(&d, 1, old, sizeof(old));
	slurp(old, text, sizeof(text));
	assert_string_equal(text, "");

	log_reopen_teardown();
	close(fd);
	unlink(old);
	unlink(d.path);
	rmdir(d.dir);
}

/* The path cannot be opened: keep logging to the file we have. */
static void test_reopen_failure_keeps_old_file(void **state)
{
	char text[4096], moved[128];
	struct logdir d;
	int fd;

	(void)state;
	logdir_make(&d);
	fd = log_open(d.path);
	assert_true(fd >= 0);
	assert_int_equal(log_reopen_setup(fd, d.path), 0);
	snprintf(moved, sizeof(moved), "%s.moved", d.dir);
	assert_int_equal(rename(d.dir, moved), 0); /* the path is gone */
	log_reopen_request();
	assert_int_equal(log_reopen_if_requested(), -1);
	assert_int_equal(log_reopen_if_requested(), 0); /* no retry storm */
	log_target(fd, "/still");
	assert_int_equal(rename(moved, d.dir), 0);
	slurp(d.path, text, sizeof(text));
	assert_non_null(strstr(text, "/still"));

	log_reopen_teardown();
	close(fd);
	unlink(d.path);
	rmdir(d.dir);
}

#define LOG_THREADS 4
#define LOG_LINES 2000
#define ROTATIONS 5

struct logger {
	int fd;
	atomic_int *started;
};

static void *log_lines(void *arg)
{
	struct logger *l = arg;
	int i;

	atomic_fetch_add(l->started, 1);
	for (i = 0; i < LOG_LINES; i++)
		log_target(l->fd, "/load");
	return NULL;
}

/* Complete lines in text: each one must end a whole CLF line. */
static int count_lines(const char *text)
{
	const char *p = text, *nl;
	int n = 0;

	while ((nl = strchr(p, '\n')) != NULL) {
		assert_true(strncmp(p, "127.0.0.1 - - [", 15) == 0);
		assert_true(nl - p > 30);
		assert_memory_equal(nl - 21, "/load HTTP/1.1\" 200 1\n", 22);
		n++;
		p = nl + 1;
	}
	assert_string_equal(p, ""); /* no torn tail */
	return n;
}

/*
 * Threads log while the file is renamed and reopened again and again:
 * the files hold every line, each one whole.
 */
static void test_reopen_under_threads(void **state)
{
	static char text[LOG_THREADS * LOG_LINES * 128];
	pthread_t t[LOG_THREADS];
	struct logger l;
	atomic_int started;
	struct logdir d;
	char old[128];
	int i, fd, total = 0;

	(void)state;
	logdir_make(&d);
	fd = log_open(d.path);
	assert_true(fd >= 0);
	assert_int_equal(log_reopen_setup(fd, d.path), 0);
	atomic_init(&started, 0);
	l = (struct logger){ .fd = fd, .started = &started };
	for (i = 0; i < LOG_THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, log_lines, &l), 0);
	while (atomic_load(&started) < LOG_THREADS)
		sched_yield();
	for (i = 1; i <= ROTATIONS; i++) {
		rotate(&d, i);
		log_reopen_request();
		/*
		 * The next line from any thread makes the new file: ours, or,
		 * if another thread holds the reopen, that one's.  Wait for it
		 * (bounded) before the next rename, which needs it to exist.
		 */
		log_target(fd, "/load");
		for (int tries = 0; tries < 100000; tries++) {
			if (access(d.path, F_OK) == 0)
				break;
			sched_yield();
		}
	}
	for (i = 0; i < LOG_THREADS; i++)
		pthread_join(t[i], NULL);
	for (i = 1; i <= ROTATIONS; i++) {
		rotated(&d, i, old, sizeof(old));
		slurp(old, text, sizeof(text));
		total += count_lines(text);
		unlink(old);
	}
	slurp(d.path, text, sizeof(text));
	total += count_lines(text);
	assert_int_equal(total, LOG_THREADS * LOG_LINES + ROTATIONS);

	log_reopen_teardown();
	close(fd);
	unlink(d.path);
	rmdir(d.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clf_line),
		cmocka_unit_test(test_http10_and_empty_body),
		cmocka_unit_test(test_unparsed_request),
		cmocka_unit_test(test_target_is_escaped),
		cmocka_unit_test(test_truncation_keeps_newline),
		cmocka_unit_test(test_log_file_appends),
		cmocka_unit_test(test_reopen_after_rename),
		cmocka_unit_test(test_reopen_in_forked_child),
		cmocka_unit_test(test_reopen_failure_keeps_old_file),
		cmocka_unit_test(test_reopen_under_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
