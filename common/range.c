/*
 * range.c - the Range and If-Range fields of a GET of a file.
 *
 * The grammar (RFC 9110 section 14.1):
 *
 *   Range       = range-unit "=" range-set        ("bytes", any case)
 *   range-set   = 1#range-spec                    (a comma list)
 *   range-spec  = first-pos "-" [ last-pos ]      ("0-99", "100-")
 *               / "-" suffix-length               ("-100": the last 100)
 *
 * Parsing is a pure function of the value and the file's size, so that
 * every form, every overflow and every odd space can be tested without a
 * socket (tests/unit/test_range.c).
 *
 * LESSON: a set of many ranges is answered with the whole file, once.  A
 * server that honours each range of "bytes=0-,0-,0-,..." sends the file
 * once per range: a request of a few hundred bytes can cost gigabytes,
 * which is how the "Apache Killer" (CVE-2011-3192) brought servers down
 * with overlapping ranges.  RFC 9110 section 14.2 lets a server ignore
 * Range at any time, and a player seeking in a video or a resumed
 * download asks for one range, which is all we serve.
 */
#include "range.h"

#include <string.h>
#include <strings.h>

#define ACCEPT_RANGES "Accept-Ranges: bytes\r\n"

/* A run of decimal digits in the value, and what it is worth. */
struct digits {
	const char *p;
	size_t len;
	uint64_t value; /* UINT64_MAX for any number at least that large */
};

/* One range-spec, as written. */
struct spec {
	bool suffix;	     /* "-N": count is N */
	bool has_last;	     /* "A-B" rather than "A-" */
	struct digits first; /* not for a suffix */
	struct digits last;  /* when has_last */
	struct digits count; /* for a suffix */
};

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/*
 * Reads the digits at s[*i..n) into d and moves *i past them.  Returns
 * false if there are none.  The value saturates instead of wrapping.
 */
static bool read_digits(const char *s, size_t n, size_t *i, struct digits *d)
{
	d->p = s + *i;
	d->value = 0;
	while (*i < n && is_digit(s[*i])) {
		unsigned int v = (unsigned int)(s[*i] - '0');

		if (d->value > (UINT64_MAX - v) / 10)
			d->value = UINT64_MAX;
		else
			d->value = d->value * 10 + v;
		(*i)++;
	}
	d->len = (size_t)(s + *i - d->p);
	return d->len > 0;
}

/*
 * True when a < b as numbers, exactly, however many digits they have:
 * "99999999999999999999999-99999999999999999999998" is not a range.
 */
static bool digits_less(const struct digits *a, const struct digits *b)
{
	const char *ap = a->p, *bp = b->p;
	size_t alen = a->len, blen = b->len;

	while (alen > 1 && *ap == '0') {
		ap++;
		alen--;
	}
	while (blen > 1 && *bp == '0') {
		bp++;
		blen--;
	}
	if (alen != blen)
		return alen < blen;
	return memcmp(ap, bp, alen) < 0;
}

/* Parses one range-spec s[0..n).  Returns false if it is not valid. */
static bool parse_spec(const char *s, size_t n, struct spec *sp)
{
	size_t i = 0;

	sp->suffix = false;
	sp->has_last = false;
	if (n > 0 && s[0] == '-') {
		i = 1;
		sp->suffix = true;
		return read_digits(s, n, &i, &sp->count) && i == n;
	}
	if (!read_digits(s, n, &i, &sp->first) || i == n || s[i] != '-')
		return false;
	if (++i == n)
		return true;
	sp->has_last = true;
	if (!read_digits(s, n, &i, &sp->last) || i != n)
		return false;
	/* last-pos before first-pos makes the whole field invalid (14.1.1). */
	return !digits_less(&sp->last, &sp->first);
}

/* The bytes of a size-byte file that a valid spec selects (14.1.2). */
static enum range_spec resolve(const struct spec *sp, uint64_t size,
			       struct range *out)
{
	uint64_t last;

	if (sp->suffix) {
		if (sp->count.value == 0)
			return RANGE_SPEC_UNSATISFIABLE;
		out->len = sp->count.value < size ? sp->count.value : size;
		out->first = size - out->len;
		return RANGE_SPEC_ONE;
	}
	if (sp->first.value >= size)
		return RANGE_SPEC_UNSATISFIABLE;
	last = size - 1;
	if (sp->has_last && sp->last.value < last)
		last = sp->last.value;
	out->first = sp->first.value;
	out->len = last - out->first + 1;
	return RANGE_SPEC_ONE;
}

