/*
 * soak.c - one server under a mixed load for a bounded time, and what it
 * holds once the load is gone.
 *
 *   build/tests/soak-check [--no-rss-check] path/to/server-binary
 *
 * SOAK_SECONDS (default 5) sets how long the load lasts, SOAK_CLIENTS
 * (default 6) how many client processes make it.  Each client process
 * runs, until the time is up, scenarios picked at random: keep-alive GETs
 * (files, HEAD, /api/hello), a Connection: close GET of a 256 KiB file,
 * pipelined bursts, POST /api/echo with a Content-Length or a chunked
 * body, /api/sleep?ms=20, and clients that reset the connection in the
 * middle of a request or of a response.  Every response read must be
 * well framed (an HTTP/1.1 status line, a Content-Length, that many
 * bytes) and carry what was asked for.
 *
 * Before the load (after one warm-up round of every scenario) and after
 * it (once every client has gone, and the server has settled), /proc
 * says how many descriptors the server holds, its resident memory, its
 * threads and its children.  The check passes when no response was
 * wrong, the descriptors and threads are back to the baseline, no child
 * is left (02: no zombie either), the resident memory is at most the
 * baseline plus 2 MiB or plus 20 %, whichever is more (RSS_SLACK_KIB,
 * RSS_SLACK_PCT), and the server exits 0 on SIGTERM.  Sanitizer builds keep
 * freed memory in quarantine, so --no-rss-check reports their RSS
 * without judging it; their leak checker judges at exit instead.
 *
 * Nothing here depends on speed: the load lasts a fixed time and what is
 * counted is whatever got done; every wait has a deadline.  One line per
 * run sums it up.
 *
 * Exit status: 0 when every check passed, 1 when one failed, 2 when the
 * soak could not run.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "docfile.h"
#include "proc.h"
#include "server_proc.h"

#define DEFAULT_SECONDS 5
#define DEFAULT_CLIENTS 6
#define MAX_CLIENTS 32

/* A wait for one response: generous, 01 serves one client at a time. */
#define SOAK_TIMEOUT_MS 10000
/* How long the server may take to let go of what the clients left. */
#define SETTLE_MS 10000
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 10000

/* Resident memory may end this much above its baseline. */
#define RSS_SLACK_KIB 2048
#define RSS_SLACK_PCT 20

#define INDEX_BODY "<!DOCTYPE html>\n<p>soak</p>\n"
#define BIG_LEN (256 * 1024)
#define ECHO_MAX (64 * 1024)

/* What one client process did; summed over all of them at the end. */
struct soak_counts {
	long requests;	   /* complete requests sent for an answer */
	long responses[6]; /* read and checked, by class: [2] is 2xx */
	long connections;
	long aborted; /* connections reset mid-request or mid-response */
	long failures;
	char first_failure[192];
};

/* What /proc says about the server at one moment. */
struct soak_state {
	int fds;
	long rss_kib;
	int threads;
	int children;
	int zombies;
};

static char doc_root[PATH_MAX];
static int server_port;
static char why[192]; /* the failure of the scenario that just failed */

/* ---- the document root ---- */

static int write_file(const char *name, const void *data, size_t len)
{
	return docfile_write(doc_root, name, data, len);
}

static int docroot_create(void)
{
	unsigned char *big = malloc(BIG_LEN);
	const char *tmp = getenv("TMPDIR");
	int rc;

	if (big == NULL)
		return -1;
	for (size_t i = 0; i < BIG_LEN; i++)
		big[i] = docfile_byte(i);
	snprintf(doc_root, sizeof(doc_root), "%s/soak-XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	rc = mkdtemp(doc_root) == NULL ? -1 : 0;
	if (rc == 0)
		rc = write_file("index.html", INDEX_BODY, strlen(INDEX_BODY));
	if (rc == 0)
		rc = write_file("big.bin", big, BIG_LEN);
	free(big);
	return rc;
}

static void docroot_remove(void)
{
	char path[PATH_MAX + 32];

	if (doc_root[0] == '\0')
		return;
	snprintf(path, sizeof(path), "%s/index.html", doc_root);
	unlink(path);
	snprintf(path, sizeof(path), "%s/big.bin", doc_root);
	unlink(path);
	rmdir(doc_root);
}

/* ---- checking what comes back ---- */

__attribute__((format(printf, 1, 2))) static int failf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	return -1;
}

/* A small xorshift per client process: the same load for the same seed. */
static unsigned long rnd_state;

