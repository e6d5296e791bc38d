/*
 * clock.h - time and deadlines for the test suites.
 *
 * Every wait in a suite is bounded: a caller computes a deadline once
 * (now_ms() + a timeout) and passes it down, so a loop of waits cannot
 * add up to more than the caller allowed.  now_ms and sleep_ms keep the
 * short names the tests have always used.
 *
 * Thread safety: every function is re-entrant.
 */
#ifndef TESTS_CLOCK_H
#define TESTS_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. */
int64_t now_ms(void);

/* Sleeps for ms milliseconds (retrying on EINTR). */
void sleep_ms(int ms);

/* Milliseconds left before deadline (a now_ms() value), at least 0. */
int clock_left_ms(int64_t deadline);

/*
 * Waits until fd has one of events (POLLIN, POLLOUT) or deadline passes,
 * retrying on EINTR.  Returns 1 when it is ready, 0 on timeout, -1 with
 * errno set.
 */
int clock_wait_fd(int fd, short events, int64_t deadline);

#endif /* TESTS_CLOCK_H */
