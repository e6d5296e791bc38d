/*
 * test_metrics.c - the "metrics" group: what an operator relies on.
 *
 *   /metrics        the Prometheus text format 0.0.4, checked here line by
 *                   line and by `promtool check metrics` (skipped, with a
 *                   message, when promtool is not installed), and counters
 *                   that move with the traffic
 *   headers         the security headers, Content-Security-Policy included,
 *                   on files, API answers, errors and /metrics alike
 *   SIGHUP          ignored without --access-log; with it, the log is
 *                   reopened under load and no line is lost or torn
 *
 * The metrics and header tests use the shared server; the SIGHUP tests
 * start their own, and stop it before they read the log.
 */
#include "contract.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HOST "Host: contract\r\n"
#define CLOSE "Connection: close\r\n"

#define PROM_TYPE "text/plain; version=0.0.4; charset=utf-8"
#define CSP                                                                    \
	"default-src 'self'; frame-ancestors 'none'; base-uri 'none'; "        \
	"form-action 'self'"

/* How long a counter or a log file may take to catch up. */
#define SETTLE_MS 5000

/* ---- /metrics ---- */

/* GET /metrics on a fresh connection; fails unless 200 in the format. */
static void get_metrics(struct reply *r)
{
	get_ok(shared_server()->port, "/metrics", r);
	if (strcmp(header_or_fail(r, "Content-Type"), PROM_TYPE) != 0)
		fail_msg("/metrics: Content-Type %s, expected %s",
			 reply_header(r, "Content-Type"), PROM_TYPE);
}

/*
 * The value of the sample named exactly series ("name" or
 * "name{labels}"), or -1 when there is none.
 */
static double sample(const char *body, const char *series)
{
	size_t n = strlen(series);
	const char *p = body;

	while ((p = strstr(p, series)) != NULL) {
		if ((p == body || p[-1] == '\n') && p[n] == ' ')
			return strtod(p + n + 1, NULL);
		p += n;
	}
	return -1;
}

/* True when a line of body starts with prefix. */
static bool has_line(const char *body, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *p = body;

	while ((p = strstr(p, prefix)) != NULL) {
		if (p == body || p[-1] == '\n')
			return true;
		p += n;
	}
	return false;
}

/* Fails unless family has its # HELP and "# TYPE family type" lines. */
static void assert_family(const char *body, const char *family,
			  const char *type)
{
	char line[160];

	snprintf(line, sizeof(line), "# HELP %s ", family);
	if (!has_line(body, line))
		fail_msg("/metrics: no # HELP for %s:\n%s", family, body);
	snprintf(line, sizeof(line), "# TYPE %s %s\n", family, type);
	if (!has_line(body, line))
		fail_msg("/metrics: no \"# TYPE %s %s\":\n%s", family, type,
			 body);
}

static bool model_has_queue(void)
{
	return strcmp(server_model, "04_threadpool") == 0 ||
	       strcmp(server_model, "06_epoll_async") == 0;
}

/*
 * Every family with HELP and TYPE, the model in its label, the queue only
 * where there is one, and a histogram whose buckets never go down and end
 * at _count.
 */
