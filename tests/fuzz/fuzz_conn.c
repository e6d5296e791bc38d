/*
 * fuzz_conn.c - libFuzzer target for the connection state machine (conn.h).
 *
 *   make fuzz    (or build/fuzz/fuzz_conn tests/fuzz/corpus_conn)
 *   FUZZ_CONN_TRACE=1 build/fuzz/fuzz_conn FILE   shows what the server sent
 *
 * Each input is one connection over a socketpair.  The target plays the
 * event loop: it writes the input's request bytes to the peer end in
 * pieces of sizes the input chooses, calls conn_on_readable/_writable when
 * the socket is ready for what the connection wants, runs the handler
 * itself on CONN_WANT_WORKER (as 06's worker would, on the same thread),
 * and reads the server's output from the peer end as it goes, so that no
 * write waits forever.  The first CONFIG_BYTES bytes choose how:
 *
 *   data[0]  bit 0: handlers offloaded (06) instead of inline (05)
 *            bit 1: tiny parser limits instead of the defaults
 *            bit 2: the client goes quiet at the end, so the deadline
 *                   passes (conn_on_timeout), instead of a half-close
 *            bit 3: the pool refuses every handoff (503)
 *            bit 4: the client closes at the end instead, without
 *                   reading the rest (EOF, EPIPE, a result discarded)
 *   data[1]  the largest piece: 1 << (data[1] % 15) bytes
 *   data[2]  and data[3]: the seed of the piece sizes
 *
 * Checks, each an abort() with a message:
 *   - the output is a sequence of well-framed responses: status line,
 *     header lines, a Content-Length body (none for HEAD, 1xx, 204, 304),
 *     and nothing after the one that closes the connection;
 *   - every complete request gets exactly one final response, in order
 *     (unless the client vanished: then what it read must be a prefix).
 *     The requests are counted with the parser from scratch.  A malformed
 *     one gets one error response with the parser's status and ends the
 *     connection; Connection: close comes exactly for HTTP/1.0 without
 *     keep-alive, Connection: close and 5xx, and nothing follows it.  A
 *     request cut short gets nothing at a half-close and 408 at a
 *     timeout.  100 Continue comes only for Expect: 100-continue, at most
 *     once per request, and is not counted;
 *   - the connection ends: it never waits for what cannot come, and it
 *     never loops without end;
 *   - nothing leaks: as many descriptors are open after each input as
 *     before, and the connection counter is back to zero.  ASan and LSan
 *     check the memory.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "conn.h"
#include "server.h"
#include "static_files.h"
#include "stats.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem);

#define CONFIG_BYTES 4
#define MODE_OFFLOAD 0x1
#define MODE_TINY_LIMITS 0x2
#define MODE_TIMEOUT 0x4
#define MODE_REFUSE 0x8
#define MODE_VANISH 0x10

/* A connection that takes more turns than this is stuck in a loop. */
#define MAX_TURNS 1000000UL

#define BIG_FILE_LEN (100 * 1024)

static struct server srv;
static bool trace; /* FUZZ_CONN_TRACE set: copy the output to stderr */
static char root[] = "/tmp/fuzz_conn.XXXXXX";
static char small_path[PATH_MAX], big_path[PATH_MAX];

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_conn: %s\n", what);
	abort();
}

/*
 * /api/sleep?ms=10000 would cost the fuzzer ten seconds an input, and a
 * sleep tests nothing the handoff does not: the target is linked with
 * -Wl,--wrap=nanosleep, so app.c's nanosleep() lands here and returns
 * at once, as if the time had passed.
 */
int __wrap_nanosleep(const struct timespec *req, struct timespec *rem)
{
	(void)req;
	if (rem != NULL)
		rem->tv_sec = rem->tv_nsec = 0;
	return 0;
}

/* ---- what the output must be ------------------------------------------ */

enum item_kind {
	ITEM_REQUEST,	 /* complete: answered by its handler */
	ITEM_ERROR,	 /* malformed: one error response, then close */
	ITEM_TIMEOUT,	 /* cut short, then the deadline: 408, then close */
	ITEM_UNANSWERED, /* cut short, then EOF: no response */
};

