/*
 * 01_blocking - one connection at a time, in one thread.
 *
 * The model: accept a connection, serve every request on it until the
 * client closes or the keep-alive timeout fires, then accept the next.
 * There is one thread and no concurrency at all; the kernel's listen
 * backlog is the only waiting room.
 *
 * What it costs: nothing per connection beyond the socket and one request
 * buffer, so it is the baseline for every other model.
 *
 * How it fails: while one client holds its connection - a keep-alive
 * browser tab, a slow upload, a /api/sleep - everybody else waits in the
 * backlog, however idle the CPU.  One slow client stops the whole server.
 *
 * What changed: this is the first model; 02_fork starts from here.
 */
#include "accept.h"
#include "serve.h"
#include "server.h"

#define MODEL "01_blocking"

static int run(struct server *srv)
{
	int fd;

	/*
	 * One thread serves files: its cache needs no lock.  LESSON: the
	 * same thread checks every request against the rate limit, so the
	 * buckets are plain memory too.
	 */
	if (app_open_files(&srv->app, &srv->opt, FILE_CACHE_PRIVATE) != 0 ||
	    server_open_ratelimit(srv, RATELIMIT_PRIVATE) != 0)
		return -1;
	while ((fd = accept_wait(srv)) >= 0) {
		/*
		 * LESSON: serve_connection returns only when this client is
		 * done.  Until then nobody else is accepted.
		 */
		serve_connection(srv, fd);
	}
	app_close_files(&srv->app);
	return 0;
}

int main(int argc, char **argv)
{
	return server_main(argc, argv, MODEL, run);
}
