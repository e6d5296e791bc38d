/*
 * net.c - the listening socket and a few descriptor helpers.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Opens, binds and listens on one resolved address; -1 on failure. */
static int listen_on(const struct addrinfo *ai, int backlog)
{
	int one = 1;
	int fd;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC,
		    ai->ai_protocol);
	if (fd < 0)
		return -1;
	/*
	 * LESSON: without SO_REUSEADDR a restarted server cannot bind its
	 * port while connections of the old one sit in TIME_WAIT.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		goto out_close_fd;
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0)
		goto out_close_fd;
	if (listen(fd, backlog) != 0)
		goto out_close_fd;
	return fd;

out_close_fd:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

int net_listen(const char *host, int port, int backlog)
{
	struct addrinfo hints = {
		.ai_family = AF_UNSPEC,
		.ai_socktype = SOCK_STREAM,
		.ai_flags = AI_PASSIVE | AI_NUMERICSERV,
	};
	struct addrinfo *res, *ai;
	char service[16];
	int fd = -1;
	int rc;

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		errno = rc == EAI_SYSTEM ? errno : EADDRNOTAVAIL;
		return -1;
	}
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next)
		fd = listen_on(ai, backlog);
	freeaddrinfo(res);
	return fd;
}

/* Formats a socket address as "1.2.3.4" or "::1", with the port if asked. */
static int format_address(const struct sockaddr_storage *ss, bool with_port,
			  char *out, size_t outsz)
{
	char ip[INET6_ADDRSTRLEN];
	const void *addr;
	int port;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)ss;
		addr = &in->sin_addr;
		port = ntohs(in->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)ss;
		addr = &in6->sin6_addr;
		port = ntohs(in6->sin6_port);
	} else {
		errno = EAFNOSUPPORT;
		return -1;
	}
	if (inet_ntop(ss->ss_family, addr, ip, sizeof(ip)) == NULL)
		return -1;
	if (!with_port)
		snprintf(out, outsz, "%s", ip);
	else if (ss->ss_family == AF_INET6)
		snprintf(out, outsz, "[%s]:%d", ip, port);
	else
		snprintf(out, outsz, "%s:%d", ip, port);
	return 0;
}

int net_local_address(int fd, char *out, size_t outsz)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	return format_address(&ss, true, out, outsz);
}

int net_peer_address(int fd, char *out, size_t outsz)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	return format_address(&ss, false, out, outsz);
}

int net_set_nonblocking(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -1;
	flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags);
}

int net_set_nodelay(int fd)
{
	int one = 1;

	return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}
