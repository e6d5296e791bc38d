/*
 * test_ratelimit.c - the token buckets on a clock the test sets: a new
 * client's burst, the refill, the cap on a long idle, one client against
 * another, eviction of the stalest bucket, a flood that cannot grow the
 * table, and the shared tables under threads and across fork().
 *
 * Every time is the fake clock's, so no test depends on how fast the
 * machine is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "net.h"
#include "ratelimit.h"

static long long fake_now;

static long long fake_clock(void)
{
	return fake_now;
}

static struct ratelimit *make(int rate, int burst, int slots,
			      enum ratelimit_sharing sharing)
{
	struct ratelimit_config cfg = { .rate = rate,
					.burst = burst,
					.slots = slots,
					.sharing = sharing,
					.now_ms = fake_clock };
	struct ratelimit *rl = ratelimit_create(&cfg);

	assert_non_null(rl);
	return rl;
}

static struct net_ip ip(const char *s)
{
	struct net_ip out;

	assert_int_equal(net_ip_parse(s, strlen(s), &out), 0);
	return out;
}

/* The address 10.0.x.y for client number n. */
static struct net_ip nth(int n)
{
	char s[32];

	snprintf(s, sizeof(s), "10.0.%d.%d", (n >> 8) & 255, n & 255);
	return ip(s);
}

static void test_bad_config_is_refused(void **state)
{
	struct ratelimit_config cfg = { .rate = 1, .burst = 1, .slots = 1 };

	(void)state;
	cfg.rate = 0;
	assert_null(ratelimit_create(&cfg));
	cfg.rate = 1;
	cfg.burst = 0;
	assert_null(ratelimit_create(&cfg));
	cfg.burst = 1;
	cfg.slots = 0;
	assert_null(ratelimit_create(&cfg));
}

/* A new client may send its burst at once; the next one waits a second. */
static void test_new_client_gets_its_burst(void **state)
{
	struct ratelimit *rl = make(1, 3, RATELIMIT_SLOTS, RATELIMIT_PRIVATE);
	struct net_ip a = ip("192.0.2.1");

	(void)state;
	fake_now = 1000;
	for (int i = 0; i < 3; i++)
		assert_int_equal(ratelimit_take(rl, &a), 0);
	assert_int_equal(ratelimit_take(rl, &a), 1);
	assert_int_equal(ratelimit_take(rl, &a), 1);
	ratelimit_destroy(rl);
}

/* R tokens a second, to the millisecond: 1/s is one token per 1000 ms. */
static void test_refill_at_the_rate(void **state)
{
	struct ratelimit *rl = make(1, 1, RATELIMIT_SLOTS, RATELIMIT_PRIVATE);
	struct ratelimit *fast = make(4, 1, RATELIMIT_SLOTS, RATELIMIT_PRIVATE);
	struct net_ip a = ip("192.0.2.1");

	(void)state;
	fake_now = 5000;
	assert_int_equal(ratelimit_take(rl, &a), 0);
	fake_now = 5999;
	assert_int_equal(ratelimit_take(rl, &a), 1); /* 999 ms: not yet */
	fake_now = 6000;
	assert_int_equal(ratelimit_take(rl, &a), 0);
	assert_int_equal(ratelimit_take(rl, &a), 1);
	/* 4/s: a token every 250 ms, and a refusal is not a reset. */
	fake_now = 0;
	assert_int_equal(ratelimit_take(fast, &a), 0);
	fake_now = 249;
	assert_int_equal(ratelimit_take(fast, &a), 1);
	fake_now = 250;
	assert_int_equal(ratelimit_take(fast, &a), 0);
	ratelimit_destroy(fast);
	ratelimit_destroy(rl);
}

