/*
 * http_parser.c - a strict, re-entrant HTTP/1.x request parser (RFC 9112).
 *
 * How it works
 *   Every call parses the request from its first byte, left to right, with
 *   one cursor (struct scan).  Each step takes the bytes it expects and
 *   returns an int: 0 to go on, HTTP_INCOMPLETE when it ran out of bytes,
 *   or the HTTP status (400, 413, ...) that rejects the request.  A status
 *   therefore travels back up the call chain unchanged, and the step that
 *   found the problem is the one that names it.
 *
 *   Each section of a request has a byte limit, and the cursor knows it:
 *   asking for a byte past the limit gives that section's status (414 for
 *   the request line, 431 for the header section, 413 for a chunked body)
 *   at once, before those bytes have arrived.  A client cannot make us
 *   wait for the end of an endless line.
 *
 *   The steps, in order: empty lines before the request line; the request
 *   line; the field lines up to the empty line (header_len ends here); the
 *   meaning of Host, Content-Length, Transfer-Encoding, Connection and
 *   Expect; the body.
 *
 * LESSON: keeping no state between calls costs a re-scan of the bytes
 * already seen each time more arrive.  That is cheap here because every
 * section is bounded (8 KiB of head by default) and a connection's buffer
 * is fixed, and it removes a whole class of bugs: there is no half-parsed
 * state to get out of step with the buffer when the caller moves it.
 */
#include "http_parser.h"

#include <stdint.h>
#include <string.h>

/* The cursor: where we are, and how far the current section may go. */
struct scan {
	char *buf;
	size_t pos;   /* next byte to look at */
	size_t len;   /* bytes received */
	size_t limit; /* this section must end before buf[limit] */
	int over;     /* the status for a section that passes its limit */
	bool lf_ok;   /* a bare LF may end a line */
};

static const char *const method_names[] = {
	[HTTP_GET] = "GET",	    [HTTP_HEAD] = "HEAD",
	[HTTP_POST] = "POST",	    [HTTP_PUT] = "PUT",
	[HTTP_DELETE] = "DELETE",   [HTTP_CONNECT] = "CONNECT",
	[HTTP_OPTIONS] = "OPTIONS", [HTTP_TRACE] = "TRACE",
	[HTTP_PATCH] = "PATCH",
};

#define NUM_METHODS (sizeof(method_names) / sizeof(method_names[0]))

/* ---- characters ---------------------------------------------------------- */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static unsigned char to_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

/* tchar (RFC 9110 5.6.2): a visible ASCII character but a delimiter. */
static bool is_tchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f && strchr("\"(),/:;<=>?@[\\]{}", c) == NULL;
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* field-vchar, SP or HTAB (RFC 9110 5.5); bytes >= 0x80 are obs-text. */
static bool is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Anything visible may appear in a request-target; CTLs and SP may not. */
static bool is_target_char(unsigned char c)
{
	return c > 0x20 && c != 0x7f;
}

/* unreserved or sub-delims (RFC 3986 2.2, 2.3): a reg-name's bytes. */
static bool is_host_char(unsigned char c)
{
	return is_alpha(c) || is_digit(c) ||
	       (c != '\0' && strchr("-._~!$&'()*+,;=", c) != NULL);
}

/* ---- the cursor ---------------------------------------------------------- */

static void scan_section(struct scan *s, size_t limit, int over)
{
	s->limit = limit;
	s->over = over;
}

