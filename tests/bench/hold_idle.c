/*
 * tests/bench/hold_idle.c - holds N idle keep-alive connections open.
 *
 * The bench's idle-10k workload: N clients that each sent one request, got
 * the answer and then stay connected without a word, as a browser's
 * keep-alive connections do between clicks.  A server must keep every one
 * of them; 05's poll() then looks at all of them on every turn, 06's epoll
 * only at the ones that are ready.
 *
 *   hold_idle HOST PORT PATH N MAX_WAIT_MS QUIET_MS
 *
 * It opens the N connections with at most WINDOW of them waiting for an
 * answer at a time (so the server's accept queue never overflows), sends
 * "GET PATH" on each and reads the answer.  When every connection has its
 * answer, or nothing new happened for QUIET_MS since the last answer, or
 * MAX_WAIT_MS have passed, it prints a "ready" line and opens no more.
 * Then it holds what it has until SIGTERM or SIGINT, still reading (so it
 * sees a connection that the server closes), and prints a "final" line.
 * Both lines are
 *
 *   ready|final opened=O held=H rejected=R waiting=W failed=F closed=C ms=T
 *
 * held: answered 200 and still open; rejected: answered with another
 * status (a 503 past a limit); waiting: no answer yet; failed: refused or
 * reset before an answer; closed: held, then closed by the server; ms:
 * since the start.  Exit status 0; 1 if it cannot start, 2 on bad
 * arguments.
 *
 * Cheap on purpose: one thread, one epoll set, no timer while it holds, so
 * holding costs no CPU at all and the bench can pin it beside wrk.  Every
 * socket has SO_LINGER 0: exit resets the connections rather than leave N
 * local ports in TIME_WAIT for the next cells.
 */
#include <errno.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* Connections waiting for an answer at once (the accept queue is 4096). */
#define WINDOW 1000
/* Room for a response's header: ours and nginx's are about 350 bytes. */
#define HEAD_MAX 1024

enum hold_state {
	HOLD_UNUSED,
	HOLD_CONNECTING,
	HOLD_WAITING, /* request sent, answer not complete */
	HOLD_HELD,    /* answered 200, idle, open */
	HOLD_DONE,    /* rejected, failed or closed: fd closed */
};

struct hold_conn {
	int fd;
	enum hold_state state;
	unsigned int got;  /* bytes of the answer received */
	unsigned int need; /* header + body, 0 until the header is whole */
	int status;
	unsigned int head_len;
	char head[HEAD_MAX];
};

struct hold {
	struct sockaddr_in addr;
	char request[512];
	size_t request_len;
	int ep;
	int n;
	struct hold_conn *conns;
	int opened, held, rejected, waiting, failed, closed;
	long long last_change_ms;
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void report(const struct hold *h, const char *what, long long ms)
{
	printf("%s opened=%d held=%d rejected=%d waiting=%d failed=%d "
	       "closed=%d ms=%lld\n",
	       what, h->opened, h->held, h->rejected, h->waiting, h->failed,
	       h->closed, ms);
	fflush(stdout);
}

/* Closes c and moves it from its state's count to the count `to`. */
static void finish(struct hold *h, struct hold_conn *c, int *to)
{
	if (c->state == HOLD_HELD)
		h->held--;
	else
		h->waiting--;
	(*to)++;
	close(c->fd);
	c->fd = -1;
	c->state = HOLD_DONE;
	h->last_change_ms = now_ms();
}

/* Opens connection i; a connect that fails at once counts as failed. */
static void open_conn(struct hold *h, int i)
{
	struct hold_conn *c = &h->conns[i];
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct epoll_event ev = { .events = EPOLLOUT, .data.u32 = (unsigned)i };

	h->opened++;
	h->waiting++;
	c->state = HOLD_CONNECTING;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		if (h->failed == 0)
			perror("hold_idle: socket");
		c->state = HOLD_DONE;
		h->waiting--;
		h->failed++;
		return;
	}
	setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	if (connect(c->fd, (struct sockaddr *)&h->addr, sizeof(h->addr)) != 0 &&
	    errno != EINPROGRESS) {
		finish(h, c, &h->failed);
		return;
	}
	/* Writable means connected (or failed: SO_ERROR says which). */
	if (epoll_ctl(h->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0)
		finish(h, c, &h->failed);
}

/* c is connected: sends the request and waits for the answer. */
static void send_request(struct hold *h, struct hold_conn *c, unsigned i)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP,
				  .data.u32 = i };
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
	    err != 0 ||
	    write(c->fd, h->request, h->request_len) !=
		    (ssize_t)h->request_len ||
	    epoll_ctl(h->ep, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
		finish(h, c, &h->failed);
		return;
	}
	c->state = HOLD_WAITING;
}

/*
 * Reads the status and Content-Length once the header is whole; sets need.
 * Returns false if the header is not whole yet.
 */
