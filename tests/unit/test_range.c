/*
 * test_range.c - Range and If-Range (range.h): every form of a byte range,
 * clamping, what is unsatisfiable, numbers too long for 64 bits, where
 * whitespace may go, what is invalid, several ranges, If-Range, and the
 * headers range_respond() adds.
 *
 * Each Range value is parsed from a heap copy of exactly its length, so
 * a read past its end is an AddressSanitizer error in make asan.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"
#include "range.h"
#include "response.h"

#define SIZE 1000 /* the file the tests ask about, unless they say */
#define ETAG "\"3e8-5f5e100\""

/* range_parse of the C string s, from a copy without a NUL after it. */
static enum range_spec parse(const char *s, uint64_t size, struct range *r)
{
	size_t n = strlen(s);
	char *copy = malloc(n ? n : 1);
	enum range_spec spec;

	assert_non_null(copy);
	memcpy(copy, s, n);
	spec = range_parse(copy, n, size, r);
	free(copy);
	return spec;
}

/* Fails unless s selects exactly [first, first + len) of a size file. */
static void expect_one(const char *s, uint64_t size, uint64_t first,
		       uint64_t len)
{
	struct range r = { 12345, 12345 };
	enum range_spec spec = parse(s, size, &r);

	if (spec != RANGE_SPEC_ONE || r.first != first || r.len != len)
		fail_msg("\"%s\" of %llu bytes: spec %d, %llu+%llu; expected "
			 "one range %llu+%llu",
			 s, (unsigned long long)size, (int)spec,
			 (unsigned long long)r.first, (unsigned long long)r.len,
			 (unsigned long long)first, (unsigned long long)len);
}

static void expect_spec(const char *s, uint64_t size, enum range_spec want)
{
	struct range r = { 12345, 12345 };
	enum range_spec spec = parse(s, size, &r);

	if (spec != want)
		fail_msg("\"%s\" of %llu bytes: spec %d, expected %d", s,
			 (unsigned long long)size, (int)spec, (int)want);
	/* Only a satisfiable range writes *out. */
	if (want != RANGE_SPEC_ONE && (r.first != 12345 || r.len != 12345))
		fail_msg("\"%s\": wrote the range", s);
}

/* RFC 9110 section 14.1.2: first-last, first-, -suffix. */
static void test_forms(void **state)
{
	(void)state;
	expect_one("bytes=0-499", SIZE, 0, 500);
	expect_one("bytes=500-999", SIZE, 500, 500);
	expect_one("bytes=0-0", SIZE, 0, 1);
	expect_one("bytes=999-999", SIZE, 999, 1);
	expect_one("bytes=900-", SIZE, 900, 100);
	expect_one("bytes=0-", SIZE, 0, SIZE);
	expect_one("bytes=-1", SIZE, 999, 1);
	expect_one("bytes=-100", SIZE, 900, 100);
	/* The unit is case-insensitive (14.1); leading zeros are digits. */
	expect_one("Bytes=1-2", SIZE, 1, 2);
	expect_one("BYTES=-3", SIZE, 997, 3);
	expect_one("bytes=007-0010", SIZE, 7, 4);
}

/* A last-pos past the end is clamped; a longer suffix is all of it. */
static void test_clamps(void **state)
{
	(void)state;
	expect_one("bytes=0-1000", SIZE, 0, SIZE);
	expect_one("bytes=990-5000", SIZE, 990, 10);
	expect_one("bytes=-1000", SIZE, 0, SIZE);
	expect_one("bytes=-1001", SIZE, 0, SIZE);
	expect_one("bytes=-5", 3, 0, 3);
}

/* 14.1.1: first-pos at or past the end, or a zero suffix. */
static void test_unsatisfiable(void **state)
{
	(void)state;
	expect_spec("bytes=1000-", SIZE, RANGE_SPEC_UNSATISFIABLE);
	expect_spec("bytes=1000-1000", SIZE, RANGE_SPEC_UNSATISFIABLE);
	expect_spec("bytes=5000-6000", SIZE, RANGE_SPEC_UNSATISFIABLE);
	expect_spec("bytes=-0", SIZE, RANGE_SPEC_UNSATISFIABLE);
	expect_spec("bytes=-000", SIZE, RANGE_SPEC_UNSATISFIABLE);
	/* An empty file: no first-pos is in it; a suffix selects nothing. */
	expect_spec("bytes=0-", 0, RANGE_SPEC_UNSATISFIABLE);
	expect_spec("bytes=0-0", 0, RANGE_SPEC_UNSATISFIABLE);
	expect_one("bytes=-5", 0, 0, 0);
}

