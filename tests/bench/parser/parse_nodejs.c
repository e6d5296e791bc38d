/*
 * parse_nodejs.c - the nodejs http-parser (https://github.com/nodejs/
 * http-parser, Debian's libhttp-parser-dev), built strict.
 *
 * It reports what it finds through callbacks rather than filling in a
 * struct.  The callbacks below store the target and every header as
 * views, the work the two other parsers do, so that the three are
 * compared on the same result.  This file must be compiled without
 * -Icommon: <http_parser.h> here is the system's, not the project's.
 */
#include <http_parser.h>
#include <stdbool.h>

#include "parsers.h"

struct view {
	const char *p;
	size_t len;
};

/* What the callbacks collect for one request. */
struct result {
	struct view url;
	struct view names[BENCH_MAX_HEADERS];
	struct view values[BENCH_MAX_HEADERS];
	size_t num_headers;
	bool in_value; /* the last callback was a value's */
	bool complete;
};

/* A callback may get a piece at a time; in one buffer the pieces touch. */
static void extend(struct view *v, const char *at, size_t n)
{
	if (v->p == NULL)
		v->p = at;
	v->len += n;
}

static int on_url(http_parser *hp, const char *at, size_t n)
{
	struct result *r = hp->data;

	extend(&r->url, at, n);
	return 0;
}

/* Opens the next header's slot. */
static int next_header(struct result *r)
{
	struct view empty = { NULL, 0 };

	if (++r->num_headers >= BENCH_MAX_HEADERS)
		return 1; /* too many: stop the parser */
	r->names[r->num_headers] = empty;
	r->values[r->num_headers] = empty;
	return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t n)
{
	struct result *r = hp->data;

	/* A name after a value starts the next header. */
	if (r->in_value && next_header(r) != 0)
		return 1;
	r->in_value = false;
	extend(&r->names[r->num_headers], at, n);
	return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t n)
{
	struct result *r = hp->data;

	r->in_value = true;
	extend(&r->values[r->num_headers], at, n);
	return 0;
}

static int on_headers_complete(http_parser *hp)
{
	struct result *r = hp->data;

	/* num_headers counts the finished headers from here on. */
	if (r->in_value)
		r->num_headers++;
	return 0;
}

static int on_message_complete(http_parser *hp)
{
	struct result *r = hp->data;

	r->complete = true;
	http_parser_pause(hp, 1); /* stop at the end of this request */
	return 0;
}

static const http_parser_settings settings = {
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_message_complete = on_message_complete,
};

ssize_t bench_parse_nodejs(char *buf, size_t len)
{
	struct view empty = { NULL, 0 };
	struct result r;
	http_parser hp;
	size_t n;

	/* Only the slot being filled needs to start empty, as in the
	   other two parsers, which write the slots they fill. */
	r.url = empty;
	r.names[0] = empty;
	r.values[0] = empty;
	r.num_headers = 0;
	r.in_value = false;
	r.complete = false;
	http_parser_init(&hp, HTTP_REQUEST);
	hp.data = &r;
	n = http_parser_execute(&hp, &settings, buf, len);
	if (!r.complete)
		return -1;
	return (ssize_t)n;
}
