/*
 * net.h - sockets: the listener, addresses, descriptor flags.
 *
 * Functions return a descriptor or 0 on success and -1 with errno set on
 * failure; they never print.
 *
 * Thread safety: re-entrant.
 */
#ifndef NET_H
#define NET_H

#include <stdbool.h>
#include <stddef.h>

#define NET_BACKLOG 4096
#define NET_ADDR_MAX 64 /* "[ffff:...]:65535" and NUL */

/*
 * An IPv4 or IPv6 address without a port, in network byte order.  IPv4 is
 * kept as its IPv4-mapped IPv6 form ::ffff:a.b.c.d, so one comparison, one
 * hash and one table serve both families, and a client that reaches a
 * dual-stack listener over IPv4 is the same client as over an IPv4 one.
 */
struct net_ip {
	unsigned char b[16];
};

/* Who is at the other end of a connection, for the log and rate limits. */
struct net_peer {
	bool known;		 /* ip holds the address */
	struct net_ip ip;	 /* valid when known */
	char text[NET_ADDR_MAX]; /* "127.0.0.1", "::1"; "-" when unknown */
};

/* Whether other listeners may bind the same address and port. */
enum net_port_use {
	NET_PORT_OWN,	 /* no: a second bind fails with EADDRINUSE */
	NET_PORT_SHARED, /* yes, with SO_REUSEPORT: see net_listen_again */
};

/*
 * Opens a TCP listener on host:port (port 0 = ephemeral) with SO_REUSEADDR
 * and close-on-exec, and SO_REUSEPORT if use is NET_PORT_SHARED.  host is
 * a numeric address or a name.  Returns the descriptor, or -1 (errno set;
 * EADDRNOTAVAIL-style errors for bad hosts).
 */
int net_listen(const char *host, int port, int backlog, enum net_port_use use);

/*
 * Opens one more listener on the address and port that fd, a listener
 * opened with NET_PORT_SHARED, is bound to (its port even if it was asked
 * for port 0).  The kernel then spreads new connections over the two by a
 * hash of the client's address and port.  Returns the descriptor, or -1.
 */
int net_listen_again(int fd, int backlog);

/* Writes "127.0.0.1:PORT" (or "[::1]:PORT") for the socket's local side. */
int net_local_address(int fd, char *out, size_t outsz);

/* Writes the peer's address without port ("127.0.0.1") into out. */
int net_peer_address(int fd, char *out, size_t outsz);

/* Makes p the unknown peer: not known, text "-". */
void net_peer_unknown(struct net_peer *p);

/*
 * Fills p with the peer of socket fd (getpeername).  Returns 0, or -1 with
 * errno set and p unknown (ENOTCONN: the client has already gone).
 */
int net_peer_of(int fd, struct net_peer *p);

/*
 * Fills p from the address literal s[0..len) ("192.0.2.1", "2001:db8::1";
 * no brackets, port or zone): p is known, its text is the address written
 * the usual way (inet_ntop).  Returns 0, or -1 (EINVAL) if s is not a
 * literal, and p is left alone.
 */
int net_peer_parse(const char *s, size_t len, struct net_peer *p);

/*
 * Parses the address literal s[0..len), as net_peer_parse, into *ip.
 * Returns 0, or -1 (EINVAL) and *ip is left alone.
 */
int net_ip_parse(const char *s, size_t len, struct net_ip *ip);

/* True when a and b are the same address. */
bool net_ip_equal(const struct net_ip *a, const struct net_ip *b);

/* Sets or clears O_NONBLOCK. */
int net_set_nonblocking(int fd, bool on);

/*
 * Sets TCP_NODELAY: responses go out at once, not after the Nagle delay.
 * On a listener, every socket accept() returns from it has it too.
 */
int net_set_nodelay(int fd);

/*
 * Sets SO_SNDTIMEO: a blocking write waits at most ms (> 0) for room in
 * the send buffer, then fails with EAGAIN.  On a listener, every socket
 * accept() returns from it has it too.
 */
int net_set_send_timeout(int fd, int ms);

/*
 * True when TCP socket fd is quiet both ways: no input waits unread
 * (FIONREAD) and the peer has acknowledged every byte written to it
 * (SIOCOUTQ: nothing left in the send queue).  False when either is not
 * so, or when either ioctl fails: a caller that asks before a shortcut
 * takes the safe way whenever it cannot tell.
 */
bool net_is_quiet(int fd);

#endif /* NET_H */