static unsigned long rnd(unsigned long n)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state % n;
}

static struct client *open_client(struct soak_counts *k)
{
	struct client *c = client_open(server_port);

	if (c == NULL)
		failf("connect: %s", client_error());
	else
		k->connections++;
	return c;
}

static int send_all(struct client *c, const void *buf, size_t len)
{
	if (client_send_within(c, buf, len, SOAK_TIMEOUT_MS) != 0)
		return failf("send: %s", client_error());
	return 0;
}

/*
 * Reads one response and checks its framing: the HTTP/1.1 status line,
 * and a Content-Length for every status that has a body (the server
 * never sends chunked), which client_read_reply() then reads exactly.
 */
static int read_framed(struct client *c, struct reply *r, bool head,
		       struct soak_counts *k)
{
	if (client_read_reply(c, r, head, SOAK_TIMEOUT_MS) != 0)
		return failf("no well-framed response: %s", client_error());
	if (r->status >= 100 && r->status < 600)
		k->responses[r->status / 100]++;
	if (strcmp(r->version, "HTTP/1.1") != 0)
		return failf("status line of version %s", r->version);
	if (r->status >= 200 && r->status != 204 && r->status != 304 &&
	    reply_header_count(r, "Content-Length") != 1)
		return failf("a %d without one Content-Length", r->status);
	if (reply_header(r, "Transfer-Encoding") != NULL)
		return failf("a response with Transfer-Encoding");
	return 0;
}

/* The requests the GET scenarios pick from, and what each must answer. */
enum soak_get { GET_INDEX, HEAD_INDEX, GET_BIG, GET_HELLO, SOAK_GETS };

static int format_get(char *out, size_t outsz, enum soak_get g, unsigned n,
		      bool close_after)
{
	static const char *const lines[] = {
		[GET_INDEX] = "GET /index.html",
		[HEAD_INDEX] = "HEAD /index.html",
		[GET_BIG] = "GET /big.bin",
		[GET_HELLO] = "GET /api/hello?name=soak",
	};
	char num[16] = "";

	if (g == GET_HELLO)
		snprintf(num, sizeof(num), "%u", n);
	return snprintf(out, outsz, "%s%s HTTP/1.1\r\nHost: soak\r\n%s\r\n",
			lines[g], num,
			close_after ? "Connection: close\r\n" : "");
}

/* Checks the body of the answer to request g number n. */
static int check_get(const struct reply *r, enum soak_get g, unsigned n)
{
	char want[64];

	if (r->status != 200)
		return failf("status %d for request kind %d", r->status, g);
	switch (g) {
	case GET_INDEX:
		if (strcmp(r->body, INDEX_BODY) != 0)
			return failf("GET /index.html: wrong body");
		break;
	case HEAD_INDEX:
		if (r->body_len != 0)
			return failf("HEAD /index.html: a body");
		break;
	case GET_BIG:
		if (r->body_len != BIG_LEN)
			return failf("GET /big.bin: %zu bytes", r->body_len);
		for (size_t i = 0; i < BIG_LEN; i++)
			if ((unsigned char)r->body[i] != docfile_byte(i))
				return failf("GET /big.bin: byte %zu", i);
		break;
	case GET_HELLO:
		snprintf(want, sizeof(want), "Hello, soak%u!", n);
		if (!strstr(r->body, want))
			return failf("GET /api/hello: %s", r->body);
		break;
	case SOAK_GETS:
		break;
	}
	return 0;
}

/* One GET of kind g on c, read and checked. */
static int get_one(struct client *c, enum soak_get g, bool close_after,
		   struct soak_counts *k)
{
	unsigned n = (unsigned)rnd(100000);
	char req[256];
	struct reply r;
	int rc;

	format_get(req, sizeof(req), g, n, close_after);
	if (send_all(c, req, strlen(req)) != 0)
		return -1;
	k->requests++;
	if (read_framed(c, &r, g == HEAD_INDEX, k) != 0)
		return -1;
	rc = check_get(&r, g, n);
	reply_free(&r);
	return rc;
}

/* The server must end the connection with a FIN, nothing else sent. */
static int expect_clean_close(struct client *c)
{
	int rc = client_wait_close(c, SOAK_TIMEOUT_MS);

	if (rc == 0)
		return failf("no close after Connection: close");
	if (rc < 0)
		return failf("%s", client_error());
	if (c->reset)
		return failf("a reset instead of a FIN");
	return 0;
}

