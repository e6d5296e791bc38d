/*
 * http_parser.h - an incremental, strict HTTP/1.x request parser.
 *
 * Contract
 *   http_parse_request() is given every byte received so far on a connection
 *   (the caller's buffer, starting at the first byte of the request) and
 *   answers one of three things:
 *
 *     > 0            the request is complete; that many bytes belong to it
 *                    (request line, header section and body).  Any bytes
 *                    after them belong to the next request (pipelining).
 *     HTTP_INCOMPLETE  not enough bytes yet: call again with more.  If the
 *                    header section is already complete, req->header_len is
 *                    set and req->expect_continue / req->content_length are
 *                    valid, so the caller can send "100 Continue".
 *     HTTP_ERROR     the request is malformed or over a limit; req->status
 *                    holds the HTTP status to send (400, 413, 414, 431, 501,
 *                    505).  The caller answers with it and closes.
 *
 *   On every return, req->method_name.len > 0 means the method token and
 *   the space after it were read: method_name is that token and, if it
 *   names a method we know, req->method is that method (else method keeps
 *   the value 0 and means nothing; it is never HTTP_HEAD for another
 *   name).  So a 400, 414 or 431 for "HEAD ..." can still be answered
 *   without a body.
 *
 *   Progress.  With st == NULL every call parses buf from its first byte:
 *   simple, but a request that arrives in n pieces is scanned n times.
 *   With a struct http_parse_state, each call goes on where the last one
 *   stopped, so receiving a request costs time linear in its length
 *   however it is split:
 *     - http_parse_state_init(st) before the first call for a request
 *       that starts at buf[0];
 *     - on each later call, the same buf, req and st, with len >= the
 *       previous len and buf[0..previous len) unchanged (only the parser
 *       writes there);
 *     - after a complete (> 0) or HTTP_ERROR answer, move any pipelined
 *       bytes to the front and call http_parse_state_init() again before
 *       parsing the next request.
 *   Every call answers exactly what a call with st == NULL would answer for
 *   buf[0..len), with the same req fields.  (A call that breaks these rules
 *   with a shorter len, or after a final answer, starts over from buf[0].)
 *
 *   The parser does no I/O and no allocation.  All the http_str views it
 *   fills in point into buf and die with it.
 *
 *   The only write into buf: when a chunked request is complete, its chunk
 *   data is moved in place (towards the front) so that req->body is one
 *   contiguous view.  Bytes past the returned length are never touched.
 *
 * Decisions worth knowing
 *   Limits.  The request line, with any empty lines before it, may take
 *   max_request_line bytes before its CRLF (else 414).  The field lines
 *   and the empty line after them may take max_header_bytes (else 431), so
 *   header_len <= max_request_line + 2 + max_header_bytes.  A chunked
 *   body may decode to max_body bytes, and its raw bytes (sizes,
 *   extensions, CRLFs, trailers) may take max_body + max_header_bytes
 *   (else 413).  Every limit is enforced as soon as a byte past it is
 *   asked for, before the request is complete.  lim may be NULL for the
 *   defaults; max_headers above HTTP_MAX_HEADERS counts as that.
 *
 *   Statuses.  400 for anything malformed, including Content-Length with
 *   Transfer-Encoding, Transfer-Encoding in HTTP/1.0, and a final coding
 *   that is not chunked ("gzip", "identity", "chunked, gzip").  501 for an
 *   unknown method or a coding before chunked ("gzip, chunked"), only once
 *   the head is known to be well-formed.  413 for a Content-Length over
 *   max_body as soon as the head is complete.  Expect values other than
 *   100-continue are ignored (never 417); 100-continue from HTTP/1.0 too.
 *
 *   Views.  For an absolute-form target ("http://h/p"), host is the
 *   target's authority (RFC 9112 3.2.2; Host must still be present and
 *   valid) and an empty path reads "/".  For CONNECT ("h:443") host is the
 *   target and path is empty; for "OPTIONS *" path is "*".  A fragment
 *   ("#x") is dropped from path and query.  On a 501, method_name holds
 *   the method sent; method means nothing.
 *
 *   Line ends.  A bare LF ends a line of the head (RFC 9112 2.2 allows
 *   it); in a chunked body only CRLF does.  A bare CR is always a 400.
 *
 * Thread safety: re-entrant; no global state.  A struct http_parse_state
 * belongs to one request on one connection.
 */
#ifndef HTTP_PARSER_H
#define HTTP_PARSER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define HTTP_INCOMPLETE (-1)
#define HTTP_ERROR (-2)

/* The most header fields one request may carry (more is a 431). */
#define HTTP_MAX_HEADERS 48

/* A view into the caller's buffer: not NUL-terminated. */
struct http_str {
	const char *p;
	size_t len;
};

struct http_header {
	struct http_str name;
	struct http_str value; /* without leading or trailing whitespace */
};

/*
 * Methods the server knows (RFC 9110 section 9 plus PATCH).  A well-formed
 * method token that is none of these is answered 501 Not Implemented.
 */
enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_DELETE,
	HTTP_CONNECT,
	HTTP_OPTIONS,
	HTTP_TRACE,
	HTTP_PATCH,
};

