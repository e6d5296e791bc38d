/*
 * accept.c - accepting clients, blocking or not, and refusing them.
 */
#include "accept.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "app.h"
#include "server.h"
#include "stats.h"

/*
 * True for accept errors that say "try again", not "something is short".
 * LESSON: a client that connects and resets before we accept it
 * (ECONNABORTED; EPROTO on some systems) or that a firewall refuses (EPERM)
 * is its own problem: the next client is fine.
 */
static bool is_transient(int err)
{
	return err == EINTR || err == ECONNABORTED || err == EPROTO ||
	       err == EPERM;
}

/*
 * Waits on the listener and the stop pipe at once.  Returns true when a
 * client is waiting, false on a stop.  A signal - the stop itself, or
 * 02's SIGCHLD - interrupts poll: look again.
 */
static bool wait_for_client(const struct server *srv)
{
	struct pollfd p[2] = {
		{ .fd = srv->listen_fd, .events = POLLIN },
		{ .fd = srv->stop_fd, .events = POLLIN },
	};
	int n;

	do
		n = poll(p, 2, -1);
	while (n < 0 && errno == EINTR);
	return !(n > 0 && p[1].revents != 0);
}

/*
 * Sleeps up to ms watching only the stop pipe; true on a stop.  The
 * listener stays out of this wait: it is still readable, and watching it
 * would end the rest at once.
 */
static bool wait_for_stop(const struct server *srv, int ms)
{
	struct pollfd p = { .fd = srv->stop_fd, .events = POLLIN };

	return poll(&p, 1, ms) > 0;
}

int accept_wait(const struct server *srv)
{
	for (;;) {
		int fd;

		if (!wait_for_client(srv))
			return -1;
		fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		if (errno == EAGAIN || is_transient(errno))
			continue;
#ifdef BREAK_NO_EMFILE_BACKOFF /* the lab: no rest, straight back */
		continue;
#endif
		/*
		 * LESSON: EMFILE, ENFILE, ENOBUFS, ENOMEM: the pending client
		 * stays in the backlog and poll would report it again at
		 * once.  Rest so the loop does not spin, and try again when
		 * connections have closed.
		 */
		if (wait_for_stop(srv, ACCEPT_PAUSE_MS))
			return -1;
	}
}

int accept_nowait(int listen_fd)
{
	for (;;) {
		int fd = accept4(listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0 || !is_transient(errno))
			return fd;
	}
}

void accept_reject(const struct server *srv, int fd, int status)
{
	struct response resp;
	struct iovec iov[2];
	char sink[4096];

	app_handle_error(status, false, &resp);
	iov[0] = (struct iovec){ .iov_base = resp.head,
				 .iov_len = resp.head_len };
	iov[1] = (struct iovec){ .iov_base = (void *)resp.body,
				 .iov_len = resp.body_len };
	/* A fresh socket's send buffer is empty: this write does not block. */
	if (writev(fd, iov, 2) < 0) {
		close(fd);
		return;
	}
	stats_record(srv->stats, status, 0);
	/* Discard a request already received, so close() sends FIN not RST. */
	shutdown(fd, SHUT_WR);
	while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
		;
	close(fd);
}
