/*
 * test_pool.c - the worker pool: every job runs exactly once, a full queue
 * says EAGAIN without blocking, the depth gauge counts the jobs that wait,
 * pool_destroy runs what is still queued, and
 * many threads may submit at once.  Run it under ThreadSanitizer too
 * (make tsan), which checks the locking, not only the counts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "pool.h"

static void sleep_ms(int ms)
{
	struct timespec ts = { .tv_sec = ms / 1000,
			       .tv_nsec = (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* ---- every job exactly once ---------------------------------------------- */

#define ONCE_JOBS 2000

static atomic_int once_runs[ONCE_JOBS];

static void count_job(void *arg)
{
	atomic_fetch_add(&once_runs[(intptr_t)arg], 1);
}

static void test_every_job_runs_once(void **state)
{
	struct pool *p = pool_create(4, ONCE_JOBS);

	(void)state;
	assert_non_null(p);
	for (intptr_t i = 0; i < ONCE_JOBS; i++) {
		atomic_store(&once_runs[i], 0);
		assert_int_equal(pool_submit(p, count_job, (void *)i), 0);
	}
	pool_destroy(p);
	for (int i = 0; i < ONCE_JOBS; i++)
		assert_int_equal(atomic_load(&once_runs[i]), 1);
}

/* ---- a full queue is EAGAIN, at once ------------------------------------- */

/* A job that holds its worker until the test opens the gate. */
struct gate {
	sem_t started;
	sem_t open;
	atomic_int runs;
};

static void gate_job(void *arg)
{
	struct gate *g = arg;

	sem_post(&g->started);
	sem_wait(&g->open);
	atomic_fetch_add(&g->runs, 1);
}

static void test_full_queue_is_eagain(void **state)
{
	struct pool *p = pool_create(1, 2);
	struct gate g = { .runs = 0 };

	(void)state;
	assert_non_null(p);
	sem_init(&g.started, 0, 0);
	sem_init(&g.open, 0, 0);
	/* The one worker takes the first job and blocks in it ... */
	assert_int_equal(pool_submit(p, gate_job, &g), 0);
	sem_wait(&g.started);
	/* ... so two more fill the ring ... */
	assert_int_equal(pool_submit(p, gate_job, &g), 0);
	assert_int_equal(pool_submit(p, gate_job, &g), 0);
	/* ... and the next is refused without waiting. */
	errno = 0;
	assert_int_equal(pool_submit(p, gate_job, &g), -1);
	assert_int_equal(errno, EAGAIN);
	for (int i = 0; i < 3; i++)
		sem_post(&g.open);
	pool_destroy(p);
	assert_int_equal(atomic_load(&g.runs), 3);
	sem_destroy(&g.started);
	sem_destroy(&g.open);
}

/* ---- the depth gauge follows the queue ---------------------------------- */

static long long depth(atomic_int_fast64_t *gauge)
{
	return (long long)atomic_load(gauge);
}

static void test_depth_gauge(void **state)
{
	struct pool *p = pool_create(1, 3);
	struct gate g = { .runs = 0 };
	atomic_int_fast64_t gauge = 99;

	(void)state;
	assert_non_null(p);
	sem_init(&g.started, 0, 0);
	sem_init(&g.open, 0, 0);
	/* Attaching the gauge writes the depth at once: nothing queued. */
	pool_set_depth_gauge(p, &gauge);
	assert_int_equal(depth(&gauge), 0);
	/* A job a worker has taken is running, no longer waiting. */
	assert_int_equal(pool_submit(p, gate_job, &g), 0);
	sem_wait(&g.started);
	assert_int_equal(depth(&gauge), 0);
	for (int i = 1; i <= 3; i++) {
		assert_int_equal(pool_submit(p, gate_job, &g), 0);
		assert_int_equal(depth(&gauge), i);
	}
	/* A refused job never was in the queue. */
	assert_int_equal(pool_submit(p, gate_job, &g), -1);
	assert_int_equal(depth(&gauge), 3);
	/* The first job ends, the worker takes the second: two wait. */
	sem_post(&g.open);
	sem_wait(&g.started);
	assert_int_equal(depth(&gauge), 2);
	/* Detached, the gauge keeps its last value. */
	pool_set_depth_gauge(p, NULL);
	for (int i = 0; i < 3; i++)
		sem_post(&g.open);
	pool_destroy(p);
	assert_int_equal(atomic_load(&g.runs), 4);
	assert_int_equal(depth(&gauge), 2);
	sem_destroy(&g.started);
	sem_destroy(&g.open);
}

