/*
 * exchange.c - one connection's requests and responses, as a state machine
 * with no I/O: see exchange.h.
 *
 *   RECEIVING --complete request--> READY --exchange_handle--> SENDING
 *      ^   | malformed, too big, too slow: queue the error ------^   |
 *      |   | Expect: 100-continue: queue it, keep receiving           |
 *      |                                                              |
 *      +---- response out, keep-alive: record, shift pipelined bytes -+
 *                                   response out, close: record -> DONE
 */
#include "exchange.h"

#include <string.h>

#include "app.h"
#include "clock.h"
#include "log.h"
#include "ratelimit.h"
#include "server.h"
#include "stats.h"

static const char continue_msg[] = "HTTP/1.1 100 Continue\r\n\r\n";

void exchange_init(struct exchange *ex, const struct server *srv, char *buf,
		   size_t cap, const struct net_peer *peer)
{
	ex->srv = srv;
	ex->peer = peer;
	ex->client = peer;
	ex->buf = buf;
	ex->cap = cap;
	ex->used = 0;
	ex->phase = EXCHANGE_RECEIVING;
	http_parse_state_init(&ex->parse);
	ex->req_len = 0;
	ex->req_valid = false;
	ex->continue_queued = false;
	ex->refused = false;
	ex->started_us = 0;
	ex->interim = NULL;
	ex->interim_len = 0;
	resp_init(&ex->resp);
	ex->sent = 0;
}

bool exchange_needs_peer(const struct server *srv)
{
	return srv->log_fd >= 0 || srv->ratelimit != NULL;
}

void exchange_release(struct exchange *ex)
{
	resp_release(&ex->resp);
}

/* Bytes of the response's head and in-memory body that go on the wire. */
static size_t memory_len(const struct response *r)
{
	return r->head_len + (r->head_only ? 0 : r->body_len);
}

/* Bytes of the response's file range that go on the wire. */
static size_t file_len(const struct response *r)
{
	return r->head_only || r->file_fd < 0 ? 0 : r->file_len;
}

static bool output_pending(const struct exchange *ex)
{
	if (ex->phase == EXCHANGE_SENDING)
		return ex->sent < memory_len(&ex->resp) + file_len(&ex->resp);
	return ex->sent < ex->interim_len;
}

/* The response in ex->resp is finished: it is what goes out next. */
static void start_sending(struct exchange *ex)
{
	ex->phase = EXCHANGE_SENDING;
	ex->interim = NULL;
	ex->interim_len = 0;
	ex->sent = 0;
}

/* True when the request line said HEAD, even if the rest failed to parse. */
static bool request_is_head(const struct exchange *ex)
{
	const struct http_str *m = &ex->req.method_name;

	return m->len == 4 && memcmp(m->p, "HEAD", 4) == 0;
}

/*
 * Queues the answer to a request that could not be read: malformed, over
 * a limit, or too slow.  It closes the connection (the framing is lost),
 * and a HEAD still gets no body.
 */
static void answer_error(struct exchange *ex, int status)
{
	app_handle_error(status, request_is_head(ex), &ex->resp);
	ex->req_valid = false; /* the log shows "-" for the request */
	start_sending(ex);
}

/*
 * LESSON: the interim 100 Continue is output like any other.  It may go
 * out in pieces behind a large pipelined response, so it is queued and
 * counted, never fired off with one send() and forgotten.
 */
static void queue_continue(struct exchange *ex)
{
	ex->interim = continue_msg;
	ex->interim_len = sizeof(continue_msg) - 1;
	ex->sent = 0;
	ex->continue_queued = true;
}

/* True when ip is a --trust-proxy address. */
static bool is_proxy(const struct options *opt, const struct net_ip *ip)
{
	for (int i = 0; i < opt->proxies; i++) {
		if (net_ip_equal(ip, &opt->proxy[i]))
			return true;
	}
	return false;
}

/* The last X-Forwarded-For field value of req, or NULL. */
static const struct http_str *forwarded_for(const struct http_request *req)
{
	const struct http_str *xff = NULL;

	/* Several field lines are one list, in order (RFC 9110 5.3). */
	for (size_t i = 0; i < req->num_headers; i++) {
		const struct http_header *h = &req->headers[i];

		if (http_str_equal_nocase(&h->name, "X-Forwarded-For"))
			xff = &h->value;
	}
	return xff;
}

