/*
 * clock.c - CLOCK_MONOTONIC in the units the servers count in.
 */
#include "clock.h"

#include <time.h>

long long clock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t clock_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int clock_timeout_ms(long long deadline_ms)
{
	long long now = clock_now_ms();

	if (deadline_ms == CLOCK_NEVER)
		return -1;
	if (deadline_ms <= now)
		return 0; /* and deadline_ms - now cannot overflow below */
	return deadline_ms - now < INT_MAX ? (int)(deadline_ms - now) : INT_MAX;
}

void clock_sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}
