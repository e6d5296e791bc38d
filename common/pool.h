/*
 * pool.h - a fixed pool of worker threads fed by a bounded queue.
 *
 * 04 pushes accepted connections, 06 pushes requests whose handler may block.
 * pool_submit() never blocks: when the queue is full it fails with EAGAIN
 * and the caller sheds the load (a 503) instead of queueing without bound.
 *
 * Thread safety: pool_submit may be called from any thread; create and
 * destroy from one thread only.
 */
#ifndef POOL_H
#define POOL_H

#include <stdatomic.h>
#include <stddef.h>

typedef void pool_job_fn(void *arg);

struct pool;

/*
 * Starts threads workers with a queue of capacity jobs.  Workers block every
 * signal, so SIGINT/SIGTERM reach the main thread.  Returns NULL on error
 * (errno set).
 */
struct pool *pool_create(int threads, int capacity);

/* Queues fn(arg).  Returns 0, or -1 with errno EAGAIN when full. */
int pool_submit(struct pool *p, pool_job_fn *fn, void *arg);

/*
 * From now on keeps *gauge equal to the number of jobs waiting in the queue
 * (queued, not yet taken by a worker), so another thread can read the depth
 * without the pool's lock: 04 and 06 pass stats_queue_gauge() for
 * /api/stats.  gauge must outlive the pool; NULL stops the updates.  May be
 * called from any thread.
 */
void pool_set_depth_gauge(struct pool *p, atomic_int_fast64_t *gauge);

/*
 * Stops taking jobs, lets the workers finish every queued job, joins them
 * and frees the pool.
 */
void pool_destroy(struct pool *p);

#endif /* POOL_H */