/* One request of the input, as the parser from scratch sees it. */
struct item {
	enum item_kind kind;
	int status;	   /* ITEM_ERROR, ITEM_TIMEOUT: the status due */
	bool head;	   /* HEAD: the response carries no body */
	bool keep_alive;   /* the request asked to keep the connection */
	bool may_continue; /* a 100 Continue may come first */
};

struct plan {
	struct item *items;
	size_t n;	 /* items */
	size_t answered; /* of them, how many get a final response */
};

static bool named_head(const struct http_request *req)
{
	return req->method_name.len == 4 &&
	       memcmp(req->method_name.p, "HEAD", 4) == 0;
}

/*
 * Splits the input into requests the way the exchange must: complete ones
 * one after the other, until one is malformed, asks to close, or is cut
 * short.  in is a copy: the parser may move chunked data in it.
 */
static void plan_requests(struct plan *p, char *in, size_t len, bool timeout)
{
	size_t off = 0;

	p->n = 0;
	while (off < len) {
		struct item *it = &p->items[p->n++];
		struct http_request req;
		ssize_t rc = http_parse_request(in + off, len - off,
						&srv.limits, &req, NULL);

		/*
		 * The exchange hands an error's request to resp_finish() if
		 * named_head(), which drops the body if the method is
		 * HEAD: both hold only once "HEAD " is whole, not for a
		 * request cut short after "HEAD".
		 */
		it->head = named_head(&req) && req.method == HTTP_HEAD;
		it->keep_alive = req.keep_alive;
		it->may_continue = req.expect_continue && req.header_len > 0;
		it->status = 0;
		if (rc > 0) {
			it->kind = ITEM_REQUEST;
			off += (size_t)rc;
			if (!req.keep_alive)
				break;
			continue;
		}
		if (rc == HTTP_ERROR) {
			it->kind = ITEM_ERROR;
			it->status = req.status;
		} else if (timeout) {
			it->kind = ITEM_TIMEOUT;
			it->status = 408;
		} else {
			it->kind = ITEM_UNANSWERED;
		}
		break;
	}
	p->answered = p->n;
	if (p->n > 0 && p->items[p->n - 1].kind == ITEM_UNANSWERED)
		p->answered--;
}

/* ---- reading the output as it comes ------------------------------------ */

struct checker {
	const struct plan *plan;
	char head[RESP_HEAD_MAX + 1]; /* the head being received */
	size_t head_len;
	size_t body_left; /* bytes of the current body still due */
	size_t finals;	  /* final responses seen */
	bool continued;	  /* a 100 Continue came for items[finals] */
	bool closed;	  /* a response said Connection: close */
};

/* What a response head says. */
struct head {
	int status;
	long long content_length; /* -1 if none */
	int connection;		  /* -1 none, 0 close, 1 keep-alive */
};

static bool is_tchar(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= 'A' && ch <= 'Z') || strchr("!#$%&'*+-.^_`|~", ch);
}

/* True for the bytes a field value may hold: VCHAR, SP, HTAB, obs-text. */
static bool is_value_char(unsigned char ch)
{
	return ch == '\t' || (ch >= 0x20 && ch != 0x7f);
}