static void metrics_exposition(void **state)
{
	static const char *const families[][2] = {
		{ "http_server_info", "gauge" },
		{ "http_server_uptime_seconds", "gauge" },
		{ "http_requests_total", "counter" },
		{ "http_responses_total", "counter" },
		{ "http_connections_open", "gauge" },
		{ "http_connections_total", "counter" },
		{ "http_server_threads", "gauge" },
		{ "http_server_processes", "gauge" },
		{ "http_request_duration_seconds", "histogram" },
	};
	const char *p, *b = "http_request_duration_seconds_bucket{le=\"";
	char info[128];
	double last = 0, v;
	size_t i, buckets = 0;
	struct reply r;

	(void)state;
	get_metrics(&r);
	for (i = 0; i < ARRAY_SIZE(families); i++)
		assert_family(r.body, families[i][0], families[i][1]);
	snprintf(info, sizeof(info), "http_server_info{model=\"%s\"}",
		 server_model);
	assert_true(sample(r.body, info) == 1);
	assert_true(sample(r.body, "http_requests_total") >= 1);
	assert_true(sample(r.body, "http_server_threads") >= 1);
	assert_true(sample(r.body, "http_server_processes") >= 1);
	if (model_has_queue()) {
		assert_family(r.body, "http_server_queue_depth", "gauge");
		assert_family(r.body, "http_server_queue_capacity", "gauge");
		/* The suite starts every server with --queue 256. */
		assert_true(sample(r.body, "http_server_queue_capacity") ==
			    256);
	} else if (strstr(r.body, "queue")) {
		fail_msg("%s has no queue, /metrics shows one:\n%s",
			 server_model, r.body);
	}
	for (p = r.body; (p = strstr(p, b)) != NULL; p++) {
		v = strtod(strchr(p, '}') + 2, NULL);
		if (v < last)
			fail_msg("bucket %.20s falls to %g:\n%s", p + strlen(b),
				 v, r.body);
		last = v;
		buckets++;
	}
	assert_true(buckets > 2);
	assert_true(strstr(r.body, "_bucket{le=\"+Inf\"} ") != NULL);
	assert_true(sample(r.body, "http_request_duration_seconds_bucket"
				   "{le=\"+Inf\"}") ==
		    sample(r.body, "http_request_duration_seconds_count"));
	assert_true(sample(r.body, "http_request_duration_seconds_sum") >= 0);
	reply_free(&r);
}

/* The first directory on $PATH with an executable name in it, into out. */
static bool find_on_path(const char *name, char *out, size_t outsz)
{
	const char *path = getenv("PATH"), *p, *end;

	for (p = path ? path : ""; *p != '\0'; p = *end ? end + 1 : end) {
		end = strchrnul(p, ':');
		snprintf(out, outsz, "%.*s/%s", (int)(end - p), p, name);
		if (end > p && access(out, X_OK) == 0)
			return true;
	}
	return false;
}

/*
 * Runs `promtool check metrics` on the file at path (its stdin), with its
 * output in out.  Returns its exit status, or -1 if it could not run or
 * did not finish within SETTLE_MS (it is then killed).
 */
static int run_promtool(const char *promtool, const char *path, char *out,
			size_t outsz)
{
	int64_t deadline = now_ms() + SETTLE_MS;
	int pipefd[2], status = -1, in;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	out[0] = '\0';
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0 || pipe2(pipefd, O_CLOEXEC) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(in, STDIN_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(pipefd[1], STDERR_FILENO);
		execl(promtool, "promtool", "check", "metrics", (char *)NULL);
		_exit(127);
	}
	close(in);
	close(pipefd[1]);
	while (pid > 0 && clock_wait_fd(pipefd[0], POLLIN, deadline) == 1) {
		n = read(pipefd[0], out + len, outsz - 1 - len);
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len + 1 >= outsz)
			break;
	}
	out[len] = '\0';
	close(pipefd[0]);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		sleep_ms(10);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* What Prometheus itself says of the document: promtool's linter. */
