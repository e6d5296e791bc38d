/*
 * output.h - moving an exchange's pending output onto a socket.
 *
 * One step at a time: the head and in-memory body with one writev(), then
 * the file range with sendfile(), so file bytes never pass through user
 * space.  The blocking driver (serve.c) repeats the step until all is out;
 * the non-blocking one (conn.c) until the socket is full (EAGAIN) or its
 * fairness budget is spent.  Once the last response is out, it also says
 * whether the connection may close without lingering.
 *
 * Thread safety: re-entrant; one call per exchange at a time.
 */
#ifndef OUTPUT_H
#define OUTPUT_H

#include <stdbool.h>
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

/*
 * On EXCHANGE_CLOSE: true when socket fd may be closed at once, without
 * the lingering close of exchange.h - the client chose the close after a
 * request read whole (exchange_client_closes), no byte of its waits in
 * the socket, and it has acknowledged every byte of the response
 * (net_is_quiet).  False otherwise, or when the socket cannot tell: then
 * linger.  The one place 01-04 (serve.c) and 05/06 (conn.c) decide it.
 */
bool output_may_close_at_once(int fd, const struct exchange *ex);

#endif /* OUTPUT_H */
