/*
 * test_clock.c - the monotonic clock in its two units, and the timeout
 * that poll and epoll_wait are given for a deadline: -1 for none, 0 once
 * it has passed, clamped to INT_MAX far away.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>

#include "clock.h"

static void test_now_us_is_monotonic(void **state)
{
	uint64_t a, b;

	(void)state;
	a = clock_now_us();
	clock_sleep_ms(2);
	b = clock_now_us();
	assert_true(b >= a + 2000);
	assert_true(b < a + 2000000);
}

static void test_ms_and_us_agree(void **state)
{
	long long ms;
	uint64_t us;

	(void)state;
	us = clock_now_us();
	ms = clock_now_ms();
	assert_true(ms >= (long long)(us / 1000));
	assert_true(ms < (long long)(us / 1000) + 1000);
}

static void test_timeout_never_is_forever(void **state)
{
	(void)state;
	assert_int_equal(clock_timeout_ms(CLOCK_NEVER), -1);
}

static void test_timeout_passed_is_zero(void **state)
{
	long long now = clock_now_ms();

	(void)state;
	assert_int_equal(clock_timeout_ms(now), 0);
	assert_int_equal(clock_timeout_ms(now - 5000), 0);
	assert_int_equal(clock_timeout_ms(LLONG_MIN), 0);
}

static void test_timeout_counts_down(void **state)
{
	int ms = clock_timeout_ms(clock_now_ms() + 5000);

	(void)state;
	assert_true(ms > 4000);
	assert_true(ms <= 5000);
}

static void test_timeout_far_away_is_clamped(void **state)
{
	(void)state;
	/* Not truncated to a negative int: that would mean "for ever". */
	assert_int_equal(clock_timeout_ms(clock_now_ms() + 3LL * INT_MAX),
			 INT_MAX);
	assert_int_equal(clock_timeout_ms(CLOCK_NEVER - 1), INT_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_now_us_is_monotonic),
		cmocka_unit_test(test_ms_and_us_agree),
		cmocka_unit_test(test_timeout_never_is_forever),
		cmocka_unit_test(test_timeout_passed_is_zero),
		cmocka_unit_test(test_timeout_counts_down),
		cmocka_unit_test(test_timeout_far_away_is_clamped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
