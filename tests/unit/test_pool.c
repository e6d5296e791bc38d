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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_job_runs_once),
		cmocka_unit_test(test_full_queue_is_eagain),
		cmocka_unit_test(test_depth_gauge),
		cmocka_unit_test(test_destroy_runs_queued_jobs),
		cmocka_unit_test(test_many_submitters),
		cmocka_unit_test(test_workers_block_signals),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
