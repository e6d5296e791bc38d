/*
 * net.c - the listening socket and a few descriptor helpers.
 */
#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* Opens, binds and listens on one address; -1 on failure. */
static int listen_on(int family, const struct sockaddr *addr, socklen_t len,
		     int backlog, enum net_port_use use)
{
	int one = 1;
	int fd;

	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0)
		return -1;
	/*
	 * LESSON: without SO_REUSEADDR a restarted server cannot bind its
	 * port while connections of the old one sit in TIME_WAIT.
	 */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		goto out_close_fd;
	/*
	 * LESSON: SO_REUSEPORT lets several listeners bind one port, and the
	 * kernel hashes each new connection to one of them.  Any process of
	 * the same user may join the group and take a share of the clients,
	 * so it is only set when asked for: by default a second server on
	 * the port fails with EADDRINUSE, which is what one wants to see.
	 */
	if (use == NET_PORT_SHARED &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		goto out_close_fd;
	if (bind(fd, addr, len) != 0)
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

int net_listen(const char *host, int port, int backlog, enum net_port_use use)
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
		fd = listen_on(ai->ai_family, ai->ai_addr, ai->ai_addrlen,
			       backlog, use);
	freeaddrinfo(res);
	return fd;
}

int net_listen_again(int fd, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	return listen_on(ss.ss_family, (struct sockaddr *)&ss, len, backlog,
			 NET_PORT_SHARED);
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

int net_set_send_timeout(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000,
			      .tv_usec = (ms % 1000) * 1000 };

	return setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

bool net_is_quiet(int fd)
{
	int unread, unacked;

	if (ioctl(fd, FIONREAD, &unread) != 0 ||
	    ioctl(fd, SIOCOUTQ, &unacked) != 0)
		return false;
	return unread == 0 && unacked == 0;
}

static const unsigned char v4_mapped_prefix[12] = { 0, 0, 0, 0, 0,    0,
						    0, 0, 0, 0, 0xff, 0xff };

static bool ip_is_v4(const struct net_ip *ip)
{
	return memcmp(ip->b, v4_mapped_prefix, sizeof(v4_mapped_prefix)) == 0;
}

/* Writes ip the usual way: dotted quad for IPv4 (mapped), else IPv6. */
static void format_ip(const struct net_ip *ip, char *out, size_t outsz)
{
	bool v4 = ip_is_v4(ip);

	if (inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? ip->b + 12 : ip->b, out,
		      (socklen_t)outsz) == NULL)
		snprintf(out, outsz, "-");
}

void net_peer_unknown(struct net_peer *p)
{
	p->known = false;
	memset(&p->ip, 0, sizeof(p->ip));
	snprintf(p->text, sizeof(p->text), "-");
}

int net_peer_of(int fd, struct net_peer *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	net_peer_unknown(p);
	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)&ss;

		memcpy(p->ip.b, v4_mapped_prefix, sizeof(v4_mapped_prefix));
		memcpy(p->ip.b + 12, &in->sin_addr, 4);
	} else if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)&ss;

		memcpy(p->ip.b, &in6->sin6_addr, 16);
	} else {
		errno = EAFNOSUPPORT;
		return -1;
	}
	p->known = true;
	format_ip(&p->ip, p->text, sizeof(p->text));
	return 0;
}

int net_ip_parse(const char *s, size_t len, struct net_ip *ip)
{
	char lit[INET6_ADDRSTRLEN];
	struct net_ip out;

	/* inet_pton wants a C string; a literal longer than this is not one. */
	if (len == 0 || len >= sizeof(lit) || memchr(s, '\0', len) != NULL)
		goto out_invalid;
	memcpy(lit, s, len);
	lit[len] = '\0';
	memcpy(out.b, v4_mapped_prefix, sizeof(v4_mapped_prefix));
	if (inet_pton(AF_INET, lit, out.b + 12) == 1 ||
	    inet_pton(AF_INET6, lit, out.b) == 1) {
		*ip = out;
		return 0;
	}
out_invalid:
	errno = EINVAL;
	return -1;
}

int net_peer_parse(const char *s, size_t len, struct net_peer *p)
{
	struct net_ip ip;

	if (net_ip_parse(s, len, &ip) != 0)
		return -1;
	p->known = true;
	p->ip = ip;
	format_ip(&p->ip, p->text, sizeof(p->text));
	return 0;
}

bool net_ip_equal(const struct net_ip *a, const struct net_ip *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}