/* ---- pool_destroy drains the queue --------------------------------------- */

#define DRAIN_JOBS 50

static atomic_int drain_runs;

static void slow_job(void *arg)
{
	(void)arg;
	sleep_ms(1);
	atomic_fetch_add(&drain_runs, 1);
}

static void test_destroy_runs_queued_jobs(void **state)
{
	struct pool *p = pool_create(1, DRAIN_JOBS);

	(void)state;
	assert_non_null(p);
	atomic_store(&drain_runs, 0);
	for (int i = 0; i < DRAIN_JOBS; i++)
		assert_int_equal(pool_submit(p, slow_job, NULL), 0);
	/* About 50 ms of work is still queued: destroy must wait for it. */
	pool_destroy(p);
	assert_int_equal(atomic_load(&drain_runs), DRAIN_JOBS);
}

/* ---- many submitters at once --------------------------------------------- */

#define SUBMITTERS 8
#define PER_SUBMITTER 5000

static atomic_int many_runs[SUBMITTERS * PER_SUBMITTER];

/*
 * cmocka's asserts must stay in the main thread (they longjmp), so a
 * submitter only counts what it saw and the test checks it afterwards.
 */
struct submitter {
	struct pool *p;
	int first;
	int refused;   /* EAGAIN answers seen (and retried) */
	int bad_errno; /* failures with another errno */
};

static void many_job(void *arg)
{
	atomic_fetch_add(&many_runs[(intptr_t)arg], 1);
}

static void *submitter_main(void *arg)
{
	struct submitter *s = arg;

	for (intptr_t i = s->first; i < s->first + PER_SUBMITTER; i++) {
		while (pool_submit(s->p, many_job, (void *)i) != 0) {
			if (errno == EAGAIN)
				s->refused++;
			else
				s->bad_errno++;
			sched_yield();
		}
	}
	return NULL;
}

static void test_many_submitters(void **state)
{
	/* A small ring, so submitters also meet "full" and retry. */
	struct pool *p = pool_create(4, 16);
	struct submitter subs[SUBMITTERS];
	pthread_t tids[SUBMITTERS];

	(void)state;
	assert_non_null(p);
	for (int i = 0; i < SUBMITTERS * PER_SUBMITTER; i++)
		atomic_store(&many_runs[i], 0);
	for (int i = 0; i < SUBMITTERS; i++) {
		subs[i] = (struct submitter){ .p = p,
					      .first = i * PER_SUBMITTER };
		assert_int_equal(pthread_create(&tids[i], NULL, submitter_main,
						&subs[i]),
				 0);
	}
	for (int i = 0; i < SUBMITTERS; i++) {
		pthread_join(tids[i], NULL);
		assert_int_equal(subs[i].bad_errno, 0);
	}
	pool_destroy(p);
	for (int i = 0; i < SUBMITTERS * PER_SUBMITTER; i++)
		assert_int_equal(atomic_load(&many_runs[i]), 1);
}

/* ---- signals go to the main thread --------------------------------------- */

static atomic_int sigterm_blocked;

static void mask_job(void *arg)
{
	sigset_t set;

	(void)arg;
	pthread_sigmask(SIG_BLOCK, NULL, &set);
	atomic_store(&sigterm_blocked,
		     sigismember(&set, SIGTERM) && sigismember(&set, SIGINT));
}