/* Numbers longer than 64 bits are read exactly enough, never wrapped. */
static void test_overflow(void **state)
{
	(void)state;
	expect_one("bytes=0-18446744073709551615", SIZE, 0, SIZE);
	expect_one("bytes=0-18446744073709551616", SIZE, 0, SIZE);
	expect_one("bytes=0-99999999999999999999999999999", SIZE, 0, SIZE);
	expect_one("bytes=-99999999999999999999999999999", SIZE, 0, SIZE);
	/* 2^64 + 5 would wrap to 5. */
	expect_spec("bytes=18446744073709551621-", SIZE,
		    RANGE_SPEC_UNSATISFIABLE);
	expect_spec("bytes=18446744073709551615-", UINT64_MAX,
		    RANGE_SPEC_UNSATISFIABLE);
	expect_one("bytes=18446744073709551614-", UINT64_MAX, UINT64_MAX - 1,
		   1);
	/* last < first, though both saturate: invalid, not unsatisfiable. */
	expect_spec("bytes=99999999999999999999999-99999999999999999999998",
		    SIZE, RANGE_SPEC_INVALID);
	expect_spec("bytes=99999999999999999999998-99999999999999999999999",
		    SIZE, RANGE_SPEC_UNSATISFIABLE);
	expect_spec("bytes=00000000000000000000000000005-4", SIZE,
		    RANGE_SPEC_INVALID);
}

/* OWS only around the commas of the list (RFC 9110 5.6.1). */
static void test_whitespace(void **state)
{
	(void)state;
	expect_spec("bytes=0-1 , 5-6", SIZE, RANGE_SPEC_MULTIPLE);
	expect_spec("bytes=0-1\t,\t5-6", SIZE, RANGE_SPEC_MULTIPLE);
	expect_one("bytes=0-1 ,", SIZE, 0, 2);
	expect_one("bytes=0-1, ", SIZE, 0, 2);
	expect_one("bytes= ,0-1", SIZE, 0, 2);
	/* Nowhere else: not around '=', not inside a range. */
	expect_spec("bytes= 0-1", SIZE, RANGE_SPEC_INVALID);
	expect_spec("bytes =0-1", SIZE, RANGE_SPEC_INVALID);
	expect_spec(" bytes=0-1", SIZE, RANGE_SPEC_INVALID);
	expect_spec("bytes=0 -1", SIZE, RANGE_SPEC_INVALID);
	expect_spec("bytes=0- 1", SIZE, RANGE_SPEC_INVALID);
	expect_spec("bytes=- 1", SIZE, RANGE_SPEC_INVALID);
	expect_spec("bytes=\t0-1", SIZE, RANGE_SPEC_INVALID);
}