static void metrics_promtool(void **state)
{
	char promtool[PATH_MAX], path[PATH_MAX], out[4096];
	const char *tmp = getenv("TMPDIR");
	struct reply r;
	int fd, rc;

	(void)state;
	if (!find_on_path("promtool", promtool, sizeof(promtool))) {
		print_message("promtool not found (Debian: prometheus; "
			      "sh tests/deps.sh test installs it): "
			      "`promtool check metrics` skipped\n");
		skip();
	}
	get_metrics(&r);
	snprintf(path, sizeof(path), "%s/metrics-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, r.body, r.body_len), (ssize_t)r.body_len);
	close(fd);
	rc = run_promtool(promtool, path, out, sizeof(out));
	unlink(path);
	if (rc != 0)
		fail_msg("promtool check metrics: status %d:\n%s\nof:\n%s", rc,
			 out, r.body);
	reply_free(&r);
}

/* GETs /metrics until series reaches want or SETTLE_MS pass. */
static double wait_sample(const char *series, double want)
{
	int64_t deadline = now_ms() + SETTLE_MS;
	struct reply r;
	double v;

	for (;;) {
		get_metrics(&r);
		v = sample(r.body, series);
		reply_free(&r);
		if (v >= want || now_ms() >= deadline)
			return v;
		sleep_ms(20);
	}
}

/*
 * A counter is recorded after its response is sent, so the test waits
 * for it to catch up rather than expecting it at once.
 */
static void metrics_counts_move(void **state)
{
	const char *c4 = "http_responses_total{class=\"4xx\"}";
	const char *count = "http_request_duration_seconds_count";
	double before4, beforec, beforeconn;
	struct reply r;
	int i;

	(void)state;
	get_metrics(&r);
	before4 = sample(r.body, c4);
	beforec = sample(r.body, count);
	beforeconn = sample(r.body, "http_connections_total");
	reply_free(&r);
	assert_true(before4 >= 0 && beforec >= 1 && beforeconn >= 1);
	for (i = 0; i < 3; i++) {
		fetch_or_fail(
			shared_server()->port,
			"GET /no-such-file HTTP/1.1\r\n" HOST CLOSE "\r\n", &r);
		assert_status(&r, 404, "GET /no-such-file");
		reply_free(&r);
	}
	assert_true(wait_sample(c4, before4 + 3) >= before4 + 3);
	assert_true(wait_sample(count, beforec + 4) >= beforec + 4);
	assert_true(wait_sample("http_connections_total", beforeconn + 4) >=
		    beforeconn + 4);
}

/* ---- the security headers ---- */

static void assert_security_headers(const struct reply *r, const char *what)
{
	static const char *const want[][2] = {
		{ "Content-Security-Policy", CSP },
		{ "X-Content-Type-Options", "nosniff" },
		{ "X-Frame-Options", "DENY" },
		{ "Referrer-Policy", "no-referrer" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(want); i++) {
		const char *v = reply_header(r, want[i][0]);

		if (!v || strcmp(v, want[i][1]) != 0)
			fail_msg("%s: %s is %s, expected \"%s\"; the head:\n%s",
				 what, want[i][0], v ? v : "missing",
				 want[i][1], r->head);
		if (reply_header_count(r, want[i][0]) != 1)
			fail_msg("%s: %s sent twice", what, want[i][0]);
	}
}

/*
 * Every response carries the policy, not only the HTML: /api/echo sends
 * back the client's own Content-Type, so text/html can come from anywhere.
 */
static void security_headers_everywhere(void **state)
{
	static const char *const requests[] = {
		"GET / HTTP/1.1\r\n" HOST CLOSE "\r\n",
		"GET /small.txt HTTP/1.1\r\n" HOST CLOSE "\r\n",
		"GET /api/model HTTP/1.1\r\n" HOST CLOSE "\r\n",
		"GET /metrics HTTP/1.1\r\n" HOST CLOSE "\r\n",
		"GET /no-such-file HTTP/1.1\r\n" HOST CLOSE "\r\n",
		"POST /api/echo HTTP/1.1\r\n" HOST CLOSE
		"Content-Type: text/html\r\nContent-Length: 27\r\n\r\n"
		"<script>alert(1)</script>\r\n",
		"GET /sub HTTP/1.1\r\n" HOST CLOSE "\r\n",
		"BREW / HTTP/1.1\r\n" HOST CLOSE "\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n" CLOSE "\r\n",
	};
	struct reply r;
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(requests); i++) {
		fetch_or_fail(shared_server()->port, requests[i], &r);
		assert_security_headers(&r, requests[i]);
		reply_free(&r);
	}
}

/* ---- SIGHUP ---- */

static struct server_proc own;
static char log_dir[PATH_MAX];

static int own_teardown(void **state)
{
	char path[PATH_MAX + 32];
	int g;

	(void)state;
	client_close_all();
	server_kill(&own);
	if (log_dir[0] == '\0')
		return 0;
	snprintf(path, sizeof(path), "%s/access.log", log_dir);
	unlink(path);
	for (g = 0; g < 16; g++) {
		snprintf(path, sizeof(path), "%s/access.log.%d", log_dir, g);
		unlink(path);
	}
	rmdir(log_dir);
	log_dir[0] = '\0';
	return 0;
}

/* Makes log_dir, a fresh directory; live is its access.log. */
static void make_log_dir(char *live, size_t livesz)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(log_dir, sizeof(log_dir), "%s/contract-log-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(log_dir)) {
		log_dir[0] = '\0';
		fail_msg("mkdtemp: %s", strerror(errno));
	}
	snprintf(live, livesz, "%s/access.log", log_dir);
}