/* ---- the scenarios ---- */

/* 1 to 6 requests on one keep-alive connection, then the client closes. */
static int scenario_keepalive(struct soak_counts *k)
{
	struct client *c = open_client(k);
	unsigned long n = 1 + rnd(6);

	if (c == NULL)
		return -1;
	for (unsigned long i = 0; i < n; i++)
		if (get_one(c, (enum soak_get)rnd(SOAK_GETS), false, k) != 0)
			return -1;
	client_close(c);
	return 0;
}

/* A Connection: close GET of the big file: every byte, then a FIN. */
static int scenario_close(struct soak_counts *k)
{
	struct client *c = open_client(k);

	if (c == NULL || get_one(c, GET_BIG, true, k) != 0 ||
	    expect_clean_close(c) != 0)
		return -1;
	client_close(c);
	return 0;
}

/* 4 to 16 requests in one write, the last with Connection: close. */
static int scenario_pipelined(struct soak_counts *k)
{
	enum soak_get kinds[16];
	unsigned nums[16];
	char burst[16 * 128];
	size_t len = 0;
	unsigned long n = 4 + rnd(13);
	struct client *c;
	struct reply r;

	for (unsigned long i = 0; i < n; i++) {
		/* No big file: the burst stays small and quick. */
		kinds[i] = (enum soak_get)rnd(3);
		if (kinds[i] == GET_BIG)
			kinds[i] = GET_HELLO;
		nums[i] = (unsigned)rnd(100000);
		len += (size_t)format_get(burst + len, sizeof(burst) - len,
					  kinds[i], nums[i], i + 1 == n);
	}
	c = open_client(k);
	if (c == NULL || send_all(c, burst, len) != 0)
		return -1;
	k->requests += (long)n;
	for (unsigned long i = 0; i < n; i++) {
		if (read_framed(c, &r, kinds[i] == HEAD_INDEX, k) != 0)
			return -1;
		if (check_get(&r, kinds[i], nums[i]) != 0) {
			reply_free(&r);
			return -1;
		}
		reply_free(&r);
	}
	if (expect_clean_close(c) != 0)
		return -1;
	client_close(c);
	return 0;
}

/* Sends POST /api/echo with body (Content-Length or chunked), checks. */
static int post_echo(const unsigned char *body, size_t len, bool chunked,
		     struct soak_counts *k)
{
	struct client *c = open_client(k);
	char head[256];
	struct reply r;
	int rc;

	if (c == NULL)
		return -1;
	if (!chunked) {
		snprintf(head, sizeof(head),
			 "POST /api/echo HTTP/1.1\r\nHost: soak\r\n"
			 "Content-Type: application/octet-stream\r\n"
			 "Content-Length: %zu\r\n\r\n",
			 len);
		if (send_all(c, head, strlen(head)) != 0 ||
		    send_all(c, body, len) != 0)
			return -1;
	} else {
		size_t done = 0;

		snprintf(head, sizeof(head),
			 "POST /api/echo HTTP/1.1\r\nHost: soak\r\n"
			 "Content-Type: application/octet-stream\r\n"
			 "Transfer-Encoding: chunked\r\n\r\n");
		if (send_all(c, head, strlen(head)) != 0)
			return -1;
		while (done < len) {
			size_t piece = 1 + rnd(len - done);

			snprintf(head, sizeof(head), "%zx\r\n", piece);
			if (send_all(c, head, strlen(head)) != 0 ||
			    send_all(c, body + done, piece) != 0 ||
			    send_all(c, "\r\n", 2) != 0)
				return -1;
			done += piece;
		}
		if (send_all(c, "0\r\n\r\n", 5) != 0)
			return -1;
	}
	k->requests++;
	if (read_framed(c, &r, false, k) != 0)
		return -1;
	rc = 0;
	if (r.status != 200 || r.body_len != len ||
	    memcmp(r.body, body, len) != 0)
		rc = failf("POST /api/echo (%s, %zu bytes): status %d, %zu "
			   "bytes back",
			   chunked ? "chunked" : "Content-Length", len,
			   r.status, r.body_len);
	reply_free(&r);
	if (rc == 0)
		client_close(c);
	return rc;
}

static int scenario_echo(struct soak_counts *k, bool chunked)
{
	static unsigned char body[ECHO_MAX];
	size_t len = rnd(chunked ? ECHO_MAX / 2 : ECHO_MAX);

	for (size_t i = 0; i < len; i++)
		body[i] = (unsigned char)rnd(256);
	return post_echo(body, len, chunked, k);
}

