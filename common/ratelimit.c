/*
 * ratelimit.c - token buckets in a fixed set-associative table: see
 * ratelimit.h.
 *
 *   ratelimit_take(addr): hash -> its set -> lock the set's stripe
 *     addr in the set?  no: a free slot, else the stalest -> a full bucket
 *     refill for the time since the bucket's last request
 *     a whole token?  take it: 0 | none: the seconds until there is one
 */
#include "ratelimit.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#include "clock.h"

/* A token, in the thousandths the buckets count in. */
#define TOKEN 1000

struct slot {
	struct net_ip addr;
	long long tokens;  /* thousandths of a token, 0 ... cap */
	long long last_ms; /* when tokens was last brought up to date */
	bool used;
};

struct ratelimit {
	size_t map_size;
	long long rate; /* thousandths of a token a millisecond: R / s */
	long long cap;	/* burst, in thousandths */
	unsigned int sets;
	unsigned int locks; /* 0: RATELIMIT_PRIVATE, no lock */
	uint64_t seed;
	long long (*now_ms)(void);
	pthread_mutex_t lock[RATELIMIT_STRIPES];
	struct slot slot[]; /* sets * RATELIMIT_WAYS */
};

/* Inits the stripes; for processes, shared and robust.  0 or an errno. */
static int init_locks(struct ratelimit *rl, enum ratelimit_sharing sharing)
{
	pthread_mutexattr_t attr;
	int err = pthread_mutexattr_init(&attr);

	if (err != 0)
		return err;
	/*
	 * LESSON: a mutex in shared memory serves two processes only if it
	 * says so (PTHREAD_PROCESS_SHARED).  And a process can die holding
	 * it - a crash, or 02's SIGKILL for a child past the grace period -
	 * which leaves every other child waiting for ever.  A robust mutex
	 * hands the next locker EOWNERDEAD instead (lock_set below).
	 */
	if (sharing == RATELIMIT_PROCESSES &&
	    ((err = pthread_mutexattr_setpshared(
		      &attr, PTHREAD_PROCESS_SHARED)) != 0 ||
	     (err = pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST)) !=
		     0))
		goto out_destroy_attr;
	for (rl->locks = 0; rl->locks < RATELIMIT_STRIPES; rl->locks++) {
		err = pthread_mutex_init(&rl->lock[rl->locks], &attr);
		if (err != 0)
			break;
	}
out_destroy_attr:
	pthread_mutexattr_destroy(&attr);
	return err;
}

static uint64_t draw_seed(void)
{
	uint64_t seed;

	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == sizeof(seed))
		return seed;
	return clock_now_us() ^ ((uint64_t)getpid() << 32);
}

struct ratelimit *ratelimit_create(const struct ratelimit_config *cfg)
{
	unsigned int sets;
	struct ratelimit *rl;
	size_t size;
	int err;