static bool parse_head(struct hold_conn *c)
{
	char *end, *p;
	unsigned long body = 0;

	c->head[c->head_len] = '\0';
	end = strstr(c->head, "\r\n\r\n");
	if (end == NULL)
		return false;
	*end = '\0';
	c->status = 0;
	if (strncmp(c->head, "HTTP/1.", 7) == 0 && strlen(c->head) > 12)
		c->status = atoi(c->head + 9);
	for (p = strstr(c->head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n"))
		if (strncasecmp(p + 2, "Content-Length:", 15) == 0)
			body = strtoul(p + 17, NULL, 10);
	c->need = (unsigned)(end - c->head) + 4 + (unsigned)body;
	return true;
}

/* Data (or the end) on c: the answer, or a close while held. */
static void on_readable(struct hold *h, struct hold_conn *c)
{
	char buf[16384];
	ssize_t n;

	for (;;) {
		n = read(c->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			finish(h, c,
			       c->state == HOLD_HELD ? &h->closed : &h->failed);
			return;
		}
		if (c->state != HOLD_WAITING)
			continue; /* nothing more was asked for: drop it */
		c->got += (unsigned)n;
		if (c->need == 0) {
			size_t room = HEAD_MAX - 1 - c->head_len;
			size_t take = (size_t)n < room ? (size_t)n : room;

			memcpy(c->head + c->head_len, buf, take);
			c->head_len += (unsigned)take;
			if (!parse_head(c)) {
				if (c->head_len < HEAD_MAX - 1)
					continue;
				finish(h, c, &h->failed);
				return;
			}
		}
		if (c->got < c->need)
			continue;
		if (c->status != 200) {
			finish(h, c, &h->rejected);
			return;
		}
		c->state = HOLD_HELD;
		h->waiting--;
		h->held++;
		h->last_change_ms = now_ms();
	}
}

static void on_event(struct hold *h, const struct epoll_event *ev)
{
	struct hold_conn *c = &h->conns[ev->data.u32];

	if (c->state == HOLD_CONNECTING)
		send_request(h, c, ev->data.u32);
	else if (c->state == HOLD_WAITING || c->state == HOLD_HELD)
		on_readable(h, c);
}

/* Waits up to timeout_ms for events and handles them. */
static void turn(struct hold *h, int timeout_ms)
{
	struct epoll_event evs[256];
	int i, n;

	n = epoll_wait(h->ep, evs, 256, timeout_ms);
	for (i = 0; i < n; i++)
		on_event(h, &evs[i]);
}

/*
 * Opens the connections until all are answered, or until max_wait_ms have
 * passed, or quiet_ms after the last answer (or failure) with no other.
 * The quiet time starts with the first answer: a server that is slow to
 * start answering is not one that has stopped.
 */
static void fill(struct hold *h, long long max_wait_ms, long long quiet_ms)
{
	long long start = now_ms(), now, left;

	h->last_change_ms = 0;
	while (!stop_requested) {
		while (h->opened < h->n && h->waiting < WINDOW)
			open_conn(h, h->opened);
		if (h->opened == h->n && h->waiting == 0)
			return;
		now = now_ms();
		left = max_wait_ms - (now - start);
		if (h->last_change_ms > 0 &&
		    quiet_ms - (now - h->last_change_ms) < left)
			left = quiet_ms - (now - h->last_change_ms);
		if (left <= 0)
			return;
		turn(h, (int)left);
	}
}

static int usage(void)
{
	fprintf(stderr, "usage: hold_idle HOST PORT PATH N MAX_WAIT_MS "
			"QUIET_MS\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct hold h = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };
	long long start;
	int i;

	if (argc != 7)
		return usage();
	h.addr.sin_family = AF_INET;
	h.addr.sin_port = htons((unsigned short)atoi(argv[2]));
	h.n = atoi(argv[4]);
	if (inet_pton(AF_INET, argv[1], &h.addr.sin_addr) != 1 || h.n <= 0 ||
	    atoll(argv[5]) <= 0 || atoll(argv[6]) <= 0)
		return usage();
	h.request_len = (size_t)snprintf(h.request, sizeof(h.request),
					 "GET %s HTTP/1.1\r\nHost: %s:%s\r\n"
					 "\r\n",
					 argv[3], argv[1], argv[2]);
	if (h.request_len >= sizeof(h.request))
		return usage();
	h.conns = calloc((size_t)h.n, sizeof(*h.conns));
	h.ep = epoll_create1(EPOLL_CLOEXEC);
	if (h.conns == NULL || h.ep < 0) {
		perror("hold_idle");
		return 1;
	}
	for (i = 0; i < h.n; i++)
		h.conns[i].fd = -1;
	/* No SA_RESTART: the signal must end epoll_wait. */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	start = now_ms();
	fill(&h, atoll(argv[5]), atoll(argv[6]));
	report(&h, "ready", now_ms() - start);
	while (!stop_requested)
		turn(&h, -1);
	report(&h, "final", now_ms() - start);
	for (i = 0; i < h.n; i++)
		if (h.conns[i].fd >= 0)
			close(h.conns[i].fd);
	free(h.conns);
	close(h.ep);
	return 0;
}
