/*
 * range.h - byte range requests: Range and If-Range (RFC 9110 section 14
 * and 13.1.5), for the static files.
 *
 * What a GET with a Range header gets back:
 *   - one satisfiable range of bytes ("bytes=0-99", "bytes=100-",
 *     "bytes=-100"): 206 Partial Content with Content-Range:
 *     bytes first-last/size, and only those bytes; a last position past
 *     the end is clamped to it, a suffix longer than the file is all of
 *     it;
 *   - a range that starts at or past the end, or a zero-length suffix
 *     ("bytes=-0"): 416 Range Not Satisfiable with
 *     Content-Range: bytes * /size (no space before the slash: in C a
 *     star and a slash would end this comment);
 *   - a header that is not valid ("bytes=5-1", "bytes=x", " bytes=0-1",
 *     more than one Range field) or names another unit ("items=0-1"): the
 *     whole file, 200, as RFC 9110 section 14.2 allows;
 *   - more than one range ("bytes=0-1,5-6"): the whole file, 200.  We do
 *     not build multipart/byteranges bodies (see range.c for why);
 *   - If-Range with the file's ETag (strong comparison): the range as
 *     above; with any other ETag, a weak one, or an HTTP-date: the whole
 *     file, 200.  We do not compare dates: a Last-Modified date is only a
 *     weak validator unless the server can tell the file did not change
 *     twice within that second, which an mtime cannot, and a 200 is
 *     always a correct answer.
 *   - an empty file: 200 whatever the Range says, since no Content-Range
 *     can name a part of nothing.
 *
 * Only GET: RFC 9110 section 14.2 says a server MUST ignore Range on any
 * other method, so HEAD with a Range gets the 200 head of the whole file.
 * Every identity 200 and 206 carries Accept-Ranges: bytes.  The caller
 * answers a 304 before it asks about ranges (If-None-Match and
 * If-Modified-Since come before If-Range, RFC 9110 section 13.2.2).
 *
 * Only the identity file: a body sent with a Content-Encoding (a gzip
 * variant) must not go through range_respond; it is a 200 of all of it.
 *
 * Thread safety: pure functions on what they are given; re-entrant.
 */
#ifndef RANGE_H
#define RANGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http_parser.h"
#include "response.h"

/* A part of a file: len bytes from first.  Content-Range names first..last. */
struct range {
	uint64_t first;
	uint64_t len;
};

/* What range_parse() found in a Range value. */
enum range_spec {
	RANGE_SPEC_INVALID,	  /* bad syntax or not "bytes": ignore it */
	RANGE_SPEC_MULTIPLE,	  /* valid, more than one range: ignore it */
	RANGE_SPEC_ONE,		  /* one satisfiable range, in *out */
	RANGE_SPEC_UNSATISFIABLE, /* one range, none of it in the file */
};

/* What to answer: the status, and which bytes. */
enum range_answer {
	RANGE_WHOLE,	       /* 200 with all of the file */
	RANGE_PARTIAL,	       /* 206 with the range */
	RANGE_NOT_SATISFIABLE, /* 416, no file */
};

/*
 * Parses a Range field value (value[0..len), not NUL-terminated) against
 * a file of size bytes.  The unit "bytes" is matched without regard to
 * case; optional whitespace is allowed around the commas of the list and
 * nowhere else; empty list elements are skipped (RFC 9110 5.6.1).  Numbers
 * of any length are read exactly enough: one too large for 64 bits is a
 * position past any file.  On RANGE_SPEC_ONE, *out is inside the file and
 * has len >= 1, except for a suffix range of an empty file (len 0); *out
 * is not written otherwise.
 */
enum range_spec range_parse(const char *value, size_t len, uint64_t size,
			    struct range *out);

/*
 * True when an If-Range value (trimmed, not NUL-terminated) is a strong
 * match for etag (a quoted strong entity-tag, NUL-terminated): the same
 * bytes, and neither is weak.  An HTTP-date never matches (see above).
 */
bool range_if_range_matches(const struct http_str *value, const char *etag);

/*
 * What to answer req (the file's ETag is etag, its length size) as far as
 * ranges go: RANGE_PARTIAL with *out filled, RANGE_NOT_SATISFIABLE, or
 * RANGE_WHOLE with *out the whole file.  A Range header sent twice is
 * treated as invalid.
 */
enum range_answer range_select(const struct http_request *req, const char *etag,
			       uint64_t size, struct range *out);

/*
 * range_select(), then resp made ready for the answer: status 200 or 206
 * with Accept-Ranges (and Content-Range for a 206) added, or a complete
 * 416 error response with Content-Range: bytes * /size (resp_error drops
 * the file's other header lines; the caller closes or releases what it
 * would have sent).  The caller then sets the body to *out (for 200 and
 * 206).  Returns the answer.  Call it only when the body is the identity
 * file and the request was not answered 304.
 */
enum range_answer range_respond(const struct http_request *req,
				const char *etag, uint64_t size,
				struct response *resp, struct range *out);

#endif /* RANGE_H */
