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
 * Serves fd until it is done, then closes it.  Returns the number of
 * requests answered.
 */
int serve_connection(const struct server *srv, int fd);

/*
 * Answers fd with status (503 when a model is at its limit) and
 * Connection: close, without reading the request, then closes fd.
 */
void serve_reject(const struct server *srv, int fd, int status);

#endif /* SERVE_H */
