/*
 * serve.h - the blocking connection loop of models 01 to 04.
 *
 * serve_connection() owns one accepted socket: read, parse, route, write,
 * and again for the next request on a keep-alive connection, until the
 * client closes, a request is malformed, the connection idles past
 * --keepalive-timeout (or a request trickles in slower than
 * --header-timeout), or the server is stopping.  It blocks the calling
 * thread or process for all that time: that is the lesson of 01 to 04.
 *
 * Thread safety: re-entrant; one call per connection.
 */
#ifndef SERVE_H
#define SERVE_H

struct server;

/*
 * The stack a thread running serve_connection needs, with a margin: its
 * deepest path takes about 30 KiB (gcc -fstack-usage), so 256 KiB instead
 * of the default 8 MiB (03's threads).
 */
#define SERVE_STACK_SIZE (256 * 1024)

/*
 * Serves fd until it is done, then closes it.  Returns the number of
 * requests answered.
 */
int serve_connection(const struct server *srv, int fd);

#endif /* SERVE_H */