/* A 20 ms "database call". */
static int scenario_sleep(struct soak_counts *k)
{
	static const char req[] = "GET /api/sleep?ms=20 HTTP/1.1\r\n"
				  "Host: soak\r\n\r\n";
	struct client *c = open_client(k);
	struct reply r;
	int rc = 0;

	if (c == NULL || send_all(c, req, sizeof(req) - 1) != 0)
		return -1;
	k->requests++;
	if (read_framed(c, &r, false, k) != 0)
		return -1;
	if (r.status != 200 || !strstr(r.body, "\"slept_ms\":20"))
		rc = failf("GET /api/sleep: status %d, %s", r.status, r.body);
	reply_free(&r);
	if (rc == 0)
		client_close(c);
	return rc;
}

/* Half a head, or a head and part of its body, then a reset. */
static int scenario_abort_request(struct soak_counts *k)
{
	static const char half_head[] = "GET /index.html HTTP/1.1\r\nHos";
	static const char half_body[] = "POST /api/echo HTTP/1.1\r\nHost: "
					"soak\r\nContent-Length: 4096\r\n\r\n"
					"only the start of the body";
	struct client *c = open_client(k);
	bool head = rnd(2) == 0;

	if (c == NULL)
		return -1;
	if (send_all(c, head ? half_head : half_body,
		     head ? sizeof(half_head) - 1 : sizeof(half_body) - 1) != 0)
		return -1;
	client_abort(c);
	k->aborted++;
	return 0;
}

/* The head and some of the big file, then a reset. */
static int scenario_abort_response(struct soak_counts *k)
{
	static const char req[] = "GET /big.bin HTTP/1.1\r\nHost: soak\r\n\r\n";
	char buf[65536];
	struct client *c = open_client(k);
	struct reply r;
	ssize_t n;

	if (c == NULL)
		return -1;
	if (send_all(c, req, sizeof(req) - 1) != 0)
		return -1;
	if (client_read_head(c, &r, SOAK_TIMEOUT_MS) != 0)
		return failf("no head for GET /big.bin: %s", client_error());
	reply_free(&r);
	n = client_read_some(c, buf, 1 + rnd(sizeof(buf)), SOAK_TIMEOUT_MS);
	if (n <= 0)
		return failf("no body for GET /big.bin");
	client_abort(c);
	k->aborted++;
	return 0;
}

/* Runs one scenario picked at random (weights in percent). */
static int run_scenario(unsigned long pick, struct soak_counts *k)
{
	if (pick < 25)
		return scenario_keepalive(k);
	if (pick < 35)
		return scenario_close(k);
	if (pick < 50)
		return scenario_pipelined(k);
	if (pick < 65)
		return scenario_echo(k, false);
	if (pick < 75)
		return scenario_echo(k, true);
	if (pick < 85)
		return scenario_sleep(k);
	if (pick < 92)
		return scenario_abort_request(k);
	return scenario_abort_response(k);
}

/* Counts a failed scenario; keeps the first message. */
static void note_failure(struct soak_counts *k)
{
	if (k->failures++ == 0)
		snprintf(k->first_failure, sizeof(k->first_failure), "%s", why);
	client_close_all();
}

/* ---- the client processes ---- */

/* In a client process: the load until deadline, then the counts. */
static void client_main(int index, int64_t deadline, int out_fd)
{
	struct soak_counts k;
	ssize_t n;

	memset(&k, 0, sizeof(k));
	rnd_state = 0x9e3779b97f4a7c15ul ^ ((unsigned long)index + 1) * 7919;
	while (now_ms() < deadline)
		if (run_scenario(rnd(100), &k) != 0)
			note_failure(&k);
	client_close_all();
	n = write(out_fd, &k, sizeof(k));
	_exit(n == (ssize_t)sizeof(k) ? 0 : 1);
}

static void add_counts(struct soak_counts *sum, const struct soak_counts *k)
{
	sum->requests += k->requests;
	for (int i = 0; i < 6; i++)
		sum->responses[i] += k->responses[i];
	sum->connections += k->connections;
	sum->aborted += k->aborted;
	if (sum->failures == 0 && k->failures > 0)
		memcpy(sum->first_failure, k->first_failure,
		       sizeof(sum->first_failure));
	sum->failures += k->failures;
}

/*
 * Runs n client processes for ms milliseconds and sums their counts.  A
 * process that does not report within a generous deadline is killed and
 * counted as a failure.
 */
