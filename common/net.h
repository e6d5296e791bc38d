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

#endif /* NET_H */
