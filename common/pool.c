/*
 * pool.c - a fixed pool of worker threads fed by a bounded ring of jobs.
 *
 *   pool_submit()  --push-->  [ ring of capacity jobs ]  --pop-->  worker 1..N
 *
 * One mutex guards the ring and the stopping flag.  Workers sleep on the
 * condition variable not_empty until a job or the stop arrives.  The
 * submitter never sleeps: a full ring is EAGAIN, and the caller sheds the
 * work (a 503) instead of building an unbounded queue or stalling its loop.
 *
 * The depth gauge is a copy of count for readers outside the lock (the
 * /api/stats handler): written only under the lock, read with no lock.
 *
 * pool_destroy() needs no second condition variable: it sets stopping,
 * wakes every worker, and pthread_join() is the wait for "every queued job
 * has run and every worker has left".
 */
#include "pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>

struct pool_job {
	pool_job_fn *fn;
	void *arg;
};

struct pool {
	pthread_mutex_t lock;	  /* guards everything below */
	pthread_cond_t not_empty; /* signalled when a job or the stop arrives */
	struct pool_job *jobs;	  /* the ring: capacity slots */
	int capacity;
	int head;      /* the oldest job */
	int count;     /* jobs in the ring */
	bool stopping; /* pool_destroy has begun */
	pthread_t *threads;
	int started;		    /* workers created (to join) */
	atomic_int_fast64_t *gauge; /* kept equal to count, or NULL */
};

/* Copies count to the gauge.  The caller holds the lock. */
static void publish_depth(struct pool *p)
{
	/*
	 * LESSON: every write happens under the lock, which already orders
	 * them; the gauge is atomic only for its reader, who takes no lock
	 * and needs a value the depth really had, nothing more.  A relaxed
	 * store is enough.
	 */
	if (p->gauge != NULL)
		atomic_store_explicit(p->gauge, p->count, memory_order_relaxed);
}

/* Takes the oldest job off the ring.  The caller holds the lock. */
static struct pool_job take_job(struct pool *p)
{
	struct pool_job job = p->jobs[p->head];

	p->head = (p->head + 1) % p->capacity;
	p->count--;
	publish_depth(p);
	return job;
}

static void *worker_main(void *arg)
{
	struct pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct pool_job job;

		/*
		 * LESSON: a condition variable is always waited on in a
		 * while loop that re-tests the condition.  pthread_cond_wait
		 * may return without a signal (a spurious wakeup), and even
		 * after a real signal another worker may have taken the job
		 * before this one got the mutex back.
		 */
#ifndef BREAK_COND_IF
		while (p->count == 0 && !p->stopping)
#else /* the lab: one wait, and no second look */
		if (p->count == 0 && !p->stopping)
#endif
			pthread_cond_wait(&p->not_empty, &p->lock);
		if (p->count == 0)
			break; /* stopping, and the ring is drained */
		job = take_job(p);
		/* Never run a job under the lock: it would serialise them. */
		pthread_mutex_unlock(&p->lock);
		job.fn(job.arg);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Wakes the workers so they drain the ring and leave, and joins them. */
static void stop_workers(struct pool *p)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->not_empty);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
}

/*
 * Creates the workers with every signal blocked.  A thread inherits its
 * creator's signal mask, so we block all, create, and restore ours.
 */
static int start_workers(struct pool *p, int threads)
{
	sigset_t all, saved;
	int rc = 0;

	/*
	 * LESSON: a process-directed signal (SIGTERM from kill) goes to any
	 * thread that does not block it.  Blocking them in the workers means
	 * it always lands in the main thread, which owns the shutdown.
	 */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	while (p->started < threads) {
		rc = pthread_create(&p->threads[p->started], NULL, worker_main,
				    p);
		if (rc != 0)
			break;
		p->started++;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return rc;
}

struct pool *pool_create(int threads, int capacity)
{
	struct pool *p;
	int rc;

	if (threads < 1 || capacity < 1) {
		errno = EINVAL;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->capacity = capacity;
	p->jobs = calloc((size_t)capacity, sizeof(*p->jobs));
	p->threads = calloc((size_t)threads, sizeof(*p->threads));
	rc = ENOMEM;
	if (p->jobs == NULL || p->threads == NULL)
		goto out_free;
	rc = pthread_mutex_init(&p->lock, NULL);
	if (rc != 0)
		goto out_free;
	rc = pthread_cond_init(&p->not_empty, NULL);
	if (rc != 0)
		goto out_destroy_lock;
	rc = start_workers(p, threads);
	if (rc != 0)
		goto out_stop_workers;
	return p;

out_stop_workers:
	stop_workers(p); /* the workers that did start */
	pthread_cond_destroy(&p->not_empty);
out_destroy_lock:
	pthread_mutex_destroy(&p->lock);
out_free:
	free(p->threads);
	free(p->jobs);
	free(p);
	errno = rc;
	return NULL;
}

int pool_submit(struct pool *p, pool_job_fn *fn, void *arg)
{
	int slot;

	pthread_mutex_lock(&p->lock);
	/* A stopping pool takes no more work: the caller sheds it too. */
	if (p->count == p->capacity || p->stopping) {
		pthread_mutex_unlock(&p->lock);
		errno = EAGAIN;
		return -1;
	}
	slot = (p->head + p->count) % p->capacity;
	p->jobs[slot] = (struct pool_job){ .fn = fn, .arg = arg };
	p->count++;
	publish_depth(p);
	/* One job wakes one worker; broadcast would wake them all to race. */
	pthread_cond_signal(&p->not_empty);
	pthread_mutex_unlock(&p->lock);
	return 0;
}

void pool_set_depth_gauge(struct pool *p, atomic_int_fast64_t *gauge)
{
	pthread_mutex_lock(&p->lock);
	p->gauge = gauge;
	publish_depth(p);
	pthread_mutex_unlock(&p->lock);
}

void pool_destroy(struct pool *p)
{
	if (p == NULL)
		return;
	stop_workers(p);
	pthread_cond_destroy(&p->not_empty);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p->jobs);
	free(p);
}