static void run_load(int n, int ms, struct soak_counts *sum)
{
	int64_t deadline = now_ms() + ms;
	pid_t pids[MAX_CLIENTS];
	int fds[MAX_CLIENTS];

	for (int i = 0; i < n; i++) {
		int p[2];

		pids[i] = -1;
		fds[i] = -1;
		if (pipe2(p, O_CLOEXEC) != 0)
			continue;
		pids[i] = fork();
		if (pids[i] == 0) {
			close(p[0]);
			client_main(i, deadline, p[1]);
		}
		close(p[1]);
		fds[i] = p[0];
	}
	for (int i = 0; i < n; i++) {
		struct soak_counts k;
		bool got = false;

		if (pids[i] > 0 &&
		    clock_wait_fd(fds[i], POLLIN,
				  deadline + 6 * SOAK_TIMEOUT_MS) == 1)
			got = read(fds[i], &k, sizeof(k)) == (ssize_t)sizeof(k);
		if (got) {
			add_counts(sum, &k);
		} else {
			snprintf(why, sizeof(why),
				 "client process %d reported nothing", i);
			memset(&k, 0, sizeof(k));
			note_failure(&k);
			add_counts(sum, &k);
		}
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL); /* gone already, or hung */
			waitpid(pids[i], NULL, 0);
		}
		if (fds[i] >= 0)
			close(fds[i]);
	}
}

/* ---- the server's state ---- */

static void read_state(pid_t pid, struct soak_state *st)
{
	st->fds = proc_fd_count(pid);
	st->rss_kib = proc_rss_kib(pid);
	st->threads = proc_threads(pid);
	st->children = proc_children(pid, NULL, 0);
	st->zombies = proc_zombie_children(pid);
}

/* Samples until two readings 100 ms apart agree, within SETTLE_MS. */
static void settled_state(pid_t pid, struct soak_state *st)
{
	int64_t deadline = now_ms() + SETTLE_MS;
	struct soak_state prev;

	read_state(pid, &prev);
	for (;;) {
		sleep_ms(100);
		read_state(pid, st);
		if ((st->fds == prev.fds && st->threads == prev.threads &&
		     st->children == prev.children) ||
		    now_ms() > deadline)
			return;
		prev = *st;
	}
}

/*
 * After the load: waits, within SETTLE_MS, until the descriptors and
 * threads are back to the baseline and no child is left, then reads the
 * state once more.
 */
static void state_after(pid_t pid, const struct soak_state *base,
			struct soak_state *st)
{
	int64_t deadline = now_ms() + SETTLE_MS;

	for (;;) {
		read_state(pid, st);
		if ((st->fds <= base->fds && st->threads <= base->threads &&
		     st->children == 0) ||
		    now_ms() > deadline)
			break;
		sleep_ms(50);
	}
	sleep_ms(200); /* let the allocator give back what it will */
	read_state(pid, st);
}

/* One round of every scenario, so that caches exist before the baseline. */
static int warm_up(void)
{
	struct soak_counts k;

	memset(&k, 0, sizeof(k));
	rnd_state = 42;
	for (unsigned long pick = 0; pick < 100; pick += 5)
		if (run_scenario(pick, &k) != 0) {
			client_close_all();
			fprintf(stderr, "soak: warm-up: %s\n", why);
			return -1;
		}
	return 0;
}

/* ---- main ---- */

static int env_int(const char *name, int def, int lo, int hi)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (v == NULL || *v == '\0')
		return def;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < lo || n > hi) {
		fprintf(stderr, "soak: %s=%s: want %d to %d\n", name, v, lo,
			hi);
		exit(2);
	}
	return (int)n;
}

static int start_server(struct server_proc *s, const char *binary)
{
	const struct server_spawn_opts opts = {
		.start_timeout_ms = START_TIMEOUT_MS,
	};
	char *argv[] = { (char *)binary,
			 "--port",
			 "0",
			 "--host",
			 "127.0.0.1",
			 "--root",
			 doc_root,
			 "--quiet",
			 "--threads",
			 "16",
			 "--keepalive-timeout",
			 "5",
			 "--header-timeout",
			 "5",
			 NULL };

	if (server_spawn(s, argv, &opts) != 0) {
		fprintf(stderr, "soak: %s\n", server_error());
		return -1;
	}
	server_port = s->port;
	return 0;
}