	if (cfg->rate <= 0 || cfg->burst <= 0 || cfg->slots <= 0) {
		errno = EINVAL;
		return NULL;
	}
	sets = ((unsigned int)cfg->slots + RATELIMIT_WAYS - 1) / RATELIMIT_WAYS;
	size = sizeof(*rl) +
	       (size_t)sets * RATELIMIT_WAYS * sizeof(rl->slot[0]);
	/* Shared, like the counters in stats.c: see the LESSON there. */
	rl = mmap(NULL, size, PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (rl == MAP_FAILED)
		return NULL;
	/* The mapping comes zeroed: every slot is free. */
	rl->map_size = size;
	rl->rate = cfg->rate;
	rl->cap = (long long)cfg->burst * TOKEN;
	rl->sets = sets;
	rl->seed = draw_seed();
	rl->now_ms = cfg->now_ms != NULL ? cfg->now_ms : clock_now_ms;
	rl->locks = 0;
	if (cfg->sharing != RATELIMIT_PRIVATE) {
		err = init_locks(rl, cfg->sharing);
		if (err != 0) {
			ratelimit_destroy(rl);
			errno = err;
			return NULL;
		}
	}
	return rl;
}

void ratelimit_destroy(struct ratelimit *rl)
{
	if (rl == NULL)
		return;
	for (unsigned int i = 0; i < rl->locks; i++)
		pthread_mutex_destroy(&rl->lock[i]);
	munmap(rl, rl->map_size);
}

/* MurmurHash3's finaliser: every input bit moves every output bit. */
static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static unsigned int set_of(const struct ratelimit *rl,
			   const struct net_ip *addr)
{
	uint64_t hi, lo;

	memcpy(&hi, addr->b, 8);
	memcpy(&lo, addr->b + 8, 8);
	return (unsigned int)(mix(mix(hi ^ rl->seed) ^ lo) % rl->sets);
}

/* Locks the stripe of set (none for a private table); NULL: no lock. */
static pthread_mutex_t *lock_set(struct ratelimit *rl, unsigned int set)
{
	pthread_mutex_t *m;

	if (rl->locks == 0)
		return NULL;
	m = &rl->lock[set % rl->locks];
	/*
	 * The owner died with the lock held: its last update of one bucket
	 * may be half done.  Harmless here - a bucket is two numbers, and a
	 * wrong one costs one verdict - so say it is consistent and go on.
	 */
	if (pthread_mutex_lock(m) == EOWNERDEAD)
		pthread_mutex_consistent(m);
	return m;
}

static void unlock(pthread_mutex_t *m)
{
	if (m != NULL)
		pthread_mutex_unlock(m);
}

/*
 * addr's slot in the set at ways: its own, or a free one, or the stalest,
 * which then starts afresh for addr with a full bucket.
 */
static struct slot *find_or_claim(const struct ratelimit *rl, struct slot *ways,
				  const struct net_ip *addr, long long now)
{
	struct slot *free_slot = NULL, *stalest = NULL, *s;

	for (int i = 0; i < RATELIMIT_WAYS; i++) {
		s = &ways[i];
		if (!s->used) {
			if (free_slot == NULL)
				free_slot = s;
			continue;
		}
		if (net_ip_equal(&s->addr, addr))
			return s;
		if (stalest == NULL || s->last_ms < stalest->last_ms)
			stalest = s;
	}
	s = free_slot != NULL ? free_slot : stalest;
	s->addr = *addr;
	s->tokens = rl->cap;
	s->last_ms = now;
	s->used = true;
	return s;
}

/* Adds the tokens earned since the bucket's last request, up to cap. */
static void refill(const struct ratelimit *rl, struct slot *s, long long now)
{
	long long elapsed = now - s->last_ms;

	/*
	 * Another thread or process may have read its clock before us and
	 * updated the bucket after: time never runs back for a bucket.
	 */
	if (elapsed <= 0)
		return;
	/* Compared first, as elapsed * rate overflows after a long idle. */
	if (elapsed > (rl->cap - s->tokens) / rl->rate)
		s->tokens = rl->cap;
	else
		s->tokens += elapsed * rl->rate;
	s->last_ms = now;
}

/* Whole seconds, at least 1, until a bucket of tokens holds one token. */
static int seconds_to_token(const struct ratelimit *rl, long long tokens)
{
	long long ms = (TOKEN - tokens + rl->rate - 1) / rl->rate;
	long long s = (ms + 999) / 1000;

	return s < 1 ? 1 : (int)s;
}

int ratelimit_take(struct ratelimit *rl, const struct net_ip *addr)
{
	long long now = rl->now_ms();
	unsigned int set = set_of(rl, addr);
	pthread_mutex_t *m = lock_set(rl, set);
	struct slot *s =
		find_or_claim(rl, &rl->slot[set * RATELIMIT_WAYS], addr, now);
	int retry = 0;

	refill(rl, s, now);
	if (s->tokens >= TOKEN)
		s->tokens -= TOKEN;
	else
		retry = seconds_to_token(rl, s->tokens);
	unlock(m);
	return retry;
}

int ratelimit_count(struct ratelimit *rl)
{
	int n = 0;

	for (unsigned int set = 0; set < rl->sets; set++) {
		pthread_mutex_t *m = lock_set(rl, set);

		for (int i = 0; i < RATELIMIT_WAYS; i++)
			n += rl->slot[set * RATELIMIT_WAYS + i].used;
		unlock(m);
	}
	return n;
}
