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
 * Opens a TCP listener on host:port (port 0 = ephemeral) with SO_REUSEADDR
 * and close-on-exec.  host is a numeric address or a name.  Returns the
 * descriptor, or -1 (errno set; EADDRNOTAVAIL-style errors for bad hosts).
 */
int net_listen(const char *host, int port, int backlog);

/* Writes "127.0.0.1:PORT" (or "[::1]:PORT") for the socket's local side. */
int net_local_address(int fd, char *out, size_t outsz);

/* Writes the peer's address without port ("127.0.0.1") into out. */
int net_peer_address(int fd, char *out, size_t outsz);

/* Sets or clears O_NONBLOCK. */
int net_set_nonblocking(int fd, bool on);

/* Sets TCP_NODELAY: responses go out at once, not after the Nagle delay. */
int net_set_nodelay(int fd);

#endif /* NET_H */
