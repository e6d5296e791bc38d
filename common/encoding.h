/*
 * encoding.h - content codings: which one a request accepts, which types
 * are worth compressing, and gzip itself (zlib).
 *
 * Negotiation (RFC 9110 section 12.5.3).  Accept-Encoding is a list of
 * codings, each with an optional weight ";q=" from 0 to 1 (three
 * decimals); q=0 means "not acceptable".  The server can send two
 * codings, gzip and identity (the bytes as they are), so the parse keeps
 * only what the list says of those: "gzip" (and "x-gzip", its old name,
 * RFC 9110 section 8.4.1.3), "identity" and "*" (every coding not named).
 * Coding names and "q" are case-insensitive; whitespace around ',' and
 * ';' is allowed, empty list members are skipped.  A member that does not
 * parse (an unknown parameter, "q=1.5", "q=abc", "q = 1") is ignored as if
 * absent: we never send what a malformed list might have refused.  A
 * coding named twice gets the lower weight, for the same reason.
 *
 * The choice (enc_choose):
 *   - no Accept-Encoding field at all: identity.  RFC 9110 would allow any
 *     coding, but a client that says nothing may not decode one (curl
 *     without --compressed), and every server we know sends identity;
 *   - gzip when its weight is above 0 and at least the weight the list
 *     gives identity, by name or through "*" (at equal weights the
 *     smaller body wins).  Identity not named at all is acceptable but
 *     has no weight to outbid gzip: "gzip;q=0.5" means gzip;
 *   - else identity, even when the list refuses it ("identity;q=0",
 *     "*;q=0"): RFC 9110 section 12.1 lets a server disregard proactive
 *     negotiation rather than answer 406, and a 406 error page is no more
 *     acceptable to that client than the file (nginx and Apache do the
 *     same).  enc_accept_q() still says identity's weight was 0.
 *
 * Thread safety: every function is re-entrant; enc_gzip allocates.
 */
#ifndef ENCODING_H
#define ENCODING_H

#include <stdbool.h>
#include <stddef.h>

#include "http_parser.h"

/* A weight in thousandths: 1000 is q=1, 0 is "not acceptable". */
#define ENC_Q_MAX 1000

/*
 * Bodies smaller than this are sent as they are, compressible or not:
 * the response head is about 450 bytes, so a body of up to 1 KiB fits
 * one 1460-byte segment either way, and gzip would save no packet
 * (docs/06_epoll_async.md, Compression).
 */
#define ENC_GZIP_MIN 1024

/*
 * The largest body compressed on the fly.  The file cache holds files up
 * to FILE_CACHE_BODY_MAX (16 KiB), and only those are compressed; this
 * bound stays even if that one is raised, so that no event loop ever
 * compresses for long (16 KiB take about 0.5 ms here, 64 KiB about 1 ms).
 * A bigger file is sent compressed only from a .gz beside it.
 */
#define ENC_GZIP_MAX (64 * 1024)

/*
 * zlib's level: 6, its default.  Once per file version the cost hardly
 * matters, but a loop pays it, and 9 saved about 1% more on www/ for
 * about twice the time.
 */
#define ENC_GZIP_LEVEL 6

/* What goes after the identity ETag's opaque-tag for the gzip variant. */
#define ENC_GZIP_ETAG_SUFFIX "-gzip"

enum enc_coding {
	ENC_IDENTITY,
	ENC_GZIP,
};

/*
 * What a request's Accept-Encoding fields say of the codings we have.
 * Weights in thousandths; -1: the list does not name it.
 */
struct enc_accept {
	bool present; /* at least one Accept-Encoding field was sent */
	int gzip;     /* "gzip" or "x-gzip" */
	int identity; /* "identity" */
	int star;     /* "*" */
};

/* Sets a to "no field seen". */
void enc_accept_init(struct enc_accept *a);

/*
 * Adds one Accept-Encoding field value (len bytes at value, not
 * NUL-terminated) to a.  Several fields add up, as one list would
 * (RFC 9110 section 5.3).  Never fails: what does not parse is skipped.
 */
void enc_accept_parse(struct enc_accept *a, const char *value, size_t len);

/* enc_accept_init, then enc_accept_parse of every such field of req. */
void enc_accept_from_request(struct enc_accept *a,
			     const struct http_request *req);

/*
 * The weight a gives coding: its own, else "*"'s, else the default (gzip
 * 0 without a field, identity always 1000 unless refused).
 */
int enc_accept_q(const struct enc_accept *a, enum enc_coding coding);

/*
 * The coding to send, given whether a gzip variant exists (see the top
 * of the file).  Never fails: the answer is identity when nothing else
 * fits.
 */
enum enc_coding enc_choose(const struct enc_accept *a, bool gzip_available);

/*
 * True when a body of content_type (a MIME type, parameters allowed) is
 * worth compressing: every text/ type, JSON, JavaScript, XML, SVG,
 * WebAssembly.
 * Images, audio, video, fonts and archives are compressed already.
 * NULL is false.
 */
bool enc_is_compressible(const char *content_type);

/*
 * Compresses len bytes at src as one gzip member (RFC 1952, no name, no
 * time: the same input gives the same bytes) at ENC_GZIP_LEVEL.  On
 * success *out is a malloc'd buffer of *out_len bytes that the caller
 * frees; returns 0, or -1 with errno set (ENOMEM).
 */
int enc_gzip(const void *src, size_t len, char **out, size_t *out_len);

/*
 * Writes the gzip variant's ETag of etag into out: the opaque-tag with
 * ENC_GZIP_ETAG_SUFFIX inside the quotes ("1a-5f" becomes "1a-5f-gzip"),
 * so a cache can tell the variants apart (RFC 9110 section 8.8.3.3).
 * Returns 0, or -1 if it does not fit or etag is not a quoted string.
 */
int enc_variant_etag(const char *etag, char *out, size_t outsz);

#endif /* ENCODING_H */
