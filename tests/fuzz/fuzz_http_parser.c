/*
 * fuzz_http_parser.c - libFuzzer target for http_parse_request().
 *
 *   make fuzz    (or build/fuzz/fuzz_http_parser tests/fuzz/corpus)
 *
 * Each input is parsed with the default limits and with tiny ones, always
 * from a heap copy of exactly its size so AddressSanitizer catches a read
 * of even one byte too many.  Beyond "does not crash", the target checks
 * the contract in http_parser.h:
 *   - every view points inside the buffer, and the body inside the request;
 *   - an error carries one of the documented statuses, anything else none;
 *   - parsing is prefix-consistent: a complete request is incomplete one
 *     byte earlier and complete again when cut right after its end, and a
 *     prefix that is already complete or rejected gives the same answer
 *     as the whole input;
 *   - fed in pieces whose sizes the input picks, to one struct
 *     http_parse_state, the parser answers what one call on the same bytes
 *     answers (the same return and every field of the request, views at
 *     the same offsets, the same body bytes), and the bytes it examined
 *     stay linear in the length.  One call on a whole head takes the
 *     parser's fast path, pieces take its steps: this is where the two
 *     are compared;
 *   - the decoders return a NUL-terminated string of the length they say,
 *     without a NUL inside, that fits the output buffer, and a query is
 *     malformed for every key or for none.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct result {
	ssize_t rc;
	int status;
	size_t header_len;
};

static void fail(const char *what)
{
	fprintf(stderr, "fuzz_http_parser: %s\n", what);
	abort();
}

static void check_view(const struct http_str *s, const char *buf, size_t n)
{
	if (s->len == 0)
		return;
	if (s->p < buf || s->len > n || (size_t)(s->p - buf) > n - s->len)
		fail("a view points outside the buffer");
}

static void check_request(const struct http_request *req, ssize_t rc,
			  const char *buf, size_t n)
{
	size_t i;

	if (rc == HTTP_ERROR) {
		switch (req->status) {
		case 400:
		case 413:
		case 414:
		case 431:
		case 501:
		case 505:
			return;
		default:
			fail("an error with an undocumented status");
		}
	}
	if (req->status != 0)
		fail("a status without an error");
	if (req->header_len > n)
		fail("header_len past the end");
	check_view(&req->method_name, buf, n);
	check_view(&req->target, buf, n);
	check_view(&req->path, buf, n);
	check_view(&req->query, buf, n);
	check_view(&req->host, buf, n);
	if (req->num_headers > HTTP_MAX_HEADERS)
		fail("too many headers");
	for (i = 0; i < req->num_headers; i++) {
		check_view(&req->headers[i].name, buf, n);
		check_view(&req->headers[i].value, buf, n);
	}
	if (rc == HTTP_INCOMPLETE)
		return;
	if (rc <= 0 || (size_t)rc > n || req->header_len == 0 ||
	    req->header_len > (size_t)rc)
		fail("a bad length for a complete request");
	check_view(&req->body, buf, (size_t)rc);
	if (!req->chunked && req->body.len != req->content_length)
		fail("body and Content-Length disagree");
}

static void check_decoded(ssize_t n, const char *out, size_t outsz)
{
	if (n < HTTP_QUERY_MALFORMED || n >= (ssize_t)outsz)
		fail("a decoded length out of range");
	if (n >= 0 && strlen(out) != (size_t)n)
		fail("a decoded string of the wrong length");
}

static void check_decoders(const struct http_str *path,
			   const struct http_str *query)
{
	size_t big = query->len + 1; /* any value fits */
	char out[32];
	char *all = malloc(big);
	ssize_t a, b;

	if (all == NULL)
		abort();
	check_decoded(http_decode_path(path, out, sizeof(out)), out,
		      sizeof(out));
	check_decoded(http_query_param(query, "q", out, sizeof(out)), out,
		      sizeof(out));
	check_decoded(http_query_param(query, "", out, 1), out, 1);
	a = http_query_param(query, "q", all, big);
	check_decoded(a, all, big);
	b = http_query_param(query, "name", all, big);
	check_decoded(b, all, big);
	if ((a == HTTP_QUERY_MALFORMED) != (b == HTTP_QUERY_MALFORMED))
		fail("a query malformed for one key but not another");
	free(all);
}

/* Parses the first n bytes of data from a heap copy of exactly n bytes. */
static struct result parse(const uint8_t *data, size_t n,
			   const struct http_limits *lim)
{
	struct http_request req;
	struct result r;
	char *buf = malloc(n > 0 ? n : 1);

	if (buf == NULL)
		abort();
	memcpy(buf, data, n);
	r.rc = http_parse_request(buf, n, lim, &req, NULL);
	check_request(&req, r.rc, buf, n);
	if (r.rc > 0)
		check_decoders(&req.path, &req.query);
	r.status = r.rc == HTTP_ERROR ? req.status : 0;
	r.header_len = req.header_len;
	free(buf);
	return r;
}

