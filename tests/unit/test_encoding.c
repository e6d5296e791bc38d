/*
 * test_encoding.c - Accept-Encoding negotiation (RFC 9110 section
 * 12.5.3), the compressible types, the variant ETag, and gzip output that
 * zlib decodes back to the input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "compat.h"
#include "encoding.h"
#include "http_parser.h"

/* The choice for one field value (NULL: no field at all). */
static enum enc_coding choose(const char *value)
{
	struct enc_accept a;

	enc_accept_init(&a);
	if (value != NULL)
		enc_accept_parse(&a, value, strlen(value));
	return enc_choose(&a, true);
}

static void parse(struct enc_accept *a, const char *value)
{
	enc_accept_init(a);
	enc_accept_parse(a, value, strlen(value));
}

static void test_choice_table(void **state)
{
	static const struct {
		const char *value; /* NULL: no Accept-Encoding field */
		enum enc_coding want;
	} cases[] = {
		{ NULL, ENC_IDENTITY },
		{ "", ENC_IDENTITY },
		{ "gzip", ENC_GZIP },
		{ "GZip", ENC_GZIP },
		{ "x-gzip", ENC_GZIP },
		{ "X-GZIP", ENC_GZIP },
		{ "gzip, deflate, br", ENC_GZIP },
		{ "br, deflate", ENC_IDENTITY },
		{ "*", ENC_GZIP },
		{ "*;q=0", ENC_IDENTITY },
		{ "*;q=0, gzip", ENC_GZIP },
		{ "gzip;q=0", ENC_IDENTITY },
		{ "gzip;q=0.000", ENC_IDENTITY },
		{ "gzip;q=0.001", ENC_GZIP },
		{ "gzip;Q=0.5", ENC_GZIP },
		{ "gzip;q=1", ENC_GZIP },
		{ "gzip;q=1.000", ENC_GZIP },
		{ "gzip;q=0, *", ENC_IDENTITY },
		{ "*, gzip;q=0", ENC_IDENTITY },
		{ "gzip;q=0.5, identity", ENC_IDENTITY },
		{ "gzip;q=0.5, identity;q=0.5", ENC_GZIP },
		{ "gzip;q=0.5, identity;q=0.4", ENC_GZIP },
		{ "gzip;q=0.5, *;q=0.9", ENC_IDENTITY },
		{ "identity;q=0", ENC_IDENTITY }, /* refused, sent anyway */
		{ "identity;q=0, gzip;q=0.1", ENC_GZIP },
		{ "identity", ENC_IDENTITY },
		/* Whitespace where RFC 9110 allows it (OWS), empty members. */
		{ "  gzip  ", ENC_GZIP },
		{ "\tgzip\t;\tq=0.8 ,identity;q=0.7", ENC_GZIP },
		{ "gzip ; q=0", ENC_IDENTITY },
		{ ",,, gzip ,,", ENC_GZIP },
		{ ",", ENC_IDENTITY },
		/* Malformed weights: the member is ignored as if absent. */
		{ "gzip;q=abc", ENC_IDENTITY },
		{ "gzip;q=1.5", ENC_IDENTITY },
		{ "gzip;q=2", ENC_IDENTITY },
		{ "gzip;q=0.1234", ENC_IDENTITY },
		{ "gzip;q=1.001", ENC_IDENTITY },
		{ "gzip;q=", ENC_IDENTITY },
		{ "gzip;q = 0.5", ENC_IDENTITY },
		{ "gzip;q=-1", ENC_IDENTITY },
		{ "gzip;q=.5", ENC_IDENTITY },
		{ "gzip;level=9", ENC_IDENTITY },
		{ "gzip;", ENC_IDENTITY },
		{ "gzip q=0.5", ENC_IDENTITY },
		{ "gzip;q=abc, *", ENC_GZIP },	     /* * still names it */
		{ "*;q=0, gzip;q=x", ENC_IDENTITY }, /* * still refuses it */
		/* Names that only start or end like ours. */
		{ "gzipx", ENC_IDENTITY },
		{ "xgzip", ENC_IDENTITY },
		{ "gzi", ENC_IDENTITY },
		/* A coding named twice: the lower weight. */
		{ "gzip, gzip;q=0", ENC_IDENTITY },
		{ "gzip;q=0, x-gzip", ENC_IDENTITY },
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		enum enc_coding got = choose(cases[i].value);

		if (got != cases[i].want)
			fail_msg("Accept-Encoding \"%s\": got %s, expected %s",
				 cases[i].value ? cases[i].value : "(none)",
				 got == ENC_GZIP ? "gzip" : "identity",
				 cases[i].want == ENC_GZIP ? "gzip"
							   : "identity");
	}
}