/* The checks on the state after the load; prints each failure. */
static int judge(const char *model, const struct soak_counts *sum,
		 const struct soak_state *base, const struct soak_state *after,
		 bool rss_check, long rss_limit)
{
	int bad = 0;

	if (sum->failures > 0) {
		fprintf(stderr,
			"soak %s: %ld scenarios failed; the first: %s\n", model,
			sum->failures, sum->first_failure);
		bad++;
	}
	if (after->fds > base->fds) {
		fprintf(stderr, "soak %s: %d descriptors, %d before the load\n",
			model, after->fds, base->fds);
		bad++;
	}
	if (after->threads > base->threads) {
		fprintf(stderr, "soak %s: %d threads, %d before the load\n",
			model, after->threads, base->threads);
		bad++;
	}
	if (after->children > 0 || after->zombies > 0) {
		fprintf(stderr, "soak %s: %d children left (%d zombies)\n",
			model, after->children, after->zombies);
		bad++;
	}
	if (rss_check && after->rss_kib > rss_limit) {
		fprintf(stderr, "soak %s: RSS %ld KiB, limit %ld KiB\n", model,
			after->rss_kib, rss_limit);
		bad++;
	}
	return bad;
}

int main(int argc, char **argv)
{
	int seconds = env_int("SOAK_SECONDS", DEFAULT_SECONDS, 1, 3600);
	int clients = env_int("SOAK_CLIENTS", DEFAULT_CLIENTS, 1, MAX_CLIENTS);
	struct soak_state base, after;
	struct soak_counts sum;
	struct server_proc srv;
	const char *binary, *model;
	bool rss_check = true;
	long rss_limit, slack;
	int status, bad;
	char how[96];

	if (argc == 3 && strcmp(argv[1], "--no-rss-check") == 0) {
		rss_check = false;
		argv++;
		argc--;
	}
	if (argc != 2) {
		fprintf(stderr,
			"usage: %s [--no-rss-check] path/to/server-binary\n",
			argv[0]);
		return 2;
	}
	binary = argv[1];
	model = strrchr(binary, '/') ? strrchr(binary, '/') + 1 : binary;
	signal(SIGPIPE, SIG_IGN);
	server_kill_all_at_exit();
	if (docroot_create() != 0) {
		fprintf(stderr, "soak: document root: %s\n", strerror(errno));
		docroot_remove();
		return 2;
	}
	if (start_server(&srv, binary) != 0 || warm_up() != 0) {
		server_kill(&srv);
		docroot_remove();
		return 2;
	}
	settled_state(srv.pid, &base);

	memset(&sum, 0, sizeof(sum));
	run_load(clients, seconds * 1000, &sum);

	if (!server_alive(&srv, &status)) {
		server_describe_status(status, how, sizeof(how));
		fprintf(stderr, "soak %s: the server died under load (%s)\n",
			model, how);
		docroot_remove();
		return 1;
	}
	state_after(srv.pid, &base, &after);
	slack = base.rss_kib * RSS_SLACK_PCT / 100;
	rss_limit =
		base.rss_kib + (slack > RSS_SLACK_KIB ? slack : RSS_SLACK_KIB);
	bad = judge(model, &sum, &base, &after, rss_check, rss_limit);
	status = server_terminate(&srv, STOP_TIMEOUT_MS);
	if (status != 0) {
		server_describe_status(status, how, sizeof(how));
		fprintf(stderr, "soak %s: on SIGTERM: %s, not exit status 0\n",
			model, status == -1 ? "no exit in time" : how);
		bad++;
	}
	docroot_remove();

	if (rss_check)
		snprintf(how, sizeof(how), "limit %ld", rss_limit);
	else
		snprintf(how, sizeof(how), "not checked");
	printf("soak %s: %d s, %d clients, %ld requests on %ld connections, "
	       "responses 2xx %ld 3xx %ld 4xx %ld 5xx %ld, %ld aborted, "
	       "%ld failed; fds %d -> %d, RSS %ld -> %ld KiB (%s), "
	       "threads %d -> %d, children %d (zombies %d): %s\n",
	       model, seconds, clients, sum.requests, sum.connections,
	       sum.responses[2], sum.responses[3], sum.responses[4],
	       sum.responses[5], sum.aborted, sum.failures, base.fds, after.fds,
	       base.rss_kib, after.rss_kib, how, base.threads, after.threads,
	       after.children, after.zombies, bad ? "FAILED" : "ok");
	return bad ? 1 : 0;
}