/* Stops own with SIGTERM; fails unless it exits with status 0. */
static void stop_own_cleanly(const char *after)
{
	int status;

	client_close_all();
	status = server_terminate(&own, STOP_TIMEOUT_MS);
	if (status != 0) {
		char how[96];

		server_describe_status(status, how, sizeof(how));
		fail_msg("after %s, SIGTERM: %s", after,
			 status < 0 ? "no exit in time" : how);
	}
}

/*
 * Without --access-log there is nothing to reopen, and SIGHUP's default
 * action would end the server: it must be ignored.  An ignored signal is
 * dropped when it is sent, so the request after kill() decides.
 */
static void sighup_without_log_ignored(void **state)
{
	int i;

	(void)state;
	if (server_start(&own, NULL) == -1)
		fail_msg("cannot start %s", server_binary);
	for (i = 0; i < 3; i++) {
		assert_int_equal(kill(own.pid, SIGHUP), 0);
		assert_server_serves(own.port, "SIGHUP");
	}
	if (!server_alive(&own, NULL))
		fail_msg("SIGHUP without --access-log ended the server");
	stop_own_cleanly("SIGHUP");
}

/*
 * A SIGHUP that lands in the middle of /api/sleep must not cut the
 * "database call" short: the handler's sleep resumes (EINTR loop) and
 * the answer is the whole sleep.
 */
static void sighup_during_sleep(void **state)
{
	char live[PATH_MAX + 32];
	const char *extra[] = { "--access-log", live, NULL };
	struct client *c;
	struct reply r;
	int64_t start;
	int i;

	(void)state;
	make_log_dir(live, sizeof(live));
	if (server_start(&own, extra) == -1)
		fail_msg("cannot start %s --access-log", server_binary);
	c = open_or_fail(own.port);
	start = now_ms();
	send_or_fail(c, "GET /api/sleep?ms=300 HTTP/1.1\r\n" HOST "\r\n");
	for (i = 0; i < 5; i++) {
		sleep_ms(20);
		assert_int_equal(kill(own.pid, SIGHUP), 0);
	}
	read_reply_or_fail(c, &r, false, "GET /api/sleep?ms=300");
	assert_status(&r, 200, "GET /api/sleep?ms=300 under SIGHUP");
	assert_string_equal(r.body, "{\"slept_ms\":300}\n");
	if (now_ms() - start < 300)
		fail_msg("the sleep ended after %lld ms",
			 (long long)(now_ms() - start));
	reply_free(&r);
	stop_own_cleanly("SIGHUP during a sleep");
}

/*
 * The rotation test.  ROT_CONNS keep-alive clients (one for 01, which
 * serves one connection at a time; four for the rest, as 04's four
 * workers each hold one) send bursts of ROT_PIPELINE pipelined requests.
 * While a burst is in flight the log is renamed and SIGHUP sent, as
 * logrotate does.  Then probes go out until the server has made the new
 * file, and one request on every connection must be logged in it - 02's
 * children included, though only the parent was signalled.  At the end
 * the old files plus the new one hold exactly one whole CLF line per
 * request.
 */
#define ROT_ROUNDS 4
#define ROT_CONNS 4
#define ROT_PIPELINE 16
#define ROT_MAX_IDS 4096

/* Where the line of request id must be: a generation, or anywhere. */
#define ANY_FILE (-1)
static signed char rot_expect[ROT_MAX_IDS];
static int rot_ids;

/* The file of generation g: access.log.G for the rotated ones. */
static void rot_path(int g, char *out, size_t outsz)
{
	if (g == ROT_ROUNDS)
		snprintf(out, outsz, "%s/access.log", log_dir);
	else
		snprintf(out, outsz, "%s/access.log.%d", log_dir, g);
}

/* A new request id, whose line must be in file expect (or ANY_FILE). */
static int rot_new_id(int expect)
{
	if (rot_ids >= ROT_MAX_IDS)
		fail_msg("more than %d requests: the probes never ended",
			 ROT_MAX_IDS);
	rot_expect[rot_ids] = (signed char)expect;
	return rot_ids++;
}

/* Sends n requests with new ids down c at once. */
static void rot_send(struct client *c, int n, int expect)
{
	char buf[ROT_PIPELINE * 64];
	size_t len = 0;
	int i;

	for (i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					"GET /small.txt?t=%d HTTP/1.1\r\n" HOST
					"\r\n",
					rot_new_id(expect));
	if (client_send(c, buf, len) == -1)
		fail_msg("sending %d requests: %s", n, client_error());
}

