/*
 * output.c - one writev() or sendfile() of an exchange's output, and
 * whether the close after the last one may skip lingering.
 */
#include "output.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/uio.h>

#include "exchange.h"
#include "net.h"

ssize_t output_send(int fd, struct exchange *ex, size_t max)
{
	struct iovec iov[EXCHANGE_IOV_MAX];
	int iovcnt = exchange_output_iov(ex, iov);
	ssize_t n;

	if (iovcnt > 0) {
		n = writev(fd, iov, iovcnt);
	} else {
		int file_fd;
		off_t off;
		size_t left = exchange_output_file(ex, &file_fd, &off);

		if (left == 0)
			return 0;
		n = sendfile(fd, file_fd, &off, left < max ? left : max);
		if (n == 0) {
			errno = EIO; /* the file shrank under us */
			return -1;
		}
	}
	if (n > 0)
		exchange_sent(ex, (size_t)n);
	return n;
}

bool output_may_close_at_once(int fd, const struct exchange *ex)
{
	/* The exchange first: a keep-alive or error close costs no ioctl. */
	return exchange_client_closes(ex) && net_is_quiet(fd);
}