static long long parse_length(const char *p, size_t n)
{
	long long v = 0;

	if (n == 0 || n > 18)
		fail("a Content-Length that is not a number");
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			fail("a Content-Length that is not a number");
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* Records one "Name: value" line of a head. */
static void take_field(struct head *h, const char *p, size_t n)
{
	const char *colon = memchr(p, ':', n);
	size_t name_len, i;
	const char *v;
	size_t vlen;

	if (colon == NULL || colon == p)
		fail("a header line without a name");
	name_len = (size_t)(colon - p);
	for (i = 0; i < name_len; i++)
		if (!is_tchar((unsigned char)p[i]))
			fail("a header name with a byte that is not a tchar");
	v = colon + 1;
	vlen = n - name_len - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	for (i = 0; i < vlen; i++)
		if (!is_value_char((unsigned char)v[i]))
			fail("a control character in a header value");
	if (name_len == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
		if (h->content_length >= 0)
			fail("two Content-Length fields");
		h->content_length = parse_length(v, vlen);
	} else if (name_len == 10 && strncasecmp(p, "Connection", 10) == 0) {
		if (h->connection >= 0)
			fail("two Connection fields");
		if (vlen == 5 && memcmp(v, "close", 5) == 0)
			h->connection = 0;
		else if (vlen == 10 && memcmp(v, "keep-alive", 10) == 0)
			h->connection = 1;
		else
			fail("a Connection field that is neither close nor "
			     "keep-alive");
	}
}

/* Parses a head that ends with its empty line. */
static void parse_head(const char *p, size_t n, struct head *h)
{
	const char *end = p + n - 2; /* the empty line's CRLF */
	const char *line = p, *eol;

	h->content_length = -1;
	h->connection = -1;
	if (n < 16 || memcmp(p, "HTTP/1.1 ", 9) != 0 || p[9] < '1' ||
	    p[9] > '5' || p[10] < '0' || p[10] > '9' || p[11] < '0' ||
	    p[11] > '9' || p[12] != ' ')
		fail("a bad status line");
	h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	for (;;) {
		eol = memchr(line, '\r', (size_t)(end - line) + 1);
		if (eol == NULL || eol[1] != '\n')
			fail("a line of a head that does not end in CRLF");
		if (memchr(line, '\n', (size_t)(eol - line)) != NULL)
			fail("a bare LF in a head");
		if (line == p) {
			for (const char *q = p + 13; q < eol; q++)
				if (!is_value_char((unsigned char)*q))
					fail("a control character in a reason");
		} else {
			take_field(h, line, (size_t)(eol - line));
		}
		line = eol + 2;
		if (line >= end)
			return;
	}
}

static void interim_response(struct checker *k, const struct head *h)
{
	if (h->status != 100 || k->head_len != 25)
		fail("an interim response other than a bare 100 Continue");
	if (k->finals >= k->plan->n || !k->plan->items[k->finals].may_continue)
		fail("a 100 Continue without Expect: 100-continue");
	if (k->continued)
		fail("two 100 Continue for one request");
	k->continued = true;
}

static void final_response(struct checker *k, const struct head *h)
{
	const struct item *it;

	if (k->finals >= k->plan->answered)
		fail("a response to no request");
	it = &k->plan->items[k->finals++];
	k->continued = false;
	if (h->connection < 0)
		fail("a response without a Connection field");
	if (it->kind != ITEM_REQUEST && h->status != it->status)
		fail("an error response with another status than the parser's");
	if (h->connection == 0) {
		if (it->kind == ITEM_REQUEST && it->keep_alive &&
		    h->status < 500)
			fail("Connection: close for a keep-alive request");
		k->closed = true;
	} else if (it->kind != ITEM_REQUEST || !it->keep_alive ||
		   h->status >= 500) {
		fail("keep-alive where the connection must close");
	}
	if (h->status == 204 || h->status == 304) {
		if (h->content_length >= 0)
			fail("a Content-Length on a 204 or 304");
		return;
	}
	if (h->content_length < 0)
		fail("a response without a Content-Length");
	k->body_left = it->head ? 0 : (size_t)h->content_length;
}

static void end_of_head(struct checker *k)
{
	struct head h;

	parse_head(k->head, k->head_len, &h);
	if (h.status < 200)
		interim_response(k, &h);
	else
		final_response(k, &h);
}

static void check_output(struct checker *k, const char *p, size_t n)
{
	while (n > 0) {
		if (k->body_left > 0) {
			size_t take = n < k->body_left ? n : k->body_left;

			k->body_left -= take;
			p += take;
			n -= take;
			continue;
		}
		if (k->closed)
			fail("bytes after the response that closed the "
			     "connection");
		if (k->head_len == RESP_HEAD_MAX)
			fail("a response head longer than RESP_HEAD_MAX");
		k->head[k->head_len++] = *p++;
		n--;
		if (k->head_len >= 4 &&
		    memcmp(k->head + k->head_len - 4, "\r\n\r\n", 4) == 0) {
			end_of_head(k);
			k->head_len = 0;
		}
	}
}

static void check_end(const struct checker *k)
{
	if (k->head_len > 0 || k->body_left > 0)
		fail("the output ends inside a response");
	if (!k->closed && k->finals != k->plan->answered)
		fail("a complete request got no response");
}

/* ---- playing the loop and the client ------------------------------------ */

struct run {
	unsigned int mode;
	int fd;	  /* the server's end, owned by the connection */
	int peer; /* the client's end */
	const uint8_t *in;
	size_t len, pos; /* bytes of in the client has written */
	uint32_t rng;
	uint32_t max_piece;
	bool shut; /* the client has half-closed, or closed (peer -1) */
	struct checker k;
};

static size_t next_piece(struct run *r)
{
	r->rng ^= r->rng << 13;
	r->rng ^= r->rng >> 17;
	r->rng ^= r->rng << 5;
	return 1 + r->rng % r->max_piece;
}

/* Reads what the server has sent.  True if anything (or EOF) came. */
static bool drain(struct run *r, bool *eof)
{
	char buf[64 * 1024];
	bool got = false;

	if (r->peer < 0) {
		*eof = true;
		return false;
	}
	for (;;) {
		ssize_t n = recv(r->peer, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0) {
			if (trace)
				fwrite(buf, 1, (size_t)n, stderr);
			check_output(&r->k, buf, (size_t)n);
			got = true;
		} else if (n == 0) {
			*eof = true;
			return got;
		} else if (errno == EAGAIN) {
			return got;
		} else if (errno != EINTR) {
			fail("reading the server's output failed (a reset?)");
		}
	}
}

/* The client's next move: a piece of the input, or the half-close. */
static bool feed(struct run *r)
{
	if (r->pos < r->len) {
		size_t piece = next_piece(r);
		ssize_t n;

		if (piece > r->len - r->pos)
			piece = r->len - r->pos;
		n = send(r->peer, r->in + r->pos, piece,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n > 0) {
			r->pos += (size_t)n;
			return true;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			fail("writing a request failed");
		return false; /* the socket is full: the server reads next */
	}
	if (r->shut || ((r->mode & MODE_TIMEOUT) && !(r->mode & MODE_VANISH)))
		return false;
	r->shut = true;
	if (r->mode & MODE_VANISH) {
		close(r->peer);
		r->peer = -1;
	} else if (shutdown(r->peer, SHUT_WR) != 0) {
		fail("shutdown");
	}
	return true;
}

/* What poll says of the server's socket, watched as the connection wants. */
static short events(int fd, enum conn_want want)
{
	struct pollfd p = { .fd = fd };
	int n;

	p.events = want == CONN_WANT_READ ? POLLIN : POLLOUT;
	do
		n = poll(&p, 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		fail("poll");
	return n > 0 ? p.revents : 0;
}

/* What the connection says of itself must agree with what it wants. */
static void check_want(const struct conn *c, enum conn_want want)
{
	enum conn_timer kind = conn_timer_kind(c);

	switch (want) {
	case CONN_WANT_READ:
	case CONN_WANT_WRITE:
		if (kind == CONN_TIMER_NONE || conn_deadline_ms(c) == LLONG_MAX)
			fail("a connection that waits without a deadline");
		break;
	case CONN_WANT_WORKER:
		if (kind != CONN_TIMER_NONE)
			fail("a handed-off connection with a deadline");
		break;
	case CONN_WANT_CLOSE:
		break;
	}
	if (conn_is_idle(c) && want != CONN_WANT_READ &&
	    want != CONN_WANT_CLOSE)
		fail("an idle connection that wants more than input");
}

/* 06's worker, on this thread; or 06's full pool. */
static enum conn_want hand_off(struct run *r, struct conn *c)
{
	if (!(r->mode & MODE_OFFLOAD))
		fail("CONN_WANT_WORKER with the handlers inline");
	if (r->mode & MODE_REFUSE)
		return conn_refuse_handoff(c, 503);
	conn_handle_request(c);
	return conn_finish_handoff(c);
}

/*
 * The loop's turn: the client moves, then the connection gets the event
 * it waits for if the socket has it.  When neither can move, only time is
 * left to pass: the deadline, in timeout mode; a stall otherwise (after
 * the client's half-close or close the socket is always readable, and
 * the client always reads, so the socket is writable).
 */
static void run_connection(struct run *r, struct conn *c)
{
	enum conn_want want = CONN_WANT_READ;
	bool eof = false;

	for (unsigned long turn = 0; want != CONN_WANT_CLOSE; turn++) {
		bool moved = drain(r, &eof);
		short ev;

		if (turn == MAX_TURNS)
			fail("the connection never ends");
		moved |= feed(r);
		ev = want == CONN_WANT_WORKER ? 0 : events(r->fd, want);
		/* Dispatched as 05 and 06 do: a hang-up is "readable". */
		if (want == CONN_WANT_WORKER)
			want = hand_off(r, c);
		else if (ev & POLLOUT)
			want = conn_on_writable(c);
		else if (ev != 0)
			want = conn_on_readable(c);
		else if (moved)
			continue;
		else if (r->mode & MODE_TIMEOUT)
			want = conn_on_timeout(c);
		else
			fail("the connection waits for what cannot come");
		check_want(c, want);
	}
}

/* Reads the rest of the output once the server's end is closed. */
static void drain_to_end(struct run *r)
{
	bool eof = false;

	while (!eof)
		drain(r, &eof);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (d == NULL)
		fail("opendir /proc/self/fd");
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n;
}

static void set_limits(bool tiny)
{
	http_limits_init(&srv.limits);
	if (!tiny)
		return;
	/* Small enough that the fuzzer reaches 413, 414 and 431. */
	srv.limits.max_request_line = 64;
	srv.limits.max_header_bytes = 256;
	srv.limits.max_headers = 8;
	srv.limits.max_body = 512;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conn_shared sh;
	struct conn c;
	struct plan plan;
	struct run r;
	int fds_before, sv[2];
	char *copy;

	if (size < CONFIG_BYTES)
		return 0;
	fds_before = count_fds();
	memset(&r, 0, sizeof(r));
	r.mode = data[0];
	r.max_piece = 1u << (data[1] % 15);
	r.rng = ((uint32_t)data[2] << 8 | data[3]) * 2654435761u | 1;
	r.in = data + CONFIG_BYTES;
	r.len = size - CONFIG_BYTES;
	set_limits(r.mode & MODE_TINY_LIMITS);

	copy = malloc(r.len + 1);
	plan.items = malloc((r.len + 1) * sizeof(*plan.items));
	if (copy == NULL || plan.items == NULL)
		fail("out of memory");
	memcpy(copy, r.in, r.len);
	plan_requests(&plan, copy, r.len, r.mode & MODE_TIMEOUT);
	r.k.plan = &plan;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		       sv) != 0)
		fail("socketpair");
	r.fd = sv[0];
	r.peer = sv[1];
	conn_shared_init(&sh, &srv,
			 r.mode & MODE_OFFLOAD ? CONN_HANDLERS_OFFLOAD_BLOCKING
					       : CONN_HANDLERS_INLINE);
	conn_open(&c, &sh, r.fd);
	run_connection(&r, &c);
	conn_close(&c);
	if (r.peer >= 0) {
		drain_to_end(&r);
		check_end(&r.k);
		close(r.peer);
	}
	conn_shared_destroy(&sh);

	if (atomic_load(&srv.stats->active_conns) != 0)
		fail("a connection still counted after conn_close");
	free(plan.items);
	free(copy);
	if (count_fds() != fds_before)
		fail("a descriptor leaked");
	return 0;
}

/* ---- the document root ----------------------------------------------------
 */

static void write_file(const char *path, size_t len)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		fail("cannot create a file in the document root");
	for (size_t i = 0; i < len; i++)
		fputc('a' + (int)(i % 26), f);
	if (fclose(f) != 0)
		fail("cannot write a file in the document root");
}

static void remove_root(void)
{
	unlink(small_path);
	unlink(big_path);
	rmdir(root);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	trace = getenv("FUZZ_CONN_TRACE") != NULL;
	/* As server_setup does: a client that is gone is EPIPE, not death. */
	signal(SIGPIPE, SIG_IGN);
	if (mkdtemp(root) == NULL)
		fail("mkdtemp");
	snprintf(small_path, sizeof(small_path), "%s/index.html", root);
	snprintf(big_path, sizeof(big_path), "%s/big.bin", root);
	write_file(small_path, 40);
	write_file(big_path, BIG_FILE_LEN);
	atexit(remove_root);

	opt_defaults(&srv.opt);
	srv.app = (struct app){ .root = srv.root,
				.model = "fuzz_conn",
				.stats = NULL };
	srv.listen_fd = srv.stop_fd = srv.stop_write_fd = -1;
	srv.log_fd = -1;
	srv.stats = stats_create();
	if (srv.stats == NULL)
		fail("stats_create");
	if (file_resolve_root(root, srv.root, sizeof(srv.root)) != 0)
		fail("file_resolve_root");
	srv.app.stats = srv.stats;
	set_limits(false);
	return 0;
}