/* A long idle fills the bucket to the burst, not beyond, and no overflow. */
static void test_idle_fills_only_to_burst(void **state)
{
	struct ratelimit *rl =
		make(1000000, 2, RATELIMIT_SLOTS, RATELIMIT_PRIVATE);
	struct net_ip a = ip("2001:db8::7");

	(void)state;
	fake_now = 0;
	assert_int_equal(ratelimit_take(rl, &a), 0);
	assert_int_equal(ratelimit_take(rl, &a), 0);
	assert_int_equal(ratelimit_take(rl, &a), 1);
	fake_now = 1LL << 60; /* 36 million years: elapsed * rate overflows */
	assert_int_equal(ratelimit_take(rl, &a), 0);
	assert_int_equal(ratelimit_take(rl, &a), 0);
	assert_int_equal(ratelimit_take(rl, &a), 1);
	ratelimit_destroy(rl);
}

/* A clock read before another thread's update never runs time back. */
static void test_earlier_time_is_no_refill(void **state)
{
	struct ratelimit *rl = make(1, 1, RATELIMIT_SLOTS, RATELIMIT_PRIVATE);
	struct net_ip a = ip("192.0.2.1");

	(void)state;
	fake_now = 10000;
	assert_int_equal(ratelimit_take(rl, &a), 0);
	fake_now = 9000;
	assert_int_equal(ratelimit_take(rl, &a), 1);
	fake_now = 10999;
	assert_int_equal(ratelimit_take(rl, &a), 1);
	fake_now = 11000;
	assert_int_equal(ratelimit_take(rl, &a), 0);
	ratelimit_destroy(rl);
}

/* One client's flood does not limit another, IPv4 or IPv6. */
static void test_clients_are_apart(void **state)
{
	struct ratelimit *rl = make(1, 2, RATELIMIT_SLOTS, RATELIMIT_PRIVATE);
	struct net_ip a = ip("192.0.2.1"), b = ip("192.0.2.2"),
		      c = ip("::ffff:192.0.2.3"), d = ip("2001:db8::1"),
		      d2 = ip("2001:db8:0:0::1");

	(void)state;
	fake_now = 0;
	for (int i = 0; i < 100; i++)
		ratelimit_take(rl, &a);
	assert_int_equal(ratelimit_take(rl, &a), 1);
	assert_int_equal(ratelimit_take(rl, &b), 0);
	assert_int_equal(ratelimit_take(rl, &b), 0);
	assert_int_equal(ratelimit_take(rl, &b), 1);
	assert_int_equal(ratelimit_take(rl, &d), 0);
	assert_int_equal(ratelimit_take(rl, &d2), 0); /* the same address */
	assert_int_equal(ratelimit_take(rl, &d), 1);
	/* An IPv4 address is one client however it is written. */
	assert_int_equal(ratelimit_take(rl, &c), 0);
	c = ip("192.0.2.3");
	assert_int_equal(ratelimit_take(rl, &c), 0);
	assert_int_equal(ratelimit_take(rl, &c), 1);
	assert_int_equal(ratelimit_count(rl), 4);
	ratelimit_destroy(rl);
}

/*
 * One set of RATELIMIT_WAYS slots: when it is full, a new client takes
 * the slot of the client whose last request is oldest, and only that one.
 */
static void test_full_set_evicts_the_stalest(void **state)
{
	struct ratelimit *rl = make(1, 1, RATELIMIT_WAYS, RATELIMIT_PRIVATE);
	struct net_ip c[RATELIMIT_WAYS + 1];

	(void)state;
	for (int i = 0; i <= RATELIMIT_WAYS; i++)
		c[i] = nth(i);
	/* c[i] takes its one token at time i: c[0] is the stalest. */
	for (int i = 0; i < RATELIMIT_WAYS; i++) {
		fake_now = i;
		assert_int_equal(ratelimit_take(rl, &c[i]), 0);
	}
	assert_int_equal(ratelimit_count(rl), RATELIMIT_WAYS);
	fake_now = RATELIMIT_WAYS;
	assert_int_equal(ratelimit_take(rl, &c[RATELIMIT_WAYS]), 0);
	assert_int_equal(ratelimit_count(rl), RATELIMIT_WAYS);
	/* c[1] .. c[7] kept their empty buckets. */
	fake_now = RATELIMIT_WAYS + 1;
	for (int i = 1; i < RATELIMIT_WAYS; i++)
		assert_int_equal(ratelimit_take(rl, &c[i]), 1);
	/*
	 * c[0] was forgotten: it comes back with a full bucket (the price
	 * of bounded memory) and pushes out the stalest in turn, c[8].
	 */
	fake_now = RATELIMIT_WAYS + 2;
	assert_int_equal(ratelimit_take(rl, &c[0]), 0);
	assert_int_equal(ratelimit_take(rl, &c[0]), 1);
	assert_int_equal(ratelimit_take(rl, &c[RATELIMIT_WAYS]), 0);
	ratelimit_destroy(rl);
}

