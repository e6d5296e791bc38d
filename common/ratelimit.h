/*
 * ratelimit.h - a token bucket per client address, in a table of fixed
 * size (--rate-limit R, --burst B).
 *
 * Each client address has a bucket of up to B tokens that fills at R
 * tokens a second; a request takes one token, and a request that finds
 * none is refused (429 Too Many Requests) with the seconds until the next
 * token (Retry-After).  A new client starts with a full bucket, so it may
 * send B requests at once and then R a second.  Tokens are counted in
 * thousandths and time in milliseconds, so the arithmetic is exact
 * integers: no drift, and a unit test can predict every answer.
 *
 * Memory: a fixed table of `slots` buckets made at start-up, never grown.
 * It is set-associative: an address hashes (with a seed drawn at
 * start-up, so nobody can aim addresses at one set) to one set of
 * RATELIMIT_WAYS slots and lives only there.  A new address takes a free
 * slot of its set or, when the set is full, the stalest one: the bucket
 * whose last request is oldest.
 *
 * LESSON: a bounded table is what makes a limiter safe against a flood of
 * addresses (IPv6 gives one attacker 2^64 of them): the flood cannot grow
 * memory, it can only evict buckets.  What it costs is precision: an
 * evicted client that was being limited comes back with a full bucket.
 * A bucket idle for B/R seconds is full anyway, so evicting the stalest
 * first loses nothing until the table holds more clients active at once
 * than it has slots.
 *
 * Thread safety: as the sharing the table was made with (below).  The
 * table lives in a MAP_SHARED anonymous mapping in every case, so one
 * made before fork() is the same memory in every child.
 */
#ifndef RATELIMIT_H
#define RATELIMIT_H

#include "net.h"

/* Slots per set: a new address looks at this many for a place. */
#define RATELIMIT_WAYS 8

/* Buckets in the servers' table: 16384 x 40 bytes, 640 KiB. */
#define RATELIMIT_SLOTS 16384

/* Locks of a shared table, each for every RATELIMIT_STRIPES-th set. */
#define RATELIMIT_STRIPES 64

/* Who calls ratelimit_take(): see the LESSON in each model's main.c. */
enum ratelimit_sharing {
	RATELIMIT_PRIVATE,   /* one thread (01, 05, 06's one loop): no lock */
	RATELIMIT_THREADS,   /* threads (03, 04, 06's loops): striped locks */
	RATELIMIT_PROCESSES, /* forked children (02): process-shared locks */
};

struct ratelimit_config {
	int rate;  /* tokens a second, > 0: --rate-limit */
	int burst; /* tokens a bucket holds, > 0: --burst */
	int slots; /* buckets, rounded up to whole sets; >= 1 */
	enum ratelimit_sharing sharing;
	long long (*now_ms)(void); /* NULL: clock_now_ms; tests fake it */
};

struct ratelimit;

/*
 * Maps and fills an empty table.  Returns NULL with errno set (EINVAL
 * when rate, burst or slots is not positive, or mmap's error).
 */
struct ratelimit *ratelimit_create(const struct ratelimit_config *cfg);

/* Unmaps the table.  NULL is ok.  No call may be under way. */
void ratelimit_destroy(struct ratelimit *rl);

/*
 * One request from addr: takes a token from its bucket (a new address
 * gets a full bucket first).  Returns 0 when the request may go on, or
 * the whole seconds (at least 1) until the bucket holds a token again,
 * for Retry-After, when it must be refused.
 */
int ratelimit_take(struct ratelimit *rl, const struct net_ip *addr);

/* Buckets in use, for tests.  Locks as ratelimit_take() does. */
int ratelimit_count(struct ratelimit *rl);

#endif /* RATELIMIT_H */
