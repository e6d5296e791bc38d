/*
 * fake_server.h - a struct server for unit tests that drive the exchange
 * or a connection without a process around them: the default options and
 * limits, no log, fresh counters, and root (a directory the test made) as
 * the document root.  Returns 0, or -1 if the counters or the root fail.
 * The test calls stats_destroy(srv->stats) when done.
 */
#ifndef TESTS_UNIT_FAKE_SERVER_H
#define TESTS_UNIT_FAKE_SERVER_H

#include <string.h>

#include "options.h"
#include "server.h"
#include "static_files.h"
#include "stats.h"

static int fake_server_init(struct server *srv, const char *root)
{
	memset(srv, 0, sizeof(*srv));
	opt_defaults(&srv->opt);
	srv->listen_fd = srv->stop_fd = srv->stop_write_fd = -1;
	srv->log_fd = -1;
	http_limits_init(&srv->limits);
	srv->stats = stats_create();
	if (srv->stats == NULL)
		return -1;
	srv->app = (struct app){ .root = srv->root,
				 .model = "test_model",
				 .stats = srv->stats };
	return file_resolve_root(root, srv->root, sizeof(srv->root));
}

#endif /* TESTS_UNIT_FAKE_SERVER_H */