struct http_limits {
	size_t max_request_line; /* longer request line: 414 */
	size_t max_header_bytes; /* longer header section: 431 */
	size_t max_headers;	 /* more fields: 431 (<= HTTP_MAX_HEADERS) */
	size_t max_body;	 /* longer body, declared or chunked: 413 */
};

/* Defaults: 8 KiB request line, 8 KiB headers, 48 fields, 1 MiB body. */
#define HTTP_DEFAULT_MAX_REQUEST_LINE 8192
#define HTTP_DEFAULT_MAX_HEADER_BYTES 8192
#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)

struct http_request {
	enum http_method method;
	struct http_str method_name; /* as sent */
	struct http_str target;	     /* request-target as sent */
	struct http_str path;	     /* target up to '?', still encoded */
	struct http_str query;	     /* after '?', len 0 if none */
	int version_minor;	     /* HTTP/1.<version_minor>: 0 or 1 */

	struct http_header headers[HTTP_MAX_HEADERS]; /* [0..num_headers) */
	size_t num_headers; /* the slots past it hold nothing to read */

	struct http_str host;  /* the Host field value, len 0 if none */
	size_t content_length; /* declared length, 0 if none */
	bool chunked;	       /* Transfer-Encoding: chunked */
	bool keep_alive;       /* from version and Connection */
	bool expect_continue;  /* Expect: 100-continue */

	size_t header_len;    /* bytes up to and including the empty line;
				 0 until the header section is complete */
	struct http_str body; /* valid once the request is complete */

	int status; /* on HTTP_ERROR: the status to answer */
};

/*
 * The progress of one request across calls to http_parse_request(); the
 * caller owns it, next to the buffer it describes.  Its fields belong to
 * the parser, except examined, which tests read: the bytes the parser
 * has looked at for this request over all calls.  It stays under a small
 * constant times the request's length, however the bytes were split.
 */
struct http_parse_state {
	unsigned int step; /* what comes next in the grammar */
	bool lf_ok;	   /* a bare LF may end a line here */
	bool known;	   /* the method is one we implement */
	int over;	   /* the status for passing limit */
	size_t pos;	   /* where that step starts in buf */
	size_t limit;	   /* the current section ends before buf[limit] */
	size_t run_end;	   /* how far the step's run of bytes got, */
	size_t run_acc;	   /* and what it added up to there */
	size_t chunk;	   /* the size of the chunk being read */
	size_t body_len;   /* chunk data bytes so far */
	size_t seen;	   /* len on the last call */
	size_t examined;   /* bytes looked at so far, for tests */
};

/* Fills *lim with the defaults above. */
void http_limits_init(struct http_limits *lim);

/* Prepares st for a request that starts at buf[0]. */
void http_parse_state_init(struct http_parse_state *st);

/*
 * Parses the request at the start of buf[0..len).  See the contract at the
 * top of this file.  With st == NULL, req is overwritten on every call;
 * with st, req is filled in as the request arrives and must be the same
 * on every call for that request.
 */
ssize_t http_parse_request(char *buf, size_t len, const struct http_limits *lim,
			   struct http_request *req,
			   struct http_parse_state *st);

/*
 * The size of a buffer that holds any request lim allows (NULL: the
 * defaults): max_request_line + 2 for the request line and the empty lines
 * before it, max_header_bytes for the field lines, and max_body +
 * max_header_bytes for a chunked body with its framing.  A request that
 * fills such a buffer without being complete has already been refused.
 */
size_t http_request_buffer_size(const struct http_limits *lim);

/*
 * Finds a header by name, case-insensitively.  Returns the first match or
 * NULL.  The view is valid as long as the request's buffer is.
 */
const struct http_str *http_find_header(const struct http_request *req,
					const char *name);

/*
 * Percent-decodes a path into out (NUL-terminated).  Returns the decoded
 * length, or -1 if a %xx escape is malformed, decodes to NUL, or the result
 * does not fit in outsz bytes.  '+' is left alone (it means space only in
 * query strings).
 */
ssize_t http_decode_path(const struct http_str *path, char *out, size_t outsz);

/* What http_query_param() answers when it finds no value. */
#define HTTP_QUERY_ABSENT (-1)
#define HTTP_QUERY_MALFORMED (-2) /* also: the value does not fit in out */

/*
 * Looks up key in a query string "a=1&b=2" and percent-decodes its value
 * into out (NUL-terminated).  Keys and values are decoded alike: %xx, and
 * '+' for a space, so "n%61me=x" and "my+key=x" match the keys "name" and
 * "my key".  A key without '=' has the empty value.  Returns the decoded
 * length of the first match, HTTP_QUERY_ABSENT if no key matches, or
 * HTTP_QUERY_MALFORMED if the value does not fit in outsz bytes or if a
 * %xx escape anywhere in the query is malformed or decodes to NUL: such a
 * query has no meaning, so every lookup in it is malformed.
 */
ssize_t http_query_param(const struct http_str *query, const char *key,
			 char *out, size_t outsz);

/* Returns the method's name ("GET") for logs. */
const char *http_method_name(enum http_method m);

/* True when a and the C string b are equal, ignoring ASCII case. */
bool http_str_equal_nocase(const struct http_str *a, const char *b);

#endif /* HTTP_PARSER_H */
