/*
 * harness.c - server process, document root and raw clients for the
 * adversarial suite: see harness.h.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

char doc_root[PATH_MAX];

int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

unsigned char doc_byte(size_t i)
{
	/* Not periodic in any power of two: a shifted block is caught. */
	return (unsigned char)((i * 7 + i / 251) & 0xff);
}

static int write_file(const char *name, const void *data, size_t len)
{
	char path[PATH_MAX + 32];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", doc_root, name);
	f = fopen(path, "we");
	if (f == NULL)
		return -1;
	n = fwrite(data, 1, len, f);
	if (fclose(f) != 0 || n != len)
		return -1;
	return 0;
}

int docroot_create(void)
{
	unsigned char *big;
	int rc;

	snprintf(doc_root, sizeof(doc_root), "/tmp/adversarial-XXXXXX");
	if (mkdtemp(doc_root) == NULL)
		return -1;
	big = malloc(DOC_BIG_LEN);
	if (big == NULL)
		return -1;
	for (size_t i = 0; i < DOC_BIG_LEN; i++)
		big[i] = doc_byte(i);
	rc = write_file("index.html", DOC_INDEX, strlen(DOC_INDEX));
	if (rc == 0)
		rc = write_file("big.bin", big, DOC_BIG_LEN);
	free(big);
	if (rc == 0)
		rc = write_file("huge.bin", "", 0);
	if (rc == 0) {
		char path[PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s/huge.bin", doc_root);
		rc = truncate(path, DOC_HUGE_LEN);
	}
	return rc;
}

void docroot_remove(void)
{
	const char *names[] = { "index.html", "big.bin", "huge.bin" };
	char path[PATH_MAX + 32];

	if (doc_root[0] == '\0')
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", doc_root, names[i]);
		unlink(path);
	}
	rmdir(doc_root);
}

