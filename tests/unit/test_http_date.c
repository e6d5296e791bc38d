/*
 * test_http_date.c - IMF-fixdate written and read back, the forms that are
 * refused, the Common Log Format date, the per-thread cache of now, and
 * the time zone loaded at start-up.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "http_date.h"

#define RFC_EXAMPLE_TIME 784111777 /* Sun, 06 Nov 1994 08:49:37 GMT */

static int parse(const char *s, time_t *t)
{
	return http_date_parse(s, strlen(s), t);
}

static void test_format(void **state)
{
	char out[HTTP_DATE_LEN];

	(void)state;
	/* The example in RFC 9110 section 5.6.7. */
	http_date_format(RFC_EXAMPLE_TIME, out);
	assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	http_date_format(0, out);
	assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
	http_date_format(951782400, out); /* a leap day */
	assert_string_equal(out, "Tue, 29 Feb 2000 00:00:00 GMT");
}

static void test_parse(void **state)
{
	time_t t = 0;

	(void)state;
	assert_int_equal(parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
	assert_int_equal(t, RFC_EXAMPLE_TIME);
	assert_int_equal(parse("Thu, 01 Jan 1970 00:00:00 GMT", &t), 0);
	assert_int_equal(t, 0);
	/* Only the length given is read: no NUL needed after it. */
	assert_int_equal(
		http_date_parse("Sun, 06 Nov 1994 08:49:37 GMTxyz", 29, &t), 0);
	assert_int_equal(t, RFC_EXAMPLE_TIME);
}

static void test_round_trip(void **state)
{
	char out[HTTP_DATE_LEN];
	time_t t, back;

	(void)state;
	/* Every month, a range of days and hours, over several decades. */
	for (t = 0; t < 2000000000; t += 7776007) {
		http_date_format(t, out);
		assert_int_equal(parse(out, &back), 0);
		assert_int_equal(back, t);
	}
}

static void test_parse_refuses(void **state)
{
	static const char *const bad[] = {
		"",
		"Sun, 06 Nov 1994 08:49:37 GMT ",
		"Sun, 06 Nov 1994 08:49:37 UTC",
		"Sun, 06 Nox 1994 08:49:37 GMT",
		"Sun, 06 nov 1994 08:49:37 GMT",
		"Sun, 6  Nov 1994 08:49:37 GMT",
		"Sun, 00 Nov 1994 08:49:37 GMT",
		"Sun, 32 Nov 1994 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:49:37 GMT",
		"Sun, 06 Nov 1994 08:60:37 GMT",
		"Sun, 06 Nov 1994 08:49:61 GMT",
		"Sun, 06 Nov 1969 08:49:37 GMT",
		"Sun, 06 Nov 19x4 08:49:37 GMT",
		"Sun; 06 Nov 1994 08:49:37 GMT",
		"Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 */
		"Sun Nov  6 08:49:37 1994",	  /* asctime */
		"yesterday",
	};
	time_t t = 12345;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(parse(bad[i], &t), -1);
		assert_int_equal(t, 12345);
	}
}

static void test_format_clf(void **state)
{
	char out[HTTP_DATE_CLF_LEN];

	(void)state;
	http_date_format_clf(RFC_EXAMPLE_TIME, out);
	assert_string_equal(out, "06/Nov/1994:08:49:37 +0000");
	http_date_format_clf(0, out);
	assert_string_equal(out, "01/Jan/1970:00:00:00 +0000");
}

static void *now_in_thread(void *arg)
{
	(void)arg;
	return (void *)http_date_now();
}

static void test_now_is_cached_per_thread(void **state)
{
	const char *mine = http_date_now();
	time_t t;
	pthread_t th;
	void *theirs;

	(void)state;
	assert_int_equal(strlen(mine), HTTP_DATE_LEN - 1);
	assert_int_equal(parse(mine, &t), 0);
	assert_true(t <= time(NULL) && t >= time(NULL) - 2);
	assert_ptr_equal(http_date_now(), mine);
	assert_int_equal(pthread_create(&th, NULL, now_in_thread, NULL), 0);
	assert_int_equal(pthread_join(th, &theirs), 0);
	assert_ptr_not_equal(theirs, mine);
}

/*
 * http_date_init() loads the time zone now (02's children must not each
 * read /etc/localtime): with TZ set, tzname shows the zone was read.  The
 * dates the server writes stay in GMT whatever the zone.
 */
static void test_init_loads_the_zone(void **state)
{
	char out[HTTP_DATE_LEN];

	(void)state;
	assert_int_equal(setenv("TZ", "XYZ5", 1), 0);
	http_date_init();
	assert_string_equal(tzname[0], "XYZ");
	http_date_format(RFC_EXAMPLE_TIME, out);
	assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
	unsetenv("TZ");
	tzset();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_format_clf),
		cmocka_unit_test(test_now_is_cached_per_thread),
		cmocka_unit_test(test_init_loads_the_zone),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
