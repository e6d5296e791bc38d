/*
 * encoding.c - Accept-Encoding negotiation and gzip: see encoding.h.
 *
 * The list grammar (RFC 9110 sections 5.6.1 and 12.5.3):
 *
 *   Accept-Encoding = #( codings [ weight ] )
 *   codings         = content-coding / "identity" / "*"
 *   weight          = OWS ";" OWS "q=" qvalue
 *   qvalue          = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
 */
#include "encoding.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "compat.h"

void enc_accept_init(struct enc_accept *a)
{
	a->present = false;
	a->gzip = -1;
	a->identity = -1;
	a->star = -1;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* A token character (RFC 9110 section 5.6.2). */
static bool is_tchar(char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The qvalue [p, end) in thousandths, or -1 if it is not one. */
static int parse_qvalue(const char *p, const char *end)
{
	int q, scale = 100, digits = 0;

	if (p == end || (*p != '0' && *p != '1'))
		return -1;
	q = *p++ == '1' ? ENC_Q_MAX : 0;
	if (p == end)
		return q;
	if (*p++ != '.')
		return -1;
	for (; p < end && digits < 3; p++, digits++, scale /= 10) {
		if (*p < '0' || *p > '9')
			return -1;
		q += (*p - '0') * scale;
	}
	/* Trailing bytes, a fourth digit, or "1.5". */
	if (p != end || q > ENC_Q_MAX)
		return -1;
	return q;
}

/*
 * The weight in what follows a member's coding, [p, end): 1000 when
 * nothing does, -1 if it is not one weight.
 */
static int member_weight(const char *p, const char *end)
{
	while (p < end && is_ows(*p))
		p++;
	if (p == end)
		return ENC_Q_MAX;
	if (*p++ != ';')
		return -1;
	while (p < end && is_ows(*p))
		p++;
	if (end - p < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
		return -1;
	return parse_qvalue(p + 2, end);
}

static bool name_is(const char *p, size_t len, const char *name)
{
	return len == strlen(name) && strncasecmp(p, name, len) == 0;
}

/* Records q for *slot: the lower weight wins when a coding repeats. */
static void record(int *slot, int q)
{
	if (*slot < 0 || q < *slot)
		*slot = q;
}

/* One list member [p, end), whitespace trimmed. */
static void parse_member(struct enc_accept *a, const char *p, const char *end)
{
	const char *name = p;
	size_t len;
	int q;

	while (p < end && is_tchar(*p))
		p++;
	len = (size_t)(p - name);
	if (len == 0)
		return;
	q = member_weight(p, end);
	if (q < 0)
		return;
	if (name_is(name, len, "gzip") || name_is(name, len, "x-gzip"))
		record(&a->gzip, q);
	else if (name_is(name, len, "identity"))
		record(&a->identity, q);
	else if (name_is(name, len, "*"))
		record(&a->star, q);
}

void enc_accept_parse(struct enc_accept *a, const char *value, size_t len)
{
	const char *p = value, *end = value + len;

	a->present = true;
	while (p < end) {
		const char *m, *m_end;

		while (p < end && (is_ows(*p) || *p == ','))
			p++;
		m = p;
		while (p < end && *p != ',')
			p++;
		m_end = p;
		while (m_end > m && is_ows(m_end[-1]))
			m_end--;
		if (m_end > m)
			parse_member(a, m, m_end);
	}
}

void enc_accept_from_request(struct enc_accept *a,
			     const struct http_request *req)
{
	size_t i;

	enc_accept_init(a);
	for (i = 0; i < req->num_headers; i++) {
		const struct http_header *h = &req->headers[i];

		if (name_is(h->name.p, h->name.len, "Accept-Encoding"))
			enc_accept_parse(a, h->value.p, h->value.len);
	}
}

int enc_accept_q(const struct enc_accept *a, enum enc_coding coding)
{
	if (coding == ENC_GZIP) {
		if (a->gzip >= 0)
			return a->gzip;
		return a->star >= 0 ? a->star : 0;
	}
	if (a->identity >= 0)
		return a->identity;
	return a->star >= 0 ? a->star : ENC_Q_MAX;
}

enum enc_coding enc_choose(const struct enc_accept *a, bool gzip_available)
{
	int gzip, identity;

	if (!gzip_available || !a->present)
		return ENC_IDENTITY;
	gzip = enc_accept_q(a, ENC_GZIP);
	/* Identity not named, by itself or by "*": nothing to outbid. */
	if (a->identity < 0 && a->star < 0)
		identity = 0;
	else
		identity = enc_accept_q(a, ENC_IDENTITY);
	if (gzip > 0 && gzip >= identity)
		return ENC_GZIP;
	/* Identity, even if refused: see the top of encoding.h. */
	return ENC_IDENTITY;
}

bool enc_is_compressible(const char *content_type)
{
	static const char *const types[] = {
		"application/json",	     "application/javascript",
		"application/xml",	     "application/wasm",
		"application/manifest+json", "image/svg+xml",
	};
	size_t i, len;

	if (content_type == NULL)
		return false;
	len = strcspn(content_type, "; \t");
	if (len > 5 && strncasecmp(content_type, "text/", 5) == 0)
		return true;
	for (i = 0; i < ARRAY_SIZE(types); i++)
		if (name_is(content_type, len, types[i]))
			return true;
	return false;
}

/*
 * windowBits + 16: a gzip wrapper, not zlib's.  zlib's default window is
 * 32 KiB (15) and memLevel 8; an input of at most 16 KiB, all the file
 * cache holds, needs no more than a 16 KiB window, and with memLevel 7
 * deflateInit2 allocates 128 KiB instead of 256 and clears a hash table of
 * 32 KiB instead of 64.  Measured in a fresh child (what 02 is): 30 page
 * faults instead of 38 for a 1 KiB page, 43 instead of 53 for 16 KiB, and
 * the output as long or one byte longer.  Any inflater takes it: the window
 * a stream needs is in its header, and smaller is always accepted.
 */
#define GZIP_SMALL_MAX (16 * 1024)
#define GZIP_WINDOW_BITS(len) (((len) <= GZIP_SMALL_MAX ? 14 : 15) + 16)
#define GZIP_MEM_LEVEL(len) ((len) <= GZIP_SMALL_MAX ? 7 : 8)

int enc_gzip(const void *src, size_t len, char **out, size_t *out_len)
{
	z_stream zs;
	uLong bound;
	char *buf;
	int rc;

	memset(&zs, 0, sizeof(zs));
	if (len > (size_t)UINT32_MAX / 2) {
		errno = EFBIG;
		return -1;
	}
	if (deflateInit2(&zs, ENC_GZIP_LEVEL, Z_DEFLATED, GZIP_WINDOW_BITS(len),
			 GZIP_MEM_LEVEL(len), Z_DEFAULT_STRATEGY) != Z_OK) {
		errno = ENOMEM;
		return -1;
	}
	/* deflateBound covers the wrapper: one deflate() call finishes. */
	bound = deflateBound(&zs, (uLong)len);
	buf = malloc(bound);
	if (buf == NULL)
		goto out_end;
	zs.next_in = (Bytef *)src;
	zs.avail_in = (uInt)len;
	zs.next_out = (Bytef *)buf;
	zs.avail_out = (uInt)bound;
	rc = deflate(&zs, Z_FINISH);
	if (rc != Z_STREAM_END) {
		free(buf);
		goto out_end;
	}
	*out = buf;
	*out_len = zs.total_out;
	deflateEnd(&zs);
	return 0;

out_end:
	deflateEnd(&zs);
	errno = ENOMEM;
	return -1;
}

int enc_variant_etag(const char *etag, char *out, size_t outsz)
{
	size_t len = strlen(etag);
	size_t need = len + sizeof(ENC_GZIP_ETAG_SUFFIX) - 1 + 1;

	if (len < 2 || etag[0] != '"' || etag[len - 1] != '"' || need > outsz)
		return -1;
	memcpy(out, etag, len - 1);
	memcpy(out + len - 1, ENC_GZIP_ETAG_SUFFIX "\"",
	       sizeof(ENC_GZIP_ETAG_SUFFIX "\""));
	return 0;
}