static bool is_xff_space(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Who sent the request: the peer, unless the peer is a trusted proxy and
 * the request carries X-Forwarded-For.
 *
 * LESSON: X-Forwarded-For is a header like any other: anybody can send
 * one, with any address in it.  A server that believed it from everyone
 * would let a client pick a new address per request - a fresh rate-limit
 * bucket each time - and write whatever it likes into the log.  Only a
 * proxy's word counts: a proxy appends the address it saw to what it was
 * sent, so the list is read from the right, and an entry is believed
 * only while the hop that wrote it is a trusted proxy (the peer for the
 * last entry, the entry to its right for the others).  The first entry
 * that is not a proxy is the client; what is left of it is the client's
 * own claim.  So a chain (a load balancer, then nginx) with both named
 * by --trust-proxy gives the client, not the load balancer.  An entry
 * that is not an address stops the walk at the proxy that wrote it.
 */
static const struct net_peer *client_of(struct exchange *ex)
{
	const struct options *opt = &ex->srv->opt;
	const struct net_peer *client = ex->peer;
	const struct http_str *xff;
	const char *begin, *end;

	if (!client->known || !is_proxy(opt, &client->ip))
		return client;
	xff = forwarded_for(&ex->req);
	if (xff == NULL)
		return client;
	begin = xff->p;
	end = xff->p + xff->len;
	for (;;) {
		const char *start = end, *p, *e = end;

		while (start > begin && start[-1] != ',')
			start--;
		for (p = start; p < e && is_xff_space(*p); p++)
			;
		while (e > p && is_xff_space(e[-1]))
			e--;
		/* On failure forwarded keeps the last entry believed. */
		if (net_peer_parse(p, (size_t)(e - p), &ex->forwarded) != 0)
			return client;
		client = &ex->forwarded;
		if (!is_proxy(opt, &client->ip) || start == begin)
			return client;
		end = start - 1; /* the comma */
	}
}

/*
 * The rate limit, once per request: 0, or the Retry-After seconds.  A
 * client whose address is unknown (it left before getpeername) is let
 * through: its connection is already gone.
 */
static int over_limit(const struct exchange *ex)
{
	if (ex->srv->ratelimit == NULL || !ex->client->known)
		return 0;
	return ratelimit_take(ex->srv->ratelimit, &ex->client->ip);
}

/*
 * The rate limit for the request in ex->req, whose head at least has
 * arrived: finds its client, takes a token.  0, or the Retry-After
 * seconds.  Once per request.
 */
static int check_limit(struct exchange *ex)
{
	ex->client = client_of(ex);
	return over_limit(ex);
}

/* Queues the 429 for a request check_limit() refused. */
static void answer_limited(struct exchange *ex, int retry_s)
{
	ex->req_valid = true; /* the log shows the request */
	app_handle_limited(retry_s, &ex->req, &ex->resp);
	start_sending(ex);
}

/* Parses what has arrived; the parser resumes where it stopped. */
static enum exchange_step parse_input(struct exchange *ex)
{
	struct http_request *req = &ex->req;
	int retry_s;
	ssize_t n;

	if (ex->used == 0)
		return EXCHANGE_READ;
	n = http_parse_request(ex->buf, ex->used, &ex->srv->limits, req,
			       &ex->parse);
	if (n > 0) {
		ex->req_len = (size_t)n;
		ex->req_valid = true;
		/* A 100 Continue was queued only under the limit. */
		retry_s = ex->continue_queued ? 0 : check_limit(ex);
		if (retry_s > 0) {
			answer_limited(ex, retry_s);
			return EXCHANGE_WRITE;
		}
		app_find_route(req, &ex->route);
		ex->phase = EXCHANGE_READY;
		return EXCHANGE_HANDLE;
	}
	if (n == HTTP_ERROR) {
		answer_error(ex, req->status);
		return EXCHANGE_WRITE;
	}
	if (req->header_len > 0 && req->expect_continue &&
	    !ex->continue_queued) {
		/*
		 * LESSON: the client asks before it sends its body, so
		 * that a server that will refuse the request can say so
		 * first (RFC 9110 10.1.1).  The rate limit needs only the
		 * head: a client over it gets its 429 now, not a 100 that
		 * would have it upload the body for nothing.  The body is
		 * then never read, so the connection closes.
		 */
		retry_s = check_limit(ex);
		if (retry_s > 0) {
			req->keep_alive = false;
			answer_limited(ex, retry_s);
			return EXCHANGE_WRITE;
		}
		queue_continue(ex);
		return EXCHANGE_WRITE;
	}
	if (ex->used == ex->cap) {
		answer_error(ex, req->header_len > 0 ? 413 : 431);
		return EXCHANGE_WRITE;
	}
	return EXCHANGE_READ;
}

/* Counts and logs the response that has just gone out. */
static void record_response(struct exchange *ex)
{
	const struct server *srv = ex->srv;

	stats_record(srv->stats, ex->resp.status,
		     clock_now_us() - ex->started_us);
	log_access(srv->log_fd, ex->client->text,
		   ex->req_valid ? &ex->req : NULL, ex->resp.status,
		   resp_body_bytes(&ex->resp));
}

/*
 * The response is out.  Keep-alive: what follows the request in the buffer
 * is the start of the next one (pipelining).  Otherwise we are done.
 */
static void finish_response(struct exchange *ex)
{
	bool keep = ex->resp.keep_alive;

	record_response(ex);
	resp_release(&ex->resp);
	resp_init(&ex->resp);
	ex->sent = 0;
	if (!keep) {
		ex->phase = EXCHANGE_DONE;
		return;
	}
	memmove(ex->buf, ex->buf + ex->req_len, ex->used - ex->req_len);
	ex->used -= ex->req_len;
	ex->req_len = 0;
	ex->req_valid = false;
	ex->client = ex->peer;
	ex->continue_queued = false;
	http_parse_state_init(&ex->parse);
	ex->phase = EXCHANGE_RECEIVING;
	if (ex->used > 0)
		ex->started_us = clock_now_us();
}

enum exchange_step exchange_next(struct exchange *ex)
{
	if (output_pending(ex))
		return EXCHANGE_WRITE;
	switch (ex->phase) {
	case EXCHANGE_RECEIVING:
		ex->interim_len = 0; /* a 100 Continue, all sent */
		ex->sent = 0;
		return parse_input(ex);
	case EXCHANGE_READY:
		return EXCHANGE_HANDLE;
	case EXCHANGE_SENDING:
		finish_response(ex);
		if (ex->phase == EXCHANGE_DONE)
			return EXCHANGE_CLOSE;
		return parse_input(ex);
	case EXCHANGE_DONE:
		break;
	}
	return EXCHANGE_CLOSE;
}

char *exchange_input(const struct exchange *ex, size_t *room)
{
	*room = ex->cap - ex->used;
	return ex->buf + ex->used;
}

void exchange_received(struct exchange *ex, size_t n)
{
	if (ex->used == 0)
		ex->started_us = clock_now_us();
	ex->used += n;
}

bool exchange_is_idle(const struct exchange *ex)
{
	return ex->phase == EXCHANGE_RECEIVING && ex->used == 0 &&
	       !output_pending(ex);
}

uint64_t exchange_started_us(const struct exchange *ex)
{
	return ex->started_us;
}

bool exchange_may_block(const struct exchange *ex)
{
	return app_may_block(&ex->route);
}

void exchange_handle(struct exchange *ex)
{
	app_handle(&ex->srv->app, &ex->req, &ex->route, &ex->resp);
	start_sending(ex);
}

void exchange_refuse(struct exchange *ex, int status)
{
	app_handle_error(status, ex->req.method == HTTP_HEAD, &ex->resp);
	ex->refused = true;
	start_sending(ex);
}

bool exchange_client_closes(const struct exchange *ex)
{
	/*
	 * req_len is set only for a request parsed whole, body included,
	 * and is 0 for one answered by an error; finish_response leaves it
	 * and used alone on the way to DONE.
	 */
	return ex->phase == EXCHANGE_DONE && ex->req_len > 0 &&
	       ex->used == ex->req_len && !ex->req.keep_alive && !ex->refused;
}

void exchange_timeout(struct exchange *ex)
{
	if (ex->phase == EXCHANGE_RECEIVING && ex->used > 0)
		answer_error(ex, 408);
}

int exchange_output_iov(const struct exchange *ex, struct iovec *iov)
{
	const struct response *r = &ex->resp;
	size_t body = r->head_only ? 0 : r->body_len;
	size_t skip = ex->sent;
	int n = 0;

	if (ex->phase != EXCHANGE_SENDING) {
		if (skip >= ex->interim_len)
			return 0;
		iov[0].iov_base = (char *)ex->interim + skip;
		iov[0].iov_len = ex->interim_len - skip;
		return 1;
	}
	if (skip < r->head_len) {
		iov[n].iov_base = (char *)r->head + skip;
		iov[n++].iov_len = r->head_len - skip;
		skip = 0;
	} else {
		skip -= r->head_len;
	}
	if (skip < body) {
		iov[n].iov_base = (char *)r->body + skip;
		iov[n++].iov_len = body - skip;
	}
	return n;
}

size_t exchange_output_file(const struct exchange *ex, int *fd, off_t *offset)
{
	const struct response *r = &ex->resp;
	size_t mem = memory_len(r), done;

	if (ex->phase != EXCHANGE_SENDING || ex->sent < mem)
		return 0;
	done = ex->sent - mem;
	if (done >= file_len(r))
		return 0;
	*fd = r->file_fd;
	*offset = r->file_offset + (off_t)done;
	return file_len(r) - done;
}

void exchange_sent(struct exchange *ex, size_t n)
{
	ex->sent += n;
}
