/*
 * tap.h - counts the system calls that common/ makes on one socket.
 *
 * A unit test that includes this file defines poll, recv, read, writev,
 * shutdown, getpeername and setsockopt itself.  The test program is linked with
 * libcommon.a, and a function the program defines wins over the C
 * library's, so serve.c and conn.c call these; each counts the call if it
 * is about tap.fd, runs the test's hook, and calls the real function
 * (dlsym RTLD_NEXT: the C library's, or a sanitizer's in front of it).
 *
 * The hooks play the client at exact moments - "before the server reads
 * again", "once the server has decided to wait" - so the tests need no
 * sleeps and no luck.
 *
 * Include it in one test file of a program only: it defines functions.
 * Thread safety: none; the tests are single-threaded.
 */
#ifndef TESTS_UNIT_TAP_H
#define TESTS_UNIT_TAP_H

#include <dlfcn.h>
#include <errno.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

struct tap {
	int fd; /* the socket watched; -1: count nothing */
	int polls, reads, empty_reads, writes, shutdowns, getpeernames,
		setsockopts;
	/* Called after a read, a write, or before a poll on fd; may be NULL. */
	void (*after_read)(ssize_t n);
	void (*after_write)(ssize_t n);
	void (*before_poll)(void);
};

static struct tap tap = { .fd = -1 };

static void tap_reset(int fd)
{
	tap = (struct tap){ .fd = fd };
}

/* The next definition of name after this program: libc's, or ASan's. */
static void *tap_real(const char *name)
{
	return dlsym(RTLD_NEXT, name);
}

/* The real poll, for the hooks: not counted. */
static int tap_real_poll(struct pollfd *p, nfds_t n, int ms)
{
	int (*real)(struct pollfd *, nfds_t, int) = tap_real("poll");

	return real(p, n, ms);
}

/*
 * Waits (at most 5 s) until fd has at least len bytes to read, or an EOF
 * if len is 0: what a hook sent is then surely there for the server.
 */
static bool tap_wait_readable(int fd, int len)
{
	for (int i = 0; i < 5000; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN | POLLRDHUP };
		int avail = 0;

		if (len == 0 && tap_real_poll(&p, 1, 1) > 0 &&
		    (p.revents & (POLLRDHUP | POLLHUP)))
			return true;
		if (len > 0 && ioctl(fd, FIONREAD, &avail) == 0 &&
		    avail >= len)
			return true;
		if (len > 0)
			tap_real_poll(&p, 0, 1); /* sleep 1 ms */
	}
	return false;
}

/*
 * Waits (at most 5 s) until the peer has acknowledged every byte written
 * to fd (SIOCOUTQ is 0): the client's kernel has the whole response.
 */
static bool tap_wait_acked(int fd)
{
	for (int i = 0; i < 5000; i++) {
		int unacked = -1;

		if (ioctl(fd, SIOCOUTQ, &unacked) == 0 && unacked == 0)
			return true;
		tap_real_poll(NULL, 0, 1); /* sleep 1 ms */
	}
	return false;
}

/*
 * glibc marks poll's array write-only (access attribute), so gcc takes
 * reading the fds we are given for reading uninitialized memory.
 */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
int poll(struct pollfd *fds, nfds_t nfds, int timeout)
{
	bool ours = false;

	for (nfds_t i = 0; i < nfds; i++)
		ours |= fds[i].fd == tap.fd && tap.fd >= 0;
	if (ours) {
		tap.polls++;
		if (tap.before_poll != NULL)
			tap.before_poll();
	}
	return tap_real_poll(fds, nfds, timeout);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

/* Counts a read on tap.fd that returned n, and runs the hook. */
static void tap_count_read(int fd, ssize_t n)
{
	if (fd != tap.fd || tap.fd < 0)
		return;
	tap.reads++;
	if (n < 0 && errno == EAGAIN)
		tap.empty_reads++;
	if (tap.after_read != NULL) {
		int saved = errno;

		tap.after_read(n);
		errno = saved;
	}
}

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t (*real)(int, void *, size_t, int) = tap_real("recv");
	ssize_t n = real(fd, buf, len, flags);

	tap_count_read(fd, n);
	return n;
}

ssize_t read(int fd, void *buf, size_t len)
{
	ssize_t (*real)(int, void *, size_t) = tap_real("read");
	ssize_t n = real(fd, buf, len);

	tap_count_read(fd, n);
	return n;
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
	ssize_t (*real)(int, const struct iovec *, int) = tap_real("writev");
	ssize_t n = real(fd, iov, iovcnt);

	if (fd == tap.fd && tap.fd >= 0) {
		int saved = errno;

		tap.writes++;
		if (tap.after_write != NULL)
			tap.after_write(n);
		errno = saved;
	}
	return n;
}

/* A lingering close begins with one: counts them on tap.fd. */
int shutdown(int fd, int how)
{
	int (*real)(int, int) = tap_real("shutdown");

	if (fd == tap.fd && tap.fd >= 0)
		tap.shutdowns++;
	return real(fd, how);
}

/* glibc declares the address argument as __SOCKADDR_ARG (_GNU_SOURCE). */
int getpeername(int fd, __SOCKADDR_ARG addr, socklen_t *restrict len)
{
	int (*real)(int, __SOCKADDR_ARG, socklen_t *) = tap_real("getpeername");

	if (fd == tap.fd && tap.fd >= 0)
		tap.getpeernames++;
	return real(fd, addr, len);
}

int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	int (*real)(int, int, int, const void *, socklen_t) =
		tap_real("setsockopt");

	if (fd == tap.fd && tap.fd >= 0)
		tap.setsockopts++;
	return real(fd, level, name, val, len);
}

/*
 * A connected pair over loopback, the tapped side accepted with
 * accept_flags (SOCK_NONBLOCK for 05/06, 0 for 01-04's blocking socket).
 * Returns the server's end; *client gets the other.  The includer has
 * cmocka and net.h.
 */
static int tap_connect_pair(int *client, int accept_flags)
{
	int l = net_listen("127.0.0.1", 0, 4, NET_PORT_OWN), s;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	assert_true(l >= 0);
	assert_int_equal(getsockname(l, (struct sockaddr *)&ss, &len), 0);
	*client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(*client >= 0);
	assert_int_equal(connect(*client, (struct sockaddr *)&ss, len), 0);
	s = accept4(l, NULL, NULL, accept_flags | SOCK_CLOEXEC);
	assert_true(s >= 0);
	close(l);
	tap_reset(s);
	return s;
}

#endif /* TESTS_UNIT_TAP_H */
