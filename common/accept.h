/*
 * accept.h - taking a client from the listener, or turning it away.
 *
 * All six models accept here.  The blocking ones (01 to 04) call
 * accept_wait(), which sleeps until a client or a stop arrives.  The event
 * loops (05, 06) call accept_nowait() when poll or epoll reports the
 * listener readable, until it says EAGAIN.  A model at its limit (02 and 03
 * past --max-conns, 04 with a full queue, 05 and 06 past --max-conns or out
 * of memory) answers with accept_reject().
 *
 * The listener is non-blocking (server_setup), so a client that gives up
 * between the wake-up and accept4() costs an EAGAIN, never a thread asleep
 * in accept4().  Every accepted descriptor is close-on-exec.
 *
 * Thread safety: re-entrant.  Only one thread should accept at a time.
 */
#ifndef ACCEPT_H
#define ACCEPT_H

struct server;

/*
 * How long accepting rests after the process ran out of descriptors or
 * memory (EMFILE, ENFILE, ENOBUFS, ENOMEM).
 */
#define ACCEPT_PAUSE_MS 100

/*
 * The blocking models' accept: waits on the listener and the stop pipe.
 * Returns the connected socket (blocking), or -1 once a stop is requested.
 * Transient errors (a client that gave up, EINTR) are retried; running out
 * of descriptors or memory rests ACCEPT_PAUSE_MS and retries, so the
 * caller's loop neither spins nor dies.
 */
int accept_wait(const struct server *srv);

/*
 * The event loops' accept: takes one client already waiting on
 * listen_fd, without waiting.  Returns its socket (non-blocking), or -1
 * with errno EAGAIN when nobody is waiting; any other errno (EMFILE, ...)
 * means "stop accepting for ACCEPT_PAUSE_MS".  Transient errors are
 * retried here.
 */
int accept_nowait(int listen_fd);

/*
 * Answers fd with status (503 when a model is at its limit) and
 * Connection: close, without reading the request, counts the response and
 * closes fd.  Never blocks: the answer fits an empty send buffer.
 */
void accept_reject(const struct server *srv, int fd, int status);

#endif /* ACCEPT_H */
