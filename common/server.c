/*
 * server.c - start-up, shutdown and the main() that all six models share.
 *
 * server_main() is, in effect, every model's main(): each main.c passes it
 * the model's name and its run() function, so the six files differ only in
 * the part that is their model.  It is the one function in common/ that
 * prints, because it is the program's entry point.
 */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "http_date.h"
#include "log.h"
#include "net.h"
#include "static_files.h"

/*
 * The write end of the stop pipe, for the signal handler.  A handler cannot
 * be given an argument, so this one descriptor is the single piece of global
 * state in common/.
 */
static int stop_signal_fd = -1;

static void on_stop_signal(int sig)
{
	int saved = errno; /* the handler must not change errno under us */
	ssize_t rc;

	(void)sig;
	/* write(2) is async-signal-safe; a full pipe means one byte is in. */
	rc = write(stop_signal_fd, "x", 1);
	(void)rc;
	errno = saved;
}

/*
 * SIGHUP: logrotate has renamed the access log.  Only a request here; the
 * next line logged by each process reopens the file (log.h).
 */
static void on_hangup(int sig)
{
	int saved = errno;

	(void)sig;
	log_reopen_request();
	errno = saved;
}

static int install_signals(const struct server *srv)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	/*
	 * LESSON: a client that closes early makes write() raise SIGPIPE,
	 * whose default action kills the process.  Ignored, write() fails
	 * with EPIPE instead and only that connection ends.
	 */
	sa.sa_handler = SIG_IGN;
#ifdef BREAK_SIGPIPE /* the lab: SIGPIPE keeps its default, death */
	sa.sa_handler = SIG_DFL;
#endif
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -1;
	/* No SA_RESTART: a blocked call returns EINTR and sees the stop. */
	sa.sa_handler = on_stop_signal;
	sa.sa_flags = 0;
	if (sigaction(SIGINT, &sa, NULL) != 0 ||
	    sigaction(SIGTERM, &sa, NULL) != 0)
		return -1;
	/*
	 * LESSON: SIGHUP's default action ends the process, so a server
	 * that does not expect it dies at the first log rotation.  With no
	 * file to reopen (stderr, or --quiet) it is ignored.  SA_RESTART:
	 * a rotation is not a reason to cut short a read or a write; the
	 * calls SA_RESTART cannot restart (poll, epoll_wait, nanosleep)
	 * already retry on EINTR, as 02's SIGCHLD needs them to.
	 */
	sa.sa_handler = srv->opt.access_log != NULL ? on_hangup : SIG_IGN;
	sa.sa_flags = SA_RESTART;
	return sigaction(SIGHUP, &sa, NULL);
}

/* Raises the descriptor limit to the hard limit: one fd per connection. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int open_log(struct server *srv, char *err, size_t errsz)
{
	srv->log_fd = -1;
	if (srv->opt.access_log != NULL) {
		srv->log_fd = log_open(srv->opt.access_log);
		if (srv->log_fd < 0 ||
		    log_reopen_setup(srv->log_fd, srv->opt.access_log) != 0) {
			snprintf(err, errsz, "--access-log %s: %s",
				 srv->opt.access_log, strerror(errno));
			if (srv->log_fd >= 0)
				close(srv->log_fd);
			return -1;
		}
	} else if (!srv->opt.quiet) {
		srv->log_fd = STDERR_FILENO;
	}
	return 0;
}

/* A late SIGHUP finds no handler, then nothing to reopen. */
static void close_log(struct server *srv)
{
	signal(SIGHUP, SIG_IGN);
	log_reopen_teardown();
	if (srv->log_fd > STDERR_FILENO)
		close(srv->log_fd);
}

static int open_stop_pipe(struct server *srv)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC | O_NONBLOCK) != 0)
		return -1;
	srv->stop_fd = fds[0];
	srv->stop_write_fd = fds[1];
	stop_signal_fd = fds[1];
	return 0;
}

/*
 * What every accepted socket needs, set once on the listener.
 *
 * LESSON: on Linux a socket that accept() returns is a copy of the
 * listening socket, socket options included, so TCP_NODELAY and
 * SO_SNDTIMEO set here hold for every connection: two setsockopt calls
 * saved per connection (tests/unit/test_net.c checks the copy, since POSIX
 * does not promise it).  O_NONBLOCK is not copied - it is a flag of the
 * open file, not of the socket - so the event loops ask accept4() for it.
 */
static int configure_listener(const struct server *srv, int fd)
{
	/*
	 * Non-blocking, so that a client that gives up between poll() and
	 * accept4() costs an EAGAIN, not a thread asleep in accept4().
	 */
	if (net_set_nonblocking(fd, true) != 0 || net_set_nodelay(fd) != 0)
		return -1;
	/*
	 * LESSON: a send timeout bounds how long a client that stops reading
	 * can hold a blocking model's thread inside write() or sendfile().
	 * The event loops' sockets are non-blocking: it never applies there.
	 */
	return net_set_send_timeout(fd, srv->opt.keepalive_timeout_ms);
}