static bool same(const struct result *a, const struct result *b)
{
	return a->rc == b->rc && a->status == b->status &&
	       a->header_len == b->header_len;
}

static void check_limits(const uint8_t *data, size_t size,
			 const struct http_limits *lim)
{
	struct result whole = parse(data, size, lim);
	struct result part;
	size_t cut;

	if (whole.rc > 0) {
		part = parse(data, (size_t)whole.rc - 1, lim);
		if (part.rc != HTTP_INCOMPLETE)
			fail("a request one byte short is not incomplete");
		part = parse(data, (size_t)whole.rc, lim);
		if (!same(&part, &whole))
			fail("bytes after a request changed the answer");
	}
	/* A prefix chosen by the input itself, so the fuzzer can steer it. */
	cut = size > 0 ? (size_t)data[size - 1] * size / 256 : 0;
	part = parse(data, cut, lim);
	if (part.rc != HTTP_INCOMPLETE && !same(&part, &whole))
		fail("a prefix decided differently from the whole");
}

/* Views a and b, into abuf and bbuf, at the same offset and length. */
static bool same_view(const struct http_str *a, const char *abuf,
		      const struct http_str *b, const char *bbuf)
{
	if (a->len != b->len)
		return false;
	return a->len == 0 || a->p - abuf == b->p - bbuf;
}

/* Every field of two requests alike, their views at the same offsets. */
static bool same_request(const struct http_request *a, const char *abuf,
			 const struct http_request *b, const char *bbuf)
{
	size_t i;

	if (a->status != b->status || a->header_len != b->header_len ||
	    a->method != b->method || a->version_minor != b->version_minor ||
	    a->num_headers != b->num_headers ||
	    a->content_length != b->content_length ||
	    a->chunked != b->chunked || a->keep_alive != b->keep_alive ||
	    a->expect_continue != b->expect_continue)
		return false;
	if (!same_view(&a->method_name, abuf, &b->method_name, bbuf) ||
	    !same_view(&a->target, abuf, &b->target, bbuf) ||
	    !same_view(&a->path, abuf, &b->path, bbuf) ||
	    !same_view(&a->query, abuf, &b->query, bbuf) ||
	    !same_view(&a->host, abuf, &b->host, bbuf) ||
	    !same_view(&a->body, abuf, &b->body, bbuf))
		return false;
	for (i = 0; i < a->num_headers; i++)
		if (!same_view(&a->headers[i].name, abuf, &b->headers[i].name,
			       bbuf) ||
		    !same_view(&a->headers[i].value, abuf, &b->headers[i].value,
			       bbuf))
			return false;
	return a->body.len == 0 ||
	       memcmp(a->body.p, b->body.p, a->body.len) == 0;
}

/* The next piece's size, 1 to max bytes, from a seed the input chose. */
static size_t next_piece(uint32_t *seed, size_t max)
{
	*seed = *seed * 1103515245u + 12345u;
	return 1 + (size_t)(*seed >> 16) % max;
}

/*
 * Feeds the input to one state in pieces whose sizes its last two bytes
 * pick (all of 1 byte, up to 256), until a final answer, and compares
 * that answer with one call on a heap copy of the same bytes.
 */
static void check_pieces(const uint8_t *data, size_t size,
			 const struct http_limits *lim)
{
	uint32_t seed = size >= 2 ? data[size - 2] * 256u + data[size - 1] : 0;
	size_t max = (size_t)1 << (seed % 9);
	struct http_request inc, one;
	struct http_parse_state st;
	char *buf = malloc(size + 1), *copy = malloc(size + 1);
	size_t len = 0, piece;
	ssize_t rc, want;

	if (buf == NULL || copy == NULL)
		abort();
	memcpy(buf, data, size);
	http_parse_state_init(&st);
	for (;;) {
		rc = http_parse_request(buf, len, lim, &inc, &st);
		check_request(&inc, rc, buf, len);
		if (rc != HTTP_INCOMPLETE || len == size)
			break;
		piece = next_piece(&seed, max);
		len += piece < size - len ? piece : size - len;
	}
	if (st.examined > 8 * len + 256)
		fail("the bytes examined are not linear in the length");
	memcpy(copy, data, len);
	want = http_parse_request(copy, len, lim, &one, NULL);
	if (rc != want || !same_request(&inc, buf, &one, copy))
		fail("pieces with a state answered unlike one call");
	free(copy);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_str raw = { (const char *)data, size };
	struct http_limits lim;

	check_decoders(&raw, &raw);
	check_limits(data, size, NULL);
	check_pieces(data, size, NULL);
	lim.max_request_line = 40;
	lim.max_header_bytes = 96;
	lim.max_headers = 4;
	lim.max_body = 24;
	check_limits(data, size, &lim);
	check_pieces(data, size, &lim);
	return 0;
}