/* In the child: becomes the server.  Never returns. */
static void exec_server(const char *const *extra, rlim_t nofile, int out)
{
	const char *argv[64];
	int n = 0;

	setpgid(0, 0);
	/* stderr stays ours: a sanitizer's report must be seen. */
	dup2(out, STDOUT_FILENO);
	if (nofile > 0) {
		struct rlimit rl = { .rlim_cur = nofile, .rlim_max = nofile };

		setrlimit(RLIMIT_NOFILE, &rl);
	}
	argv[n++] = server_binary;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--root";
	argv[n++] = doc_root;
	argv[n++] = "--quiet";
	for (; extra != NULL && *extra != NULL && n < 62; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	execv(server_binary, (char *const *)argv);
	_exit(127);
}

/* Reads the server's stdout until the "listening on" line. */
static int read_port(struct server_proc *s)
{
	char line[256];
	size_t len = 0;
	int64_t deadline = now_ms() + START_TIMEOUT_MS;

	while (len < sizeof(line) - 1) {
		struct pollfd p = { .fd = s->out_fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		const char *colon;
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		n = read(s->out_fd, line + len, sizeof(line) - 1 - len);
		if (n <= 0)
			return -1;
		len += (size_t)n;
		line[len] = '\0';
		if (strchr(line, '\n') == NULL)
			continue;
		colon = strrchr(line, ':');
		if (strstr(line, "listening on http://") == NULL ||
		    colon == NULL)
			return -1;
		s->port = atoi(colon + 1);
		return s->port > 0 ? 0 : -1;
	}
	return -1;
}

int server_start(struct server_proc *s, const char *const *extra, rlim_t nofile)
{
	int fds[2];

	memset(s, 0, sizeof(*s));
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	s->pid = fork();
	if (s->pid < 0) {
		s->pid = 0;
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (s->pid == 0)
		exec_server(extra, nofile, fds[1]);
	close(fds[1]);
	s->out_fd = fds[0];
	if (read_port(s) != 0) {
		fprintf(stderr, "%s did not start\n", server_binary);
		server_stop(s);
		return -1;
	}
	return 0;
}

/* Waits up to ms for the process to exit.  True if it has been reaped. */
static bool wait_exit(struct server_proc *s, int ms)
{
	int64_t deadline = now_ms() + ms;

	do {
		if (waitpid(s->pid, &s->status, WNOHANG) == s->pid)
			return true;
		sleep_ms(10);
	} while (now_ms() < deadline);
	return false;
}

int server_stop(struct server_proc *s)
{
	bool exited;

	if (s->pid <= 0)
		return s->status;
	exited = s->reaped ||
		 (kill(s->pid, SIGTERM) == 0 && wait_exit(s, STOP_TIMEOUT_MS));
	if (!exited) {
		kill(-s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->status = -1;
	}
	/* 02's children, if any are left: they share the group. */
	kill(-s->pid, SIGKILL);
	close(s->out_fd);
	s->pid = 0;
	return s->status;
}

bool server_alive(struct server_proc *s)
{
	if (s->pid <= 0 || s->reaped)
		return false;
	if (waitpid(s->pid, &s->status, WNOHANG) != s->pid)
		return true;
	s->reaped = true;
	return false;
}

long server_cpu_ms(const struct server_proc *s)
{
	char path[64], buf[1024];
	unsigned long utime, stime;
	const char *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)s->pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* Fields 14 and 15, counted after the ")" that ends the name. */
	p = strrchr(buf, ')');
	if (p == NULL || sscanf(p + 2,
				"%*c %*d %*d %*d %*d %*d %*u %*u %*u "
				"%*u %*u %lu %lu",
				&utime, &stime) != 2)
		return -1;
	return (long)((utime + stime) * 1000 /
		      (unsigned long)sysconf(_SC_CLK_TCK));
}

int raise_nofile(rlim_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur >= n)
		return 0;
	if (rl.rlim_max < n)
		return -1;
	rl.rlim_cur = n;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

int peer_open(struct peer *p, int port, int rcvbuf)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	int one = 1;

	memset(p, 0, sizeof(*p));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return -1;
	if (rcvbuf > 0)
		setsockopt(p->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
			   sizeof(rcvbuf));
	/* Loopback: connect completes at once, or the backlog holds it. */
	if (connect(p->fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(p->fd);
		p->fd = -1;
		return -1;
	}
	setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(p->fd, F_SETFL, fcntl(p->fd, F_GETFL) | O_NONBLOCK);
	return 0;
}

void peer_close(struct peer *p, bool abort)
{
	if (p->fd >= 0) {
		if (abort) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(p->fd, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
		}
		close(p->fd);
	}
	free(p->buf);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

int peer_send(struct peer *p, const void *buf, size_t len, int timeout_ms)
{
	const char *s = buf;
	int64_t deadline = now_ms() + timeout_ms;

	while (len > 0) {
		ssize_t n = send(p->fd, s, len, MSG_NOSIGNAL);

		if (n > 0) {
			s += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		struct pollfd pf = { .fd = p->fd, .events = POLLOUT };
		int64_t left = deadline - now_ms();

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return -1;
	}
	return 0;
}

int peer_send_str(struct peer *p, const char *s, int timeout_ms)
{
	return peer_send(p, s, strlen(s), timeout_ms);
}

ssize_t peer_fill(struct peer *p)
{
	ssize_t n;

	if (p->cap - p->len < 16384) {
		size_t cap = p->cap ? p->cap * 2 : 32768;
		char *nb = realloc(p->buf, cap + 1);

		if (nb == NULL)
			return -1;
		p->buf = nb;
		p->cap = cap;
	}
	n = recv(p->fd, p->buf + p->len, p->cap - p->len, MSG_DONTWAIT);
	if (n > 0) {
		p->len += (size_t)n;
		p->buf[p->len] = '\0';
		return n;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	p->eof = true;
	return -1;
}

/* The value of header name in head[0..len), or NULL. */
static const char *find_header(const char *head, size_t len, const char *name)
{
	size_t nlen = strlen(name);
	const char *p = head, *end = head + len;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));

		if (eol == NULL)
			break;
		if ((size_t)(eol - p) > nlen &&
		    strncasecmp(p, name, nlen) == 0 && p[nlen] == ':')
			return p + nlen + 1;
		p = eol + 1;
	}
	return NULL;
}

int peer_take_reply(struct peer *p, struct reply *r, bool head)
{
	const char *end, *cl, *conn;
	size_t head_len, body_len = 0;

	memset(r, 0, sizeof(*r));
	if (p->len == 0)
		return 0;
	end = memmem(p->buf, p->len, "\r\n\r\n", 4);
	if (end == NULL)
		return 0;
	head_len = (size_t)(end - p->buf) + 4;
	if (sscanf(p->buf, "HTTP/1.%*d %d", &r->status) != 1)
		return -1;
	cl = find_header(p->buf, head_len, "Content-Length");
	if (cl != NULL && !head && r->status >= 200 && r->status != 204 &&
	    r->status != 304)
		body_len = strtoul(cl, NULL, 10);
	conn = find_header(p->buf, head_len, "Connection");
	r->close = conn != NULL &&
		   strncasecmp(conn + strspn(conn, " "), "close", 5) == 0;
	if (p->len < head_len + body_len)
		return 0;
	r->body = malloc(body_len + 1);
	if (r->body == NULL)
		return -1;
	memcpy(r->body, p->buf + head_len, body_len);
	r->body[body_len] = '\0';
	r->body_len = body_len;
	memmove(p->buf, p->buf + head_len + body_len,
		p->len - head_len - body_len);
	p->len -= head_len + body_len;
	return 1;
}

int peer_read_reply(struct peer *p, struct reply *r, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	for (;;) {
		int rc = peer_take_reply(p, r, false);
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		int64_t left = deadline - now_ms();

		if (rc != 0)
			return rc > 0 ? 0 : -1;
		if (p->eof || left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return -1;
		if (peer_fill(p) < 0 && peer_take_reply(p, r, false) <= 0)
			return -1;
	}
}

int peer_wait_close(struct peer *p, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;

	while (!p->eof) {
		struct pollfd pf = { .fd = p->fd, .events = POLLIN };
		int64_t left = deadline - now_ms();

		if (left <= 0 || poll(&pf, 1, (int)left) <= 0)
			return 0;
		peer_fill(p);
		p->len = 0; /* discard */
	}
	return 1;
}

void reply_free(struct reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

int fetch_status(int port, const char *path)
{
	struct peer p;
	struct reply r;
	char req[512];
	int status = -1;

	if (peer_open(&p, port, 0) != 0)
		return -1;
	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
		 path);
	if (peer_send_str(&p, req, PEER_TIMEOUT_MS) == 0 &&
	    peer_read_reply(&p, &r, PEER_TIMEOUT_MS) == 0) {
		status = r.status;
		reply_free(&r);
	}
	peer_close(&p, false);
	return status;
}

int stats_active_connections(int port)
{
	static const char req[] = "GET /api/stats HTTP/1.1\r\nHost: "
				  "t\r\nConnection: close\r\n\r\n";
	struct peer p;
	struct reply r;
	const char *v;
	int n = -1;

	if (peer_open(&p, port, 0) != 0)
		return -1;
	if (peer_send_str(&p, req, PEER_TIMEOUT_MS) == 0 &&
	    peer_read_reply(&p, &r, PEER_TIMEOUT_MS) == 0) {
		v = strstr(r.body, "\"active_connections\":");
		if (r.status == 200 && v != NULL)
			n = atoi(v + strlen("\"active_connections\":"));
		reply_free(&r);
	}
	peer_close(&p, false);
	return n;
}