/* Anything else is invalid, and so ignored by the caller (14.2). */
static void test_bad_syntax(void **state)
{
	static const char *const bad[] = {
		"",
		"bytes",
		"bytes=",
		"bytes=,",
		"bytes=, ,",
		"bytes=-",
		"bytes=--1",
		"bytes=1",
		"bytes=1-2-3",
		"bytes=5-1",
		"bytes=a-b",
		"bytes=+1-2",
		"bytes=0x1-2",
		"bytes=1-0x2",
		"bytes=0-1;",
		"bytes=0-1,x",
		"bytes=0-1,5-3",
		"bytes 0-1",
		"bytes:0-1",
		"bytesx=0-1",
		"items=0-1",
		"none",
		"=0-1",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_spec(bad[i], SIZE, RANGE_SPEC_INVALID);
}

/* Several valid ranges, satisfiable or not: RANGE_SPEC_MULTIPLE. */
static void test_multiple(void **state)
{
	(void)state;
	expect_spec("bytes=0-1,5-6", SIZE, RANGE_SPEC_MULTIPLE);
	expect_spec("bytes=0-1,-5", SIZE, RANGE_SPEC_MULTIPLE);
	expect_spec("bytes=0-,0-,0-,0-", SIZE, RANGE_SPEC_MULTIPLE);
	expect_spec("bytes=0-1,5000-6000", SIZE, RANGE_SPEC_MULTIPLE);
	expect_spec("bytes=5000-,6000-", SIZE, RANGE_SPEC_MULTIPLE);
}

/* The value is a view: bytes past len are not part of it. */
static void test_value_is_a_view(void **state)
{
	struct range r;

	(void)state;
	assert_int_equal(range_parse("bytes=0-12", 9, SIZE, &r),
			 RANGE_SPEC_ONE);
	assert_int_equal(r.first, 0);
	assert_int_equal(r.len, 2);
	assert_int_equal(range_parse("bytes=0-1,5-6", 9, SIZE, &r),
			 RANGE_SPEC_ONE);
	assert_int_equal(range_parse("bytes=0-1", 5, SIZE, &r),
			 RANGE_SPEC_INVALID);
}

static bool if_range(const char *value, const char *etag)
{
	struct http_str v = { value, strlen(value) };

	return range_if_range_matches(&v, etag);
}

/* 13.1.5: a strong match of the ETag, and nothing else. */
static void test_if_range_matches(void **state)
{
	(void)state;
	assert_true(if_range(ETAG, ETAG));
	assert_false(if_range("\"3e8-5f5e101\"", ETAG));
	assert_false(if_range("\"3e8-5f5e100", ETAG));
	assert_false(if_range("\"3e8-5f5e100\"x", ETAG));
	assert_false(if_range("W/" ETAG, ETAG)); /* weak: never strong */
	assert_false(if_range(ETAG, "W/" ETAG));
	assert_false(if_range("", ETAG));
	assert_false(if_range("*", ETAG));
	/* An HTTP-date: we do not compare dates (range.h says why). */
	assert_false(if_range("Wed, 01 Jan 2020 00:00:00 GMT", ETAG));
}

/* A parsed request, with extra header lines. */
struct req {
	char buf[1024];
	struct http_request r;
};

static const struct http_request *make_req(struct req *q, const char *method,
					   const char *headers)
{
	struct http_limits lim;
	int n;

	n = snprintf(q->buf, sizeof(q->buf),
		     "%s /f HTTP/1.1\r\nHost: x\r\n%s\r\n", method, headers);
	http_limits_init(&lim);
	assert_int_equal(
		http_parse_request(q->buf, (size_t)n, &lim, &q->r, NULL), n);
	return &q->r;
}

static enum range_answer select_for(const char *method, const char *headers,
				    uint64_t size, struct range *r)
{
	struct req q;

	return range_select(make_req(&q, method, headers), ETAG, size, r);
}

/* Which requests get a part, and which the whole file. */
static void test_select(void **state)
{
	struct range r;

	(void)state;
	assert_int_equal(select_for("GET", "Range: bytes=10-19\r\n", SIZE, &r),
			 RANGE_PARTIAL);
	assert_int_equal(r.first, 10);
	assert_int_equal(r.len, 10);
	assert_int_equal(select_for("GET", "", SIZE, &r), RANGE_WHOLE);
	assert_int_equal(r.first, 0);
	assert_int_equal(r.len, SIZE);
	assert_int_equal(select_for("GET", "Range: bytes=1000-\r\n", SIZE, &r),
			 RANGE_NOT_SATISFIABLE);
	/* Ignored: invalid, several ranges, another unit. */
	assert_int_equal(select_for("GET", "Range: bytes=9-1\r\n", SIZE, &r),
			 RANGE_WHOLE);
	assert_int_equal(r.len, SIZE);
	assert_int_equal(
		select_for("GET", "Range: bytes=0-1,5-6\r\n", SIZE, &r),
		RANGE_WHOLE);
	assert_int_equal(select_for("GET", "Range: lines=1-2\r\n", SIZE, &r),
			 RANGE_WHOLE);
	/* Two Range fields are not one range. */
	assert_int_equal(select_for("GET",
				    "Range: bytes=0-1\r\nRange: bytes=5-6\r\n",
				    SIZE, &r),
			 RANGE_WHOLE);
	/* Only GET (14.2): HEAD answers as a GET without Range would. */
	assert_int_equal(select_for("HEAD", "Range: bytes=10-19\r\n", SIZE, &r),
			 RANGE_WHOLE);
	assert_int_equal(r.len, SIZE);
	assert_int_equal(select_for("POST", "Range: bytes=0-1\r\n", SIZE, &r),
			 RANGE_WHOLE);
	/* An empty file is always whole. */
	assert_int_equal(select_for("GET", "Range: bytes=0-\r\n", 0, &r),
			 RANGE_WHOLE);
	assert_int_equal(r.len, 0);
	assert_int_equal(select_for("GET", "Range: bytes=-5\r\n", 0, &r),
			 RANGE_WHOLE);
}

static void test_select_if_range(void **state)
{
	struct range r;

	(void)state;
	assert_int_equal(
		select_for("GET", "Range: bytes=-10\r\nIf-Range: " ETAG "\r\n",
			   SIZE, &r),
		RANGE_PARTIAL);
	assert_int_equal(r.first, 990);
	assert_int_equal(select_for("GET",
				    "If-Range: \"other\"\r\n"
				    "Range: bytes=-10\r\n",
				    SIZE, &r),
			 RANGE_WHOLE);
	assert_int_equal(r.len, SIZE);
	assert_int_equal(select_for("GET",
				    "Range: bytes=-10\r\nIf-Range: W/" ETAG
				    "\r\n",
				    SIZE, &r),
			 RANGE_WHOLE);
	assert_int_equal(select_for("GET",
				    "Range: bytes=-10\r\nIf-Range: "
				    "Wed, 01 Jan 2020 00:00:00 GMT\r\n",
				    SIZE, &r),
			 RANGE_WHOLE);
	assert_int_equal(select_for("GET",
				    "Range: bytes=-10\r\nIf-Range: " ETAG
				    "\r\nIf-Range: " ETAG "\r\n",
				    SIZE, &r),
			 RANGE_WHOLE);
	/* A match only lets the Range through: it may still be a 416. */
	assert_int_equal(select_for("GET",
				    "Range: bytes=2000-\r\nIf-Range: " ETAG
				    "\r\n",
				    SIZE, &r),
			 RANGE_NOT_SATISFIABLE);
	/* If-Range without Range: nothing to do (13.1.5). */
	assert_int_equal(select_for("GET", "If-Range: " ETAG "\r\n", SIZE, &r),
			 RANGE_WHOLE);
}

static enum range_answer respond(const char *headers, struct response *resp,
				 struct range *r)
{
	struct req q;

	resp_init(resp);
	return range_respond(make_req(&q, "GET", headers), ETAG, SIZE, resp, r);
}

/* The status and header lines of each answer. */
static void test_respond(void **state)
{
	struct response resp;
	struct range r;

	(void)state;
	assert_int_equal(respond("Range: bytes=10-19\r\n", &resp, &r),
			 RANGE_PARTIAL);
	assert_int_equal(resp.status, 206);
	assert_string_equal(resp.extra, "Accept-Ranges: bytes\r\n"
					"Content-Range: bytes 10-19/1000\r\n");
	resp_release(&resp);

	assert_int_equal(respond("", &resp, &r), RANGE_WHOLE);
	assert_int_equal(resp.status, 200);
	assert_string_equal(resp.extra, "Accept-Ranges: bytes\r\n");
	resp_release(&resp);

	assert_int_equal(respond("Range: bytes=-0\r\n", &resp, &r),
			 RANGE_NOT_SATISFIABLE);
	assert_int_equal(resp.status, 416);
	assert_string_equal(resp.extra, "Content-Range: bytes */1000\r\n");
	assert_int_equal(resp.file_fd, -1);
	resp_release(&resp);
	assert_string_equal(resp_reason(206), "Partial Content");
	assert_string_equal(resp_reason(416), "Range Not Satisfiable");
}

/* No room left for Content-Range: the whole file, never a bare 206. */
static void test_respond_without_room(void **state)
{
	struct response resp;
	struct range r;
	struct req q;
	size_t fill = RESP_EXTRA_MAX - 40;

	(void)state;
	resp_init(&resp);
	memset(resp.extra, 'x', fill);
	resp.extra[fill] = '\0';
	resp.extra_len = fill;
	assert_int_equal(
		range_respond(make_req(&q, "GET", "Range: bytes=10-19\r\n"),
			      ETAG, SIZE, &resp, &r),
		RANGE_WHOLE);
	assert_int_equal(resp.status, 200);
	assert_int_equal(r.first, 0);
	assert_int_equal(r.len, SIZE);
	assert_null(strstr(resp.extra, "Content-Range"));
	resp_release(&resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forms),
		cmocka_unit_test(test_clamps),
		cmocka_unit_test(test_unsatisfiable),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_whitespace),
		cmocka_unit_test(test_bad_syntax),
		cmocka_unit_test(test_multiple),
		cmocka_unit_test(test_value_is_a_view),
		cmocka_unit_test(test_if_range_matches),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_select_if_range),
		cmocka_unit_test(test_respond),
		cmocka_unit_test(test_respond_without_room),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