/* A flood of new addresses fills the table and no more. */
static void test_flood_cannot_grow_the_table(void **state)
{
	struct ratelimit *rl = make(1, 1, 64, RATELIMIT_PRIVATE);

	(void)state;
	fake_now = 0;
	for (int i = 0; i < 20000; i++) {
		struct net_ip a = nth(i);

		assert_int_equal(ratelimit_take(rl, &a), 0);
		assert_true(ratelimit_count(rl) <= 64);
	}
	assert_int_equal(ratelimit_count(rl), 64);
	ratelimit_destroy(rl);
}

/* Slots round up to whole sets. */
static void test_slots_round_up_to_sets(void **state)
{
	struct ratelimit *rl = make(1, 1, 1, RATELIMIT_PRIVATE);

	(void)state;
	fake_now = 0;
	for (int i = 0; i < 100; i++) {
		struct net_ip a = nth(i);

		ratelimit_take(rl, &a);
	}
	assert_int_equal(ratelimit_count(rl), RATELIMIT_WAYS);
	ratelimit_destroy(rl);
}

#define THREADS 8
#define TAKES_EACH 2000

static struct ratelimit *shared_rl;
static atomic_int allowed;

static void *taker(void *arg)
{
	struct net_ip a = ip("198.51.100.1");

	(void)arg;
	for (int i = 0; i < TAKES_EACH; i++) {
		struct net_ip other = nth(i % 64);

		if (ratelimit_take(shared_rl, &a) == 0)
			atomic_fetch_add(&allowed, 1);
		ratelimit_take(shared_rl, &other); /* other stripes, too */
	}
	return NULL;
}

/*
 * Threads on a frozen clock: exactly the burst gets through, however the
 * takes interleave - a lost update would let more through.
 */
static void test_threads_share_one_bucket(void **state)
{
	pthread_t t[THREADS];

	(void)state;
	fake_now = 0;
	shared_rl = make(1, 500, 4096, RATELIMIT_THREADS);
	atomic_store(&allowed, 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, taker, NULL), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(atomic_load(&allowed), 500);
	ratelimit_destroy(shared_rl);
}

/* Children forked after the table was made share its buckets. */
static void test_processes_share_one_bucket(void **state)
{
	struct ratelimit *rl = make(1, 3, RATELIMIT_SLOTS, RATELIMIT_PROCESSES);
	struct net_ip a = ip("203.0.113.9");
	int status;

	(void)state;
	fake_now = 0;
	for (int i = 0; i < 3; i++) {
		pid_t pid = fork();

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(ratelimit_take(rl, &a) == 0 ? 0 : 1);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	/* Three children took the three tokens: the parent finds none. */
	assert_int_equal(ratelimit_take(rl, &a), 1);
	ratelimit_destroy(rl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_config_is_refused),
		cmocka_unit_test(test_new_client_gets_its_burst),
		cmocka_unit_test(test_refill_at_the_rate),
		cmocka_unit_test(test_idle_fills_only_to_burst),
		cmocka_unit_test(test_earlier_time_is_no_refill),
		cmocka_unit_test(test_clients_are_apart),
		cmocka_unit_test(test_full_set_evicts_the_stalest),
		cmocka_unit_test(test_flood_cannot_grow_the_table),
		cmocka_unit_test(test_slots_round_up_to_sets),
		cmocka_unit_test(test_threads_share_one_bucket),
		cmocka_unit_test(test_processes_share_one_bucket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
