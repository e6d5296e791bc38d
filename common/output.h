/*
 * output.h - moving an exchange's pending output onto a socket.
 *
 * One step at a time: the head and in-memory body with one writev(), then
 * the file range with sendfile(), so file bytes never pass through user
 * space.  The blocking driver (serve.c) repeats the step until all is out;
 * the non-blocking one (conn.c) until the socket is full (EAGAIN) or its
 * fairness budget is spent.
 *
 * Thread safety: re-entrant; one call per exchange at a time.
 */
#ifndef OUTPUT_H
#define OUTPUT_H

#include <stddef.h>
#include <sys/types.h>

struct exchange;

/*
 * Sends what one writev() or sendfile() (at most max file bytes) takes.
 * Returns the bytes sent (and tells the exchange), 0 when nothing is
 * pending, or -1 with errno (EAGAIN, EINTR, EPIPE, ...; EIO when the file
 * shrank under us).
 */
ssize_t output_send(int fd, struct exchange *ex, size_t max);

#endif /* OUTPUT_H */