static void test_weights(void **state)
{
	struct enc_accept a;

	(void)state;
	enc_accept_init(&a);
	assert_false(a.present);
	assert_int_equal(enc_accept_q(&a, ENC_GZIP), 0);
	assert_int_equal(enc_accept_q(&a, ENC_IDENTITY), ENC_Q_MAX);

	parse(&a, "gzip;q=0.25, identity;q=0.125");
	assert_true(a.present);
	assert_int_equal(enc_accept_q(&a, ENC_GZIP), 250);
	assert_int_equal(enc_accept_q(&a, ENC_IDENTITY), 125);

	/* "*" stands for each coding not named; identity is 1 by default. */
	parse(&a, "*;q=0.5");
	assert_int_equal(enc_accept_q(&a, ENC_GZIP), 500);
	assert_int_equal(enc_accept_q(&a, ENC_IDENTITY), 500);
	parse(&a, "br");
	assert_int_equal(enc_accept_q(&a, ENC_IDENTITY), ENC_Q_MAX);

	/* Refusals: the weight says so, the choice sends identity anyway. */
	parse(&a, "*;q=0");
	assert_int_equal(enc_accept_q(&a, ENC_IDENTITY), 0);
	assert_int_equal(enc_accept_q(&a, ENC_GZIP), 0);
	parse(&a, "*;q=0, identity;q=0.2");
	assert_int_equal(enc_accept_q(&a, ENC_IDENTITY), 200);
	parse(&a, "identity;q=0");
	assert_int_equal(enc_accept_q(&a, ENC_IDENTITY), 0);
	assert_int_equal(enc_choose(&a, true), ENC_IDENTITY);

	/* Several digits. */
	parse(&a, "gzip;q=0.9");
	assert_int_equal(enc_accept_q(&a, ENC_GZIP), 900);
	parse(&a, "gzip;q=0.09");
	assert_int_equal(enc_accept_q(&a, ENC_GZIP), 90);
	parse(&a, "gzip;q=0.");
	assert_int_equal(enc_accept_q(&a, ENC_GZIP), 0);
	assert_int_equal(a.gzip, 0);
	parse(&a, "gzip;q=1.");
	assert_int_equal(a.gzip, ENC_Q_MAX);
}

/* No gzip variant: identity, whatever the client says. */
static void test_no_variant_means_identity(void **state)
{
	struct enc_accept a;

	(void)state;
	parse(&a, "gzip");
	assert_int_equal(enc_choose(&a, false), ENC_IDENTITY);
	parse(&a, "identity;q=0");
	assert_int_equal(enc_choose(&a, false), ENC_IDENTITY);
}

/* Several fields add up, as one comma-separated list would. */
static void test_from_request(void **state)
{
	static char req_text[] = "GET / HTTP/1.1\r\n"
				 "Host: x\r\n"
				 "accept-encoding: br\r\n"
				 "Accept-Encoding: gzip;q=0.3\r\n"
				 "ACCEPT-ENCODING: identity;q=0.2\r\n"
				 "\r\n";
	struct http_request req;
	struct http_limits lim;
	struct enc_accept a;

	(void)state;
	http_limits_init(&lim);
	assert_int_equal(http_parse_request(req_text, sizeof(req_text) - 1,
					    &lim, &req, NULL),
			 (ssize_t)sizeof(req_text) - 1);
	enc_accept_from_request(&a, &req);
	assert_true(a.present);
	assert_int_equal(a.gzip, 300);
	assert_int_equal(a.identity, 200);
	assert_int_equal(enc_choose(&a, true), ENC_GZIP);
}

/* A value that is not NUL-terminated: the parse stops at len. */
static void test_parse_stops_at_len(void **state)
{
	struct enc_accept a;

	(void)state;
	enc_accept_init(&a);
	enc_accept_parse(&a, "gzip;q=0.5XXXX", 10);
	assert_int_equal(a.gzip, 500);
	enc_accept_init(&a);
	enc_accept_parse(&a, "gzip", 3); /* "gzi" */
	assert_int_equal(a.gzip, -1);
}