int server_setup(struct server *srv, const char *model,
		 const struct options *opt, char *err, size_t errsz)
{
	memset(srv, 0, sizeof(*srv));
	srv->opt = *opt;
	srv->listen_fd = srv->stop_fd = srv->stop_write_fd = -1;
	http_limits_init(&srv->limits);
	srv->limits.max_body = opt->max_body;
	http_date_init();

	if (file_resolve_root(opt->root, srv->root, sizeof(srv->root)) != 0) {
		snprintf(err, errsz, "--root %s: %s", opt->root,
			 strerror(errno));
		return -1;
	}
	if (open_log(srv, err, errsz) != 0)
		return -1;
	srv->stats = stats_create();
	if (srv->stats == NULL) {
		snprintf(err, errsz, "counters: %s", strerror(errno));
		goto out_close_log;
	}
	srv->app = (struct app){ .root = srv->root,
				 .model = model,
				 .stats = srv->stats };
	raise_fd_limit();
	srv->listen_fd =
		net_listen(opt->host, opt->port, NET_BACKLOG,
			   opt->loops > 1 ? NET_PORT_SHARED : NET_PORT_OWN);
	if (srv->listen_fd < 0) {
		snprintf(err, errsz, "cannot listen on %s:%d: %s", opt->host,
			 opt->port, strerror(errno));
		goto out_destroy_stats;
	}
	if (configure_listener(srv, srv->listen_fd) != 0 ||
	    open_stop_pipe(srv) != 0 || install_signals(srv) != 0) {
		snprintf(err, errsz, "listener or signals: %s",
			 strerror(errno));
		goto out_close_listener;
	}
	return 0;

out_close_listener:
	close(srv->listen_fd);
out_destroy_stats:
	stats_destroy(srv->stats);
out_close_log:
	close_log(srv);
	return -1;
}

void server_teardown(struct server *srv)
{
	server_stop_listening(srv);
	server_close_ratelimit(srv);
	close_log(srv);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	close(srv->stop_fd);
	close(srv->stop_write_fd);
	stats_destroy(srv->stats);
}

int server_main(int argc, char **argv, const char *model,
		int (*run)(struct server *srv))
{
	struct options opt;
	struct server srv;
	char err[512], addr[NET_ADDR_MAX];
	int rc;

	opt_defaults(&opt);
	switch (opt_parse(&opt, argc, argv, err, sizeof(err))) {
	case OPT_HELP:
		opt_print_usage(stdout, model);
		return 0;
	case OPT_VERSION:
		printf("%s %s\n", model, PROJECT_VERSION);
		return 0;
	case OPT_EXIT_ERROR:
		fprintf(stderr, "%s: %s (try --help)\n", model, err);
		return 2;
	case OPT_RUN:
		break;
	}
	if (server_setup(&srv, model, &opt, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s: %s\n", model, err);
		return 2;
	}
	if (net_local_address(srv.listen_fd, addr, sizeof(addr)) != 0)
		snprintf(addr, sizeof(addr), "%s:%d", opt.host, opt.port);
	/* Tests and the bench read this line to learn an ephemeral port. */
	printf("listening on http://%s\n", addr);
	fflush(stdout);
	rc = run(&srv);
	if (rc != 0)
		fprintf(stderr, "%s: %s\n", model, strerror(errno));
	server_teardown(&srv);
	return rc == 0 ? 0 : 2;
}

int server_listen_again(const struct server *srv)
{
	int fd = net_listen_again(srv->listen_fd, NET_BACKLOG);

	if (fd < 0)
		return -1;
	if (configure_listener(srv, fd) != 0) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

int server_open_ratelimit(struct server *srv, enum ratelimit_sharing sharing)
{
	struct ratelimit_config cfg = {
		.rate = srv->opt.rate_limit,
		.burst = srv->opt.burst,
		.slots = RATELIMIT_SLOTS,
		.sharing = sharing,
	};

	srv->ratelimit = NULL;
	if (srv->opt.rate_limit <= 0)
		return 0;
	srv->ratelimit = ratelimit_create(&cfg);
	return srv->ratelimit != NULL ? 0 : -1;
}

void server_close_ratelimit(struct server *srv)
{
	ratelimit_destroy(srv->ratelimit);
	srv->ratelimit = NULL;
}

void server_request_stop(const struct server *srv)
{
	ssize_t rc = write(srv->stop_write_fd, "x", 1);

	(void)rc; /* a full pipe means one byte is in: that is enough */
}

void server_stop_listening(struct server *srv)
{
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	srv->listen_fd = -1;
}

int server_wait_live(const atomic_int *live)
{
	long long deadline = clock_now_ms() + SERVER_GRACE_MS;

	/*
	 * A poll of the count, not a condition variable: 02's children are
	 * counted out by a signal handler, which cannot signal one.
	 */
	while (atomic_load(live) > 0 && clock_now_ms() < deadline)
		clock_sleep_ms(10);
	return atomic_load(live);
}