static void test_workers_block_signals(void **state)
{
	struct pool *p;
	sigset_t before, after;

	(void)state;
	pthread_sigmask(SIG_BLOCK, NULL, &before);
	p = pool_create(1, 1);
	assert_non_null(p);
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	/* The creator's own mask is given back unchanged. */
	assert_int_equal(sigismember(&after, SIGTERM),
			 sigismember(&before, SIGTERM));
	assert_int_equal(pool_submit(p, mask_job, NULL), 0);
	pool_destroy(p);
	assert_int_equal(atomic_load(&sigterm_blocked), 1);
}

/* ---- a stolen wake-up is not a job, nor a stop ----------------------------
 */

/*
 * Many workers, a small ring and a storm of tiny jobs: a worker that
 * pool_submit woke often finds that a worker just back from its last job
 * took the new one first.  It must wait again (the while loop of
 * worker_main's LESSON); with an if it would go on as if the pool were
 * stopping and leave it.  So after the storm every job has run once and
 * every worker is still there: STEAL_WORKERS roll-call jobs, each waiting
 * for all the others, are all running at once.
 */
#define STEAL_WORKERS 8
#define STEAL_JOBS 20000
#define STEAL_WAIT_MS 5000

static atomic_int steal_runs;
static atomic_int roll_called;
static atomic_int roll_all_here;
static atomic_int roll_present; /* roll_called when the wait ran out */
static long long roll_deadline; /* written before the roll-call jobs */

static void tiny_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&steal_runs, 1);
}

static void roll_call_job(void *arg)
{
	(void)arg;
	atomic_fetch_add(&roll_called, 1);
	while (atomic_load(&roll_called) < STEAL_WORKERS &&
	       now_ms() < roll_deadline)
		sleep_ms(1);
	if (atomic_load(&roll_called) == STEAL_WORKERS) {
		atomic_fetch_add(&roll_all_here, 1);
	} else {
		int none = 0;

		atomic_compare_exchange_strong(&roll_present, &none,
					       atomic_load(&roll_called));
	}
}

static void test_stolen_wakeup_keeps_worker(void **state)
{
	struct pool *p = pool_create(STEAL_WORKERS, 16);
	long long deadline = now_ms() + STEAL_WAIT_MS;
	int submitted = 0;

	(void)state;
	assert_non_null(p);
	atomic_store(&steal_runs, 0);
	atomic_store(&roll_called, 0);
	atomic_store(&roll_all_here, 0);
	atomic_store(&roll_present, 0);
	while (submitted < STEAL_JOBS && now_ms() < deadline) {
		if (pool_submit(p, tiny_job, NULL) == 0)
			submitted++;
		else
			sched_yield(); /* full: the workers are behind */
	}
	while (atomic_load(&steal_runs) < submitted && now_ms() < deadline)
		sleep_ms(1);
	/* Short of either: the workers stopped taking jobs. */
	assert_int_equal(submitted, STEAL_JOBS);
	assert_int_equal(atomic_load(&steal_runs), STEAL_JOBS);
	roll_deadline = now_ms() + STEAL_WAIT_MS;
	for (int i = 0; i < STEAL_WORKERS; i++)
		assert_int_equal(pool_submit(p, roll_call_job, NULL), 0);
	pool_destroy(p);
	if (atomic_load(&roll_all_here) != STEAL_WORKERS)
		fail_msg("only %d of %d workers still take jobs: the others "
			 "left "
			 "the pool on a wake-up that found no job",
			 atomic_load(&roll_present), STEAL_WORKERS);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	errno = 0;
	assert_null(pool_create(0, 8));
	assert_int_equal(errno, EINVAL);
	assert_null(pool_create(2, 0));
	assert_int_equal(errno, EINVAL);
	pool_destroy(NULL);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_job_runs_once),
		cmocka_unit_test(test_full_queue_is_eagain),
		cmocka_unit_test(test_depth_gauge),
		cmocka_unit_test(test_destroy_runs_queued_jobs),
		cmocka_unit_test(test_many_submitters),
		cmocka_unit_test(test_workers_block_signals),
		cmocka_unit_test(test_stolen_wakeup_keeps_worker),
		cmocka_unit_test(test_bad_arguments),
	};

	/* build/tests/test_pool 'test_stolen*' runs the tests that match. */
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