static void test_compressible(void **state)
{
	static const char *const yes[] = {
		"text/html; charset=utf-8",
		"text/css; charset=utf-8",
		"text/plain",
		"TEXT/CSV",
		"text/javascript; charset=utf-8",
		"application/json",
		"application/javascript",
		"application/xml",
		"image/svg+xml",
		"application/wasm",
	};
	static const char *const no[] = {
		"image/png",
		"image/jpeg",
		"application/gzip",
		"application/zip",
		"font/woff2",
		"video/mp4",
		"application/octet-stream",
		"text/",
		"application/jsonx",
		"",
	};
	size_t i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(yes); i++)
		if (!enc_is_compressible(yes[i]))
			fail_msg("%s: expected compressible", yes[i]);
	for (i = 0; i < ARRAY_SIZE(no); i++)
		if (enc_is_compressible(no[i]))
			fail_msg("%s: expected not compressible", no[i]);
	assert_false(enc_is_compressible(NULL));
}

static void test_variant_etag(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(enc_variant_etag("\"1a-5f\"", out, sizeof(out)), 0);
	assert_string_equal(out, "\"1a-5f-gzip\"");
	/* Exactly fits: 7 + 5 bytes and the NUL. */
	assert_int_equal(enc_variant_etag("\"1a-5f\"", out, 13), 0);
	assert_string_equal(out, "\"1a-5f-gzip\"");
	assert_int_equal(enc_variant_etag("\"1a-5f\"", out, 12), -1);
	assert_int_equal(enc_variant_etag("1a-5f", out, sizeof(out)), -1);
	assert_int_equal(enc_variant_etag("\"", out, sizeof(out)), -1);
}

/* Inflates a gzip member into out (at most outsz); returns its length. */
static size_t gunzip(const char *z, size_t zlen, char *out, size_t outsz)
{
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	assert_int_equal(inflateInit2(&zs, 15 + 16), Z_OK);
	zs.next_in = (Bytef *)z;
	zs.avail_in = (uInt)zlen;
	zs.next_out = (Bytef *)out;
	zs.avail_out = (uInt)outsz;
	assert_int_equal(inflate(&zs, Z_FINISH), Z_STREAM_END);
	assert_int_equal(zs.avail_in, 0); /* one member, nothing after */
	inflateEnd(&zs);
	return zs.total_out;
}

static void test_gzip_round_trip(void **state)
{
	enum { LEN = 16 * 1024 };
	char *src = malloc(LEN), *back = malloc(LEN + 1), *z, *z2;
	size_t i, zlen, z2len;

	(void)state;
	assert_non_null(src);
	assert_non_null(back);
	for (i = 0; i < LEN; i++)
		src[i] = "<p>lorem ipsum dolor sit amet</p>\n"[i % 34];
	assert_int_equal(enc_gzip(src, LEN, &z, &zlen), 0);
	assert_true(zlen < LEN / 10);
	/* A gzip member: the magic bytes, deflate, no file name. */
	assert_int_equal((unsigned char)z[0], 0x1f);
	assert_int_equal((unsigned char)z[1], 0x8b);
	assert_int_equal(z[2], 8);
	assert_int_equal(z[3], 0);
	assert_int_equal(gunzip(z, zlen, back, LEN + 1), LEN);
	assert_memory_equal(back, src, LEN);
	/* The same input, the same bytes: no time stamp in the header. */
	assert_int_equal(enc_gzip(src, LEN, &z2, &z2len), 0);
	assert_int_equal(z2len, zlen);
	assert_memory_equal(z2, z, zlen);
	free(z2);
	free(z);
	/* Empty input is a valid (empty) member. */
	assert_int_equal(enc_gzip("", 0, &z, &zlen), 0);
	assert_int_equal(gunzip(z, zlen, back, LEN + 1), 0);
	free(z);
	free(back);
	free(src);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_choice_table),
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_no_variant_means_identity),
		cmocka_unit_test(test_from_request),
		cmocka_unit_test(test_parse_stops_at_len),
		cmocka_unit_test(test_compressible),
		cmocka_unit_test(test_variant_etag),
		cmocka_unit_test(test_gzip_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