/* Reads n 200 replies of small.txt from c. */
static void rot_read(struct client *c, int n)
{
	struct reply r;
	int i;

	for (i = 0; i < n; i++) {
		read_reply_or_fail(c, &r, false, "GET /small.txt?t=N");
		assert_status(&r, 200, "GET /small.txt?t=N");
		assert_int_equal(r.body_len, DOC_SMALL_LEN);
		reply_free(&r);
	}
}

/* The whole file, NUL-terminated (free it); "" when it does not exist. */
static char *slurp(const char *path, size_t *lenp)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) != 0) {
		if (fd >= 0)
			close(fd);
		*lenp = 0;
		return strdup("");
	}
	buf = malloc((size_t)st.st_size + 1);
	assert_non_null(buf);
	while (len < (size_t)st.st_size &&
	       (n = read(fd, buf + len, (size_t)st.st_size - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/*
 * Parses one CLF line (without its newline) of the rotation test: the
 * request's id, or -2 for the suite's own warm-up GET /, or -1 if it is not
 * a whole, well-formed line.
 */
static int clf_id(const char *line, size_t len)
{
	char date[32], target[128], size[24], rest[2];
	const char *end;
	struct tm tm;
	int status, n = 0;
	char copy[512];

	if (len >= sizeof(copy))
		return -1;
	memcpy(copy, line, len);
	copy[len] = '\0';
	if (sscanf(copy,
		   "127.0.0.1 - - [%31[^]]] \"GET %127s HTTP/1.1\" %d "
		   "%23s%n%1s",
		   date, target, &status, size, &n, rest) != 4 ||
	    (size_t)n != len)
		return -1;
	memset(&tm, 0, sizeof(tm));
	end = strptime(date, "%d/%b/%Y:%H:%M:%S +0000", &tm);
	if (!end || *end != '\0' || status != 200)
		return -1;
	if (strcmp(target, "/") == 0)
		return -2;
	if (strncmp(target, "/small.txt?t=", 13) != 0 ||
	    atoi(size) != DOC_SMALL_LEN)
		return -1;
	return atoi(target + 13);
}

/* True once file g holds the lines of ids [from, to). */
static bool rot_logged_in(int g, int from, int to)
{
	char path[PATH_MAX + 32], want[48];
	size_t len;
	char *text;
	bool all = true;
	int id;

	rot_path(g, path, sizeof(path));
	text = slurp(path, &len);
	for (id = from; id < to && all; id++) {
		snprintf(want, sizeof(want), " /small.txt?t=%d ", id);
		all = strstr(text, want) != NULL;
	}
	free(text);
	return all;
}

/*
 * Waits until the requests from first on are in the live log.  A line is
 * written after its response goes out, so without this wait the next
 * rotation could overtake it.
 */
static void rot_wait_logged(int g, int first)
{
	int64_t deadline = now_ms() + SETTLE_MS;

	while (!rot_logged_in(ROT_ROUNDS, first, rot_ids)) {
		if (now_ms() >= deadline)
			fail_msg("after SIGHUP %d, requests t=%d..%d are not "
				 "all in the new log",
				 g + 1, first, rot_ids - 1);
		sleep_ms(10);
	}
}

/* Renames the live log to generation g and signals the server. */
static void rot_rotate(int g)
{
	char live[PATH_MAX + 32], old[PATH_MAX + 32];

	rot_path(ROT_ROUNDS, live, sizeof(live));
	rot_path(g, old, sizeof(old));
	if (rename(live, old) != 0)
		fail_msg("rename %s: %s", live, strerror(errno));
	assert_int_equal(kill(own.pid, SIGHUP), 0);
}

/*
 * Probes on c until the log exists again: the server has taken the
 * SIGHUP.  A probe's line may go to either file.
 */
static void rot_wait_reopen(struct client *c, int g)
{
	char live[PATH_MAX + 32];
	int64_t deadline = now_ms() + SETTLE_MS;

	rot_path(ROT_ROUNDS, live, sizeof(live));
	while (access(live, F_OK) != 0) {
		if (now_ms() >= deadline)
			fail_msg("SIGHUP %d: no new %s within %d ms", g + 1,
				 live, SETTLE_MS);
		rot_send(c, 1, ANY_FILE);
		rot_read(c, 1);
		sleep_ms(5);
	}
}

/* Checks every line of generation g; counts them into seen[]. */
static int rot_check_file(int g, int *seen, int *warmups)
{
	char path[PATH_MAX + 32];
	size_t len;
	char *text = NULL, *p, *nl;
	int lines = 0, id;

	rot_path(g, path, sizeof(path));
	text = slurp(path, &len);
	if (len > 0 && text[len - 1] != '\n')
		fail_msg("%s ends in a torn line: \"%s\"", path,
			 strrchr(text, '\n') ? strrchr(text, '\n') + 1 : text);
	for (p = text; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
		id = clf_id(p, (size_t)(nl - p));
		if (id == -1 || id >= rot_ids)
			fail_msg("%s: not a CLF line of this test: \"%.*s\"",
				 path, (int)(nl - p), p);
		lines++;
		if (id == -2) {
			(*warmups)++;
			continue;
		}
		if (seen[id] != ANY_FILE - 1)
			fail_msg("request t=%d logged twice (%s, and file %d)",
				 id, path, seen[id]);
		seen[id] = g;
		if (rot_expect[id] != ANY_FILE && rot_expect[id] != g)
			fail_msg("request t=%d, sent after reopen %d, is in "
				 "%s",
				 id, rot_expect[id], path);
	}
	free(text);
	return lines;
}

static void sighup_rotates_log_under_load(void **state)
{
	char live[PATH_MAX + 32];
	const char *extra[] = { "--access-log", live, NULL };
	struct client *c[ROT_CONNS];
	int conns = strcmp(server_model, "01_blocking") == 0 ? 1 : ROT_CONNS;
	int g, i, first, lines = 0, warmups = 0;
	static int seen[ROT_MAX_IDS];

	(void)state;
	rot_ids = 0;
	make_log_dir(live, sizeof(live));
	if (server_start(&own, extra) == -1)
		fail_msg("cannot start %s --access-log", server_binary);
	for (i = 0; i < conns; i++)
		c[i] = open_or_fail(own.port);
	for (g = 0; g <= ROT_ROUNDS; g++) {
		for (i = 0; i < conns; i++)
			rot_send(c[i], ROT_PIPELINE, ANY_FILE);
		if (g < ROT_ROUNDS)
			rot_rotate(g); /* while the burst is in flight */
		for (i = 0; i < conns; i++)
			rot_read(c[i], ROT_PIPELINE);
		if (g == ROT_ROUNDS)
			break;
		rot_wait_reopen(c[0], g);
		/* Now every thread and child must log to the new file. */
		first = rot_ids;
		for (i = 0; i < conns; i++)
			rot_send(c[i], 1, g + 1);
		for (i = 0; i < conns; i++)
			rot_read(c[i], 1);
		rot_wait_logged(g, first);
	}
	if (!server_alive(&own, NULL))
		fail_msg("the server died during the rotations");
	/* Its exit means every line is written. */
	stop_own_cleanly("the rotations");

	for (i = 0; i < rot_ids; i++)
		seen[i] = ANY_FILE - 1;
	for (g = 0; g <= ROT_ROUNDS; g++)
		lines += rot_check_file(g, seen, &warmups);
	for (i = 0; i < rot_ids; i++)
		if (seen[i] == ANY_FILE - 1)
			fail_msg("request t=%d is in no log file", i);
	if (warmups > 1 || lines != rot_ids + warmups)
		fail_msg("%d lines for %d requests", lines, rot_ids + warmups);
}

int run_metrics_tests(void)
{
	/* clang-format off */
	static const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_teardown(f, shared_test_teardown)
#define OWN(f) cmocka_unit_test_teardown(f, own_teardown)
		T(metrics_exposition),
		T(metrics_promtool),
		T(metrics_counts_move),
		T(security_headers_everywhere),
		OWN(sighup_without_log_ignored),
		OWN(sighup_during_sleep),
		OWN(sighup_rotates_log_under_load),
#undef OWN
#undef T
	};
	/* clang-format on */

	return run_group("metrics", tests, ARRAY_SIZE(tests), shared_server_up,
			 shared_server_down);
}
