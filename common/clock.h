/*
 * clock.h - the one clock every timeout and latency is measured on.
 *
 * CLOCK_MONOTONIC, never the wall clock: a deadline must not jump when an
 * administrator or NTP sets the time.  Wall-clock time is only for what a
 * person reads (the Date header, the access log: http_date.h).
 *
 * Thread safety: every function is re-entrant and async-signal-safe.
 */
#ifndef CLOCK_H
#define CLOCK_H

#include <limits.h>
#include <stdint.h>

/* A deadline that never comes. */
#define CLOCK_NEVER LLONG_MAX

/* Milliseconds on CLOCK_MONOTONIC, for deadlines. */
long long clock_now_ms(void);

/* Microseconds on CLOCK_MONOTONIC, for latencies. */
uint64_t clock_now_us(void);

/*
 * The timeout argument of poll() or epoll_wait() that wakes at deadline_ms
 * (CLOCK_MONOTONIC): 0 if it has passed, the milliseconds left clamped to
 * INT_MAX, or -1 (wait for ever) for CLOCK_NEVER.
 */
int clock_timeout_ms(long long deadline_ms);

/* Sleeps ms milliseconds (less if a signal arrives). */
void clock_sleep_ms(int ms);

#endif /* CLOCK_H */