enum range_spec range_parse(const char *value, size_t len, uint64_t size,
			    struct range *out)
{
	static const char unit[] = "bytes=";
	size_t i = sizeof(unit) - 1, count = 0;
	struct spec sp, one = { 0 };

	if (len < i || strncasecmp(value, unit, i) != 0)
		return RANGE_SPEC_INVALID;
	/* #element: [ element ] *( OWS "," OWS [ element ] ), RFC 9110 5.6.1 */
	for (;;) {
		size_t start = i, end;

		while (i < len && value[i] != ',')
			i++;
		end = i;
		while (end > start && is_ows(value[end - 1]))
			end--;
		if (start != sizeof(unit) - 1) /* after a comma */
			while (start < end && is_ows(value[start]))
				start++;
		if (end > start) {
			if (!parse_spec(value + start, end - start, &sp))
				return RANGE_SPEC_INVALID;
			if (count++ == 0)
				one = sp;
		}
		if (i == len)
			break;
		i++; /* the comma */
	}
	if (count == 0)
		return RANGE_SPEC_INVALID;
	if (count > 1)
		return RANGE_SPEC_MULTIPLE;
	return resolve(&one, size, out);
}

bool range_if_range_matches(const struct http_str *value, const char *etag)
{
	size_t n = strlen(etag);

	/*
	 * A strong entity-tag starts with a quote; W/"..." is weak, and
	 * anything else is an HTTP-date: neither is a strong match.
	 */
	if (value->len == 0 || value->p[0] != '"' || etag[0] != '"')
		return false;
	return value->len == n && memcmp(value->p, etag, n) == 0;
}

/* How many fields named name req has; *first is the first, or NULL. */
static size_t count_fields(const struct http_request *req, const char *name,
			   const struct http_str **first)
{
	size_t i, n = 0;

	*first = NULL;
	for (i = 0; i < req->num_headers; i++) {
		if (!http_str_equal_nocase(&req->headers[i].name, name))
			continue;
		if (n++ == 0)
			*first = &req->headers[i].value;
	}
	return n;
}

enum range_answer range_select(const struct http_request *req, const char *etag,
			       uint64_t size, struct range *out)
{
	const struct http_str *range, *if_range;
	struct range r;

	out->first = 0;
	out->len = size;
	/* Only GET (14.2); and an empty file has no part to name. */
	if (req == NULL || req->method != HTTP_GET || size == 0)
		return RANGE_WHOLE;
	if (count_fields(req, "Range", &range) != 1)
		return RANGE_WHOLE;
	switch (count_fields(req, "If-Range", &if_range)) {
	case 0:
		break;
	case 1:
		if (range_if_range_matches(if_range, etag))
			break;
		return RANGE_WHOLE;
	default:
		return RANGE_WHOLE;
	}
	switch (range_parse(range->p, range->len, size, &r)) {
	case RANGE_SPEC_ONE:
		*out = r;
		return RANGE_PARTIAL;
	case RANGE_SPEC_UNSATISFIABLE:
		return RANGE_NOT_SATISFIABLE;
	default:
		return RANGE_WHOLE;
	}
}

enum range_answer range_respond(const struct http_request *req,
				const char *etag, uint64_t size,
				struct response *resp, struct range *out)
{
	enum range_answer a = range_select(req, etag, size, out);

	if (a == RANGE_NOT_SATISFIABLE) {
		resp_error(resp, 416);
		/* Fits: resp_error left no other extra lines. */
		resp_add_header(resp, "Content-Range", "bytes */%llu",
				(unsigned long long)size);
		return a;
	}
	resp_add_lines(resp, ACCEPT_RANGES, sizeof(ACCEPT_RANGES) - 1);
	if (a == RANGE_PARTIAL &&
	    resp_add_header(resp, "Content-Range", "bytes %llu-%llu/%llu",
			    (unsigned long long)out->first,
			    (unsigned long long)(out->first + out->len - 1),
			    (unsigned long long)size) < 0) {
		/* No room to say which part: all of it is still right. */
		out->first = 0;
		out->len = size;
		a = RANGE_WHOLE;
	}
	resp->status = a == RANGE_PARTIAL ? 206 : 200;
	return a;
}
