/*
 * docfile.c - see docfile.h.
 */
#include "docfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <unistd.h>

unsigned char docfile_byte(size_t i)
{
	return (unsigned char)((i * 7 + i / 251) & 0xff);
}

int docfile_write(const char *dir, const char *name, const void *data,
		  size_t len)
{
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd, saved;
	ssize_t w;

	if (n < 0 || (size_t)n >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	w = len > 0 ? write(fd, data, len) : 0;
	saved = errno;
	if (close(fd) != 0 || w != (ssize_t)len) {
		errno = w < 0 ? saved : EIO;
		return -1;
	}
	return 0;
}