static size_t add_saturated(size_t a, size_t b)
{
	return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

/*
 * 0 if the next n bytes are here; the section's status if they would pass
 * its limit (whether or not they have arrived); else HTTP_INCOMPLETE.
 */
static int need(const struct scan *s, size_t n)
{
	if (s->pos > s->limit || n > s->limit - s->pos)
		return s->over;
	if (n > s->len - s->pos)
		return HTTP_INCOMPLETE;
	return 0;
}

/* Looks at the next byte without taking it. */
static int peek(const struct scan *s, unsigned char *c)
{
	int rc = need(s, 1);

	if (rc == 0)
		*c = (unsigned char)s->buf[s->pos];
	return rc;
}

/* Takes the byte want, or rejects the request. */
static int take_byte(struct scan *s, unsigned char want)
{
	unsigned char c;
	int rc = peek(s, &c);

	if (rc != 0)
		return rc;
	if (c != want)
		return 400;
	s->pos++;
	return 0;
}

static int skip_ows(struct scan *s)
{
	unsigned char c;
	int rc;

	while ((rc = peek(s, &c)) == 0 && is_ows(c))
		s->pos++;
	return rc;
}

/* Takes the longest run of tchars, possibly empty, as *tok. */
static int take_token(struct scan *s, struct http_str *tok)
{
	unsigned char c;
	int rc;

	tok->p = s->buf + s->pos;
	while ((rc = peek(s, &c)) == 0 && is_tchar(c))
		s->pos++;
	tok->len = (size_t)(s->buf + s->pos - tok->p);
	return rc;
}

/*
 * Takes a line end: CRLF, or a bare LF where s->lf_ok allows it (RFC 9112
 * 2.2 lets a recipient accept one in the start line and fields, which is
 * kind to people typing requests into nc).
 *
 * LESSON: a CR that is not followed by LF is rejected, never read as a
 * line end or as data.  If two parsers on a request's path split lines
 * differently, one of them sees a header field the other does not, and
 * that is how requests get smuggled past a proxy.
 */
static int take_eol(struct scan *s)
{
	unsigned char c;
	int rc = peek(s, &c);

	if (rc != 0)
		return rc;
	if (c == '\n' && s->lf_ok) {
		s->pos++;
		return 0;
	}
	if (c != '\r')
		return 400;
	rc = need(s, 2);
	if (rc != 0)
		return rc;
	if (s->buf[s->pos + 1] != '\n')
		return 400;
	s->pos += 2;
	return 0;
}

/* ---- request line -------------------------------------------------------- */

/* RFC 9112 2.2: empty lines before the request line are ignored. */
static int skip_empty_lines(struct scan *s)
{
	unsigned char c;
	int rc;

	while ((rc = peek(s, &c)) == 0 && (c == '\r' || c == '\n')) {
		rc = take_eol(s);
		if (rc != 0)
			return rc;
	}
	return rc;
}

/* Method names are case-sensitive (RFC 9110 9.1): "get" is not GET. */
static bool method_lookup(const struct http_str *name, enum http_method *m)
{
	size_t i;

	for (i = 0; i < NUM_METHODS; i++) {
		if (strlen(method_names[i]) == name->len &&
		    memcmp(method_names[i], name->p, name->len) == 0) {
			*m = (enum http_method)i;
			return true;
		}
	}
	return false;
}

static int take_method(struct scan *s, struct http_request *req, bool *known)
{
	int rc = take_token(s, &req->method_name);

	if (rc != 0)
		return rc;
	if (req->method_name.len == 0)
		return 400;
	*known = method_lookup(&req->method_name, &req->method);
	return take_byte(s, ' ');
}

/*
 * Splits p[0..n) into path and query.  A fragment ('#') is not part of a
 * request-target; if a client sends one anyway it is dropped.
 */
static void split_path_query(struct http_request *req, const char *p, size_t n)
{
	const char *hash = memchr(p, '#', n);
	const char *q;

	if (hash != NULL)
		n = (size_t)(hash - p);
	q = memchr(p, '?', n);
	req->path.p = p;
	req->path.len = q != NULL ? (size_t)(q - p) : n;
	if (q != NULL) {
		req->query.p = q + 1;
		req->query.len = n - req->path.len - 1;
	}
}

/* Checks "[" IPv6address or IPvFuture "]"; returns the byte after ']'. */
static const char *ip_literal_end(const char *p, const char *end)
{
	const char *start = p;

	while (p < end && (is_host_char((unsigned char)*p) || *p == ':'))
		p++;
	if (p == start || p == end || *p != ']')
		return NULL;
	return p + 1;
}

/* Checks a reg-name or IPv4 address; returns the byte after it. */
static const char *reg_name_end(const char *p, const char *end)
{
	while (p < end) {
		if (*p == '%') {
			if (end - p < 3 || hex_value((unsigned char)p[1]) < 0 ||
			    hex_value((unsigned char)p[2]) < 0)
				return NULL;
			p += 3;
		} else if (is_host_char((unsigned char)*p)) {
			p++;
		} else {
			break;
		}
	}
	return p;
}

/*
 * Checks uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2).  A
 * userinfo ("user@"), a path, spaces or any other byte make it invalid.
 */
static bool authority_is_valid(const struct http_str *a, bool need_host,
			       bool need_port)
{
	const char *p = a->p;
	const char *end = a->p + a->len;

	if (a->len == 0)
		return !need_host && !need_port;
	if (*p == '[')
		p = ip_literal_end(p + 1, end);
	else
		p = reg_name_end(p, end);
	if (p == NULL || (need_host && p == a->p))
		return false;
	if (p == end)
		return !need_port;
	if (*p++ != ':' || (need_port && p == end))
		return false;
	while (p < end && is_digit((unsigned char)*p))
		p++;
	return p == end;
}

/* Case-insensitive prefix test on a view. */
static bool has_prefix_nocase(const struct http_str *s, const char *prefix)
{
	struct http_str head = { s->p, strlen(prefix) };

	return s->len >= head.len && http_str_equal_nocase(&head, prefix);
}

/*
 * absolute-form, "http://host:port/path?query" (RFC 9112 3.2.2): what a
 * client sends to a proxy, and what every server must accept.  The
 * authority becomes req->host, since the server must then ignore Host.
 */
static int split_absolute_form(struct http_request *req)
{
	const struct http_str *t = &req->target;
	const char *p, *end = t->p + t->len;
	size_t skip;

	if (has_prefix_nocase(t, "http://"))
		skip = 7;
	else if (has_prefix_nocase(t, "https://"))
		skip = 8;
	else
		return 400;
	p = t->p + skip;
	req->host.p = p;
	while (p < end && *p != '/' && *p != '?' && *p != '#')
		p++;
	req->host.len = (size_t)(p - req->host.p);
	if (!authority_is_valid(&req->host, true, false))
		return 400;
	split_path_query(req, p, (size_t)(end - p));
	if (req->path.len == 0) {
		/* "http://host?q" means path "/" (RFC 9110 4.2.3).  Point at
		   the second '/' of "://" so the view stays inside buf. */
		req->path.p = t->p + skip - 1;
		req->path.len = 1;
	}
	return 0;
}

/* Which of the four request-target forms (RFC 9112 3.2) this is. */
static int split_target(struct http_request *req, bool known)
{
	const struct http_str *t = &req->target;

	if (known && req->method == HTTP_CONNECT) {
		/* authority-form, "host:port", is CONNECT's and only its. */
		if (!authority_is_valid(t, true, true))
			return 400;
		req->host = *t;
		req->path.p = t->p;
		return 0;
	}
	if (t->p[0] == '/') {
		split_path_query(req, t->p, t->len);
		return 0;
	}
	if (t->len == 1 && t->p[0] == '*') {
		/* asterisk-form, "OPTIONS *": the server as a whole. */
		if (!known || req->method != HTTP_OPTIONS)
			return 400;
		req->path = *t;
		return 0;
	}
	return split_absolute_form(req);
}

static int take_target(struct scan *s, struct http_request *req, bool known)
{
	unsigned char c;
	int rc;

	req->target.p = s->buf + s->pos;
	while ((rc = peek(s, &c)) == 0 && c != ' ') {
		if (!is_target_char(c))
			return 400;
		s->pos++;
	}
	if (rc != 0)
		return rc;
	req->target.len = (size_t)(s->buf + s->pos - req->target.p);
	if (req->target.len == 0)
		return 400;
	rc = split_target(req, known);
	if (rc != 0)
		return rc;
	return take_byte(s, ' ');
}

static int take_digit(struct scan *s, int *d)
{
	unsigned char c;
	int rc = peek(s, &c);

	if (rc != 0)
		return rc;
	if (!is_digit(c))
		return 400;
	*d = c - '0';
	s->pos++;
	return 0;
}

/* HTTP-version = "HTTP/" DIGIT "." DIGIT (RFC 9112 2.3), case-sensitive. */
static int take_version(struct scan *s, int *major, int *minor)
{
	const char *name = "HTTP/";
	int rc = 0;

	while (*name != '\0' && rc == 0)
		rc = take_byte(s, (unsigned char)*name++);
	if (rc == 0)
		rc = take_digit(s, major);
	if (rc == 0)
		rc = take_byte(s, '.');
	if (rc == 0)
		rc = take_digit(s, minor);
	return rc;
}

/*
 * request-line = method SP request-target SP HTTP-version CRLF, with
 * exactly one SP between the parts (RFC 9112 3).
 *
 * The line may hold max_request_line bytes before its line end: the
 * section limit stops the scan at once on a byte past that, so an endless
 * target is a 414 without waiting for its end.  *known tells whether the
 * method is one of ours; an unknown one is answered 501 later, once the
 * rest of the head has shown that the request is well-formed.
 */
static int take_request_line(struct scan *s, const struct http_limits *lim,
			     struct http_request *req, bool *known)
{
	int major = 0, minor = 0;
	int rc;

	rc = take_method(s, req, known);
	if (rc == 0)
		rc = take_target(s, req, *known);
	if (rc == 0)
		rc = take_version(s, &major, &minor);
	if (rc != 0)
		return rc;
	scan_section(s, add_saturated(lim->max_request_line, 2), 414);
	rc = take_eol(s); /* "HTTP/1.01", "HTTP/1.1 " end here: 400 */
	if (rc != 0)
		return rc;
	/* Well-formed, but not a version we speak. */
	if (major != 1 || minor > 1)
		return 505;
	req->version_minor = minor;
	return 0;
}

/* ---- field lines --------------------------------------------------------- */

static void trim_ows(struct http_str *v)
{
	while (v->len > 0 && is_ows((unsigned char)v->p[0])) {
		v->p++;
		v->len--;
	}
	while (v->len > 0 && is_ows((unsigned char)v->p[v->len - 1]))
		v->len--;
}

/*
 * field-line = field-name ":" OWS field-value OWS (RFC 9112 5).
 *
 * LESSON: the name must be followed by the colon at once.  "Host : x" and
 * a line starting with whitespace (obs-fold, a continuation of the line
 * before) are rejected: some parsers would read "Transfer-Encoding :
 * chunked" as a header and others would not, and a request that two
 * parsers frame differently is a smuggled request.  RFC 9112 5.1 and 5.2
 * make the 400 a MUST for the first and allow it for the second.
 */
static int take_field_line(struct scan *s, struct http_header *h)
{
	unsigned char c;
	int rc;

	rc = take_token(s, &h->name);
	if (rc != 0)
		return rc;
	if (h->name.len == 0)
		return 400; /* obs-fold, ": x", "{: x" */
	rc = take_byte(s, ':');
	if (rc == 0)
		rc = skip_ows(s);
	if (rc != 0)
		return rc;
	h->value.p = s->buf + s->pos;
	while ((rc = peek(s, &c)) == 0 && c != '\r' && c != '\n') {
		if (!is_field_char(c))
			return 400; /* NUL, ESC, DEL, ... */
		s->pos++;
	}
	if (rc != 0)
		return rc;
	h->value.len = (size_t)(s->buf + s->pos - h->value.p);
	trim_ows(&h->value);
	return take_eol(s);
}

/*
 * Field lines up to and including the empty line.  With req, they are
 * stored in req->headers (at most max, or 431); without, they are checked
 * and dropped (chunked trailers).
 */
static int take_fields(struct scan *s, struct http_request *req, size_t max)
{
	struct http_header spare;
	struct http_header *h = &spare;
	unsigned char c;
	int rc;

	while ((rc = peek(s, &c)) == 0 && c != '\r' && c != '\n') {
		if (req != NULL) {
			if (req->num_headers >= max)
				return 431;
			h = &req->headers[req->num_headers];
		}
		rc = take_field_line(s, h);
		if (rc != 0)
			return rc;
		if (req != NULL)
			req->num_headers++;
	}
	if (rc != 0)
		return rc;
	return take_eol(s);
}

/* ---- what the header fields mean ----------------------------------------- */

/*
 * Takes the next element of a comma-separated list (RFC 9110 5.6.1) with
 * OWS trimmed.  Empty elements are returned too; false when none is left.
 */
static bool list_next(struct http_str *list, struct http_str *elem)
{
	const char *comma;

	if (list->p == NULL)
		return false;
	comma = memchr(list->p, ',', list->len);
	elem->p = list->p;
	elem->len = comma != NULL ? (size_t)(comma - list->p) : list->len;
	if (comma != NULL) {
		list->len -= elem->len + 1;
		list->p = comma + 1;
	} else {
		list->p = NULL;
		list->len = 0;
	}
	trim_ows(elem);
	return true;
}

/* True if some element of some field called name equals token. */
static bool list_has(const struct http_request *req, const char *name,
		     const char *token)
{
	struct http_str list, elem;
	size_t i;

	for (i = 0; i < req->num_headers; i++) {
		if (!http_str_equal_nocase(&req->headers[i].name, name))
			continue;
		list = req->headers[i].value;
		while (list_next(&list, &elem))
			if (http_str_equal_nocase(&elem, token))
				return true;
	}
	return false;
}

/*
 * RFC 9112 3.2: "A server MUST respond with a 400 to any HTTP/1.1 request
 * message that lacks a Host header field and to any request message that
 * contains more than one Host header field line or a Host header field
 * with an invalid field value."
 */
static int check_host(struct http_request *req)
{
	const struct http_str *host = NULL;
	size_t i;

	for (i = 0; i < req->num_headers; i++) {
		if (!http_str_equal_nocase(&req->headers[i].name, "Host"))
			continue;
		if (host != NULL)
			return 400;
		host = &req->headers[i].value;
	}
	if (host == NULL)
		return req->version_minor >= 1 ? 400 : 0;
	if (!authority_is_valid(host, false, false))
		return 400;
	if (req->host.p == NULL) /* absolute-form has set it already */
		req->host = *host;
	return 0;
}

/* 1*DIGIT into *out; false if empty, not all digits, or over 64 bits. */
static bool parse_decimal(const struct http_str *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (s->len == 0)
		return false;
	for (i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->p[i];

		if (!is_digit(c) || v > (UINT64_MAX - (c - '0')) / 10)
			return false;
		v = v * 10 + (c - '0');
	}
	*out = v;
	return true;
}

/*
 * Content-Length = 1*DIGIT (RFC 9110 8.6).  A list ("5, 5") or repeated
 * lines are accepted only when every value is the same number.
 */
static int parse_content_length(const struct http_request *req,
				uint64_t *length, bool *present)
{
	struct http_str list, elem;
	uint64_t v;
	size_t i;

	*present = false;
	*length = 0;
	for (i = 0; i < req->num_headers; i++) {
		if (!http_str_equal_nocase(&req->headers[i].name,
					   "Content-Length"))
			continue;
		list = req->headers[i].value;
		while (list_next(&list, &elem)) {
			if (!parse_decimal(&elem, &v))
				return 400;
			if (*present && v != *length)
				return 400;
			*length = v;
			*present = true;
		}
	}
	return 0;
}

/*
 * The transfer codings of all Transfer-Encoding lines, in order.  We
 * decode only chunked, so it must be the one and only coding:
 *   - chunked not the final coding (or absent, "gzip"): 400, since the
 *     body's length cannot be determined (RFC 9112 6.3, a MUST);
 *   - chunked twice: 400 (RFC 9112 6.1 forbids it);
 *   - another coding before a final chunked ("gzip, chunked"): the
 *     framing is clear but we cannot decode the body: 501 (RFC 9112 6.1).
 */
static int parse_transfer_encoding(struct http_request *req)
{
	struct http_str list, elem;
	size_t i, codings = 0, chunked = 0;
	bool last_is_chunked = false;

	for (i = 0; i < req->num_headers; i++) {
		if (!http_str_equal_nocase(&req->headers[i].name,
					   "Transfer-Encoding"))
			continue;
		list = req->headers[i].value;
		while (list_next(&list, &elem)) {
			if (elem.len == 0)
				continue;
			codings++;
			last_is_chunked =
				http_str_equal_nocase(&elem, "chunked");
			if (last_is_chunked)
				chunked++;
		}
	}
	if (!last_is_chunked || chunked > 1)
		return 400;
	if (codings > 1)
		return 501;
	req->chunked = true;
	return 0;
}

/*
 * LESSON: request smuggling.  A body's length can be given two ways,
 * Content-Length and Transfer-Encoding: chunked.  If a proxy believes one
 * and the server the other, the bytes one of them takes for the body are
 * a second request to the other, which the proxy never checked.  So a
 * request with both is rejected (RFC 9112 6.1 lets a server do so, and
 * it is the only safe answer), as is any Transfer-Encoding from an
 * HTTP/1.0 client, whose framing RFC 9112 6.1 calls faulty.
 */
static int check_framing(struct http_request *req,
			 const struct http_limits *lim, bool known)
{
	uint64_t length;
	bool has_length;
	int rc;

	rc = parse_content_length(req, &length, &has_length);
	if (rc != 0)
		return rc;
	if (http_find_header(req, "Transfer-Encoding") != NULL) {
		if (has_length || req->version_minor == 0)
			return 400;
		rc = parse_transfer_encoding(req);
		if (rc != 0)
			return rc;
	}
	if (!known)
		return 501;
	if (length > lim->max_body)
		return 413; /* before the body arrives: no need to wait */
	req->content_length = (size_t)length;
	return 0;
}

/*
 * Connection options are case-insensitive tokens (RFC 9112 9.3).  "close"
 * always wins; HTTP/1.0 stays open only when it asks with "keep-alive".
 * Expect: only "100-continue" means anything to us, and only from an
 * HTTP/1.1 client (RFC 9110 10.1.1); other expectations are ignored,
 * which RFC 9110 allows (417 is a MAY).
 */
static void set_connection_options(struct http_request *req)
{
	bool close = list_has(req, "Connection", "close");
	bool keep = list_has(req, "Connection", "keep-alive");

	req->keep_alive = !close && (req->version_minor >= 1 || keep);
	req->expect_continue = req->version_minor >= 1 &&
			       list_has(req, "Expect", "100-continue");
}

/* ---- the head, then the body --------------------------------------------- */

static size_t max_fields(const struct http_limits *lim)
{
	return lim->max_headers < HTTP_MAX_HEADERS ? lim->max_headers
						   : HTTP_MAX_HEADERS;
}

/*
 * Everything up to the empty line, and what it means.  Limits: the empty
 * lines before the request line and the request line itself count toward
 * max_request_line (414); the field lines and the empty line after them
 * toward max_header_bytes (431).
 */
static int parse_head(struct scan *s, const struct http_limits *lim,
		      struct http_request *req)
{
	bool known = false;
	int rc;

	s->lf_ok = true;
	scan_section(s, lim->max_request_line, 414);
	rc = skip_empty_lines(s);
	if (rc == 0)
		rc = take_request_line(s, lim, req, &known);
	if (rc != 0)
		return rc;
	scan_section(s, add_saturated(s->pos, lim->max_header_bytes), 431);
	rc = take_fields(s, req, max_fields(lim));
	if (rc != 0)
		return rc;
	req->header_len = s->pos;
	set_connection_options(req);
	rc = check_host(req);
	if (rc == 0)
		rc = check_framing(req, lim, known);
	return rc;
}

/*
 * chunk-size: hex digits whose value may not take the body past room
 * (413, found as soon as the digit that does it arrives, so the value can
 * never overflow).
 */
static int take_chunk_size(struct scan *s, size_t room, size_t *size)
{
	size_t start = s->pos;
	unsigned char c;
	size_t v = 0;
	int rc, h;

	while ((rc = peek(s, &c)) == 0 && (h = hex_value(c)) >= 0) {
		if ((size_t)h > room || v > (room - (size_t)h) / 16)
			return 413;
		v = v * 16 + (size_t)h;
		s->pos++;
	}
	if (rc != 0)
		return rc;
	if (s->pos == start)
		return 400;
	*size = v;
	return 0;
}

/* quoted-string (RFC 9110 5.6.4), checked and skipped. */
static int skip_quoted_string(struct scan *s)
{
	unsigned char c;
	int rc;

	rc = take_byte(s, '"');
	while (rc == 0 && (rc = peek(s, &c)) == 0 && c != '"') {
		if (c == '\\') {
			s->pos++;
			rc = peek(s, &c);
		}
		/* qdtext and quoted-pair: field bytes (DQUOTE ends above) */
		if (rc == 0 && !is_field_char(c))
			return 400;
		s->pos++;
	}
	if (rc != 0)
		return rc;
	s->pos++;
	return 0;
}

/* chunk-ext-val = token / quoted-string */
static int skip_ext_value(struct scan *s)
{
	struct http_str tok;
	unsigned char c;
	int rc = peek(s, &c);

	if (rc != 0)
		return rc;
	if (c == '"')
		return skip_quoted_string(s);
	rc = take_token(s, &tok);
	if (rc == 0 && tok.len == 0)
		return 400;
	return rc;
}

/* One extension after its ';': BWS ext-name [ BWS "=" BWS ext-val ] */
static int skip_one_ext(struct scan *s)
{
	struct http_str name;
	unsigned char c;
	int rc;

	rc = skip_ows(s);
	if (rc == 0)
		rc = take_token(s, &name);
	if (rc == 0 && name.len == 0)
		return 400;
	if (rc == 0)
		rc = skip_ows(s);
	if (rc == 0)
		rc = peek(s, &c);
	if (rc != 0 || c != '=')
		return rc;
	s->pos++;
	rc = skip_ows(s);
	if (rc == 0)
		rc = skip_ext_value(s);
	return rc;
}

/*
 * chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ) (RFC 9112
 * 7.1.1), checked and ignored.  Whitespace before the line end is
 * tolerated: it cannot change where the chunk ends.
 */
static int skip_chunk_ext(struct scan *s)
{
	unsigned char c;
	int rc;

	for (;;) {
		rc = skip_ows(s);
		if (rc == 0)
			rc = peek(s, &c);
		if (rc != 0 || c != ';')
			return rc;
		s->pos++;
		rc = skip_one_ext(s);
		if (rc != 0)
			return rc;
	}
}

/*
 * The chunks from s->pos to the end of the trailer section (RFC 9112 7.1).
 * *total is the decoded size.  With move, each chunk's data is also moved
 * down to follow the previous one; that only ever writes over framing
 * bytes already read, so the walk itself is not disturbed.
 */
static int walk_chunks(struct scan *s, size_t max_body, bool move,
		       size_t *total)
{
	char *out = s->buf + s->pos;
	size_t size = 0;
	int rc;

	*total = 0;
	for (;;) {
		rc = take_chunk_size(s, max_body - *total, &size);
		if (rc == 0)
			rc = skip_chunk_ext(s);
		if (rc == 0)
			rc = take_eol(s);
		if (rc != 0 || size == 0)
			break;
		rc = need(s, size);
		if (rc != 0)
			return rc;
		if (move)
			memmove(out + *total, s->buf + s->pos, size);
		s->pos += size;
		*total += size;
		rc = take_eol(s);
		if (rc != 0)
			return rc;
	}
	if (rc != 0)
		return rc;
	return take_fields(s, NULL, 0);
}

/*
 * LESSON: in a chunked body every line must end in CRLF.  The bare-LF
 * leniency of the head is not extended here: chunk framing decides where
 * this request ends and the next one begins.  The raw body, framing and
 * trailers included, may take max_body + max_header_bytes bytes, so a
 * stream of empty extensions or tiny chunks is bounded too (413).
 */
static int parse_chunked_body(struct scan *s, const struct http_limits *lim,
			      struct http_request *req)
{
	size_t raw_max = add_saturated(lim->max_body, lim->max_header_bytes);
	struct scan again;
	size_t total;
	int rc;

	s->lf_ok = false;
	scan_section(s, add_saturated(s->pos, raw_max), 413);
	again = *s;
	rc = walk_chunks(s, lim->max_body, false, &total);
	if (rc != 0)
		return rc;
	/* Complete and valid: now, and only now, make the body contiguous.
	   This walk cannot fail: it reads the bytes the first one checked. */
	(void)walk_chunks(&again, lim->max_body, true, &total);
	req->body.p = again.buf + req->header_len;
	req->body.len = total;
	return 0;
}

static int parse_body(struct scan *s, const struct http_limits *lim,
		      struct http_request *req)
{
	if (req->chunked)
		return parse_chunked_body(s, lim, req);
	if (req->content_length > s->len - s->pos)
		return HTTP_INCOMPLETE;
	req->body.p = s->buf + s->pos;
	req->body.len = req->content_length;
	s->pos += req->content_length;
	return 0;
}

/* ---- public functions ---------------------------------------------------- */

void http_limits_init(struct http_limits *lim)
{
	lim->max_request_line = HTTP_DEFAULT_MAX_REQUEST_LINE;
	lim->max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
	lim->max_headers = HTTP_MAX_HEADERS;
	lim->max_body = HTTP_DEFAULT_MAX_BODY;
}

void http_parse_state_init(struct http_parse_state *st)
{
	st->examined = 0;
}
ssize_t http_parse_request(char *buf, size_t len, const struct http_limits *lim,
			   struct http_request *req,
			   struct http_parse_state *st)
{
	(void)st;
	struct http_limits defaults;
	struct scan s = { .buf = buf, .len = len };
	int rc;

	if (lim == NULL) {
		http_limits_init(&defaults);
		lim = &defaults;
	}
	memset(req, 0, sizeof(*req));
	rc = parse_head(&s, lim, req);
	if (rc == 0)
		rc = parse_body(&s, lim, req);
	if (rc == HTTP_INCOMPLETE)
		return HTTP_INCOMPLETE;
	if (rc != 0) {
		req->status = rc;
		return HTTP_ERROR;
	}
	return (ssize_t)s.pos;
}

const struct http_str *http_find_header(const struct http_request *req,
					const char *name)
{
	size_t i;

	for (i = 0; i < req->num_headers; i++)
		if (http_str_equal_nocase(&req->headers[i].name, name))
			return &req->headers[i].value;
	return NULL;
}

/*
 * Percent-decodes src[0..n) into out, '+' to space if plus_is_space.
 * -1 on a malformed escape, a NUL (escaped or not), or no room.
 */
static ssize_t percent_decode(const char *src, size_t n, bool plus_is_space,
			      char *out, size_t outsz)
{
	size_t i, o = 0;
	int hi, lo;
	char c;

	if (outsz == 0)
		return -1;
	for (i = 0; i < n; i++) {
		c = src[i];
		if (c == '%') {
			if (n - i < 3)
				return -1;
			hi = hex_value((unsigned char)src[i + 1]);
			lo = hex_value((unsigned char)src[i + 2]);
			if (hi < 0 || lo < 0)
				return -1;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		/* LESSON: "%00" would cut the C string short: the file
		   opened would not be the one that was checked. */
		if (c == '\0' || o + 1 >= outsz)
			return -1;
		out[o++] = c;
	}
	out[o] = '\0';
	return (ssize_t)o;
}

ssize_t http_decode_path(const struct http_str *path, char *out, size_t outsz)
{
	return percent_decode(path->p, path->len, false, out, outsz);
}

/* True if the form-encoded key p[0..n) decodes to key. */
static bool form_key_equal(const char *p, size_t n, const char *key)
{
	size_t i = 0;
	int hi, lo;
	char c;

	while (i < n) {
		c = p[i++];
		if (c == '+') {
			c = ' ';
		} else if (c == '%' && n - i >= 2 &&
			   (hi = hex_value((unsigned char)p[i])) >= 0 &&
			   (lo = hex_value((unsigned char)p[i + 1])) >= 0) {
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (*key == '\0' || *key != c)
			return false;
		key++;
	}
	return *key == '\0';
}

ssize_t http_query_param(const struct http_str *query, const char *key,
			 char *out, size_t outsz)
{
	const char *p = query->p;
	const char *end, *amp, *pair_end, *eq;

	if (query->len == 0)
		return -1;
	end = p + query->len;
	for (;;) {
		amp = memchr(p, '&', (size_t)(end - p));
		pair_end = amp != NULL ? amp : end;
		eq = memchr(p, '=', (size_t)(pair_end - p));
		if (form_key_equal(p, (size_t)((eq ? eq : pair_end) - p),
				   key)) {
			if (eq == NULL)
				return percent_decode(pair_end, 0, true, out,
						      outsz);
			return percent_decode(eq + 1,
					      (size_t)(pair_end - eq - 1), true,
					      out, outsz);
		}
		if (amp == NULL)
			return -1;
		p = amp + 1;
	}
}

const char *http_method_name(enum http_method m)
{
	if ((size_t)m >= NUM_METHODS)
		return "UNKNOWN";
	return method_names[m];
}

bool http_str_equal_nocase(const struct http_str *a, const char *b)
{
	size_t i;

	if (strlen(b) != a->len)
		return false;
	for (i = 0; i < a->len; i++)
		if (to_lower((unsigned char)a->p[i]) !=
		    to_lower((unsigned char)b[i]))
			return false;
	return true;
}
