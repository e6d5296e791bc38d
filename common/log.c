/*
 * log.c - one Common Log Format line per response, one write(2) per line.
 *
 * The request target is the client's bytes, so it is escaped before it
 * reaches the log: a quote would end the quoted field early, and a newline
 * or an escape sequence could forge a line or repaint a terminal that tails
 * the log.  Anything outside printable ASCII, '"' and '\' become "\xHH",
 * as Apache does.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "http_date.h"

int log_open(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

/* Appends view s to out[*len..outsz-1), escaped; stops when full. */
static void put_escaped(char *out, size_t outsz, size_t *len,
			const struct http_str *s)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < s->len; i++) {
		unsigned char c = (unsigned char)s->p[i];
		bool plain = c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
		size_t need = plain ? 1 : 4;

		if (*len + need >= outsz)
			break;
		if (plain) {
			out[(*len)++] = (char)c;
			continue;
		}
		out[(*len)++] = '\\';
		out[(*len)++] = 'x';
		out[(*len)++] = hex[c >> 4];
		out[(*len)++] = hex[c & 15];
	}
	out[*len] = '\0';
}

/* "GET /path HTTP/1.1", or "-" when there is no parsed request. */
static void format_request(char *out, size_t outsz,
			   const struct http_request *req)
{
	size_t len = 0;

	if (req == NULL || req->method_name.len == 0) {
		snprintf(out, outsz, "-");
		return;
	}
	/* Leave room for " HTTP/1.x" however long the target is. */
	put_escaped(out, outsz - 10, &len, &req->method_name);
	out[len++] = ' ';
	put_escaped(out, outsz - 10, &len, &req->target);
	snprintf(out + len, outsz - len, " HTTP/1.%d",
		 req->version_minor == 0 ? 0 : 1);
}

size_t log_format_clf(char *out, size_t outsz, const char *peer, time_t when,
		      const struct http_request *req, int status, size_t bytes)
{
	char request[2048], size[24], date[HTTP_DATE_CLF_LEN];
	int n;

	if (outsz == 0)
		return 0;
	http_date_format_clf(when, date);
	format_request(request, sizeof(request), req);
	/* CLF writes "-" for a response without a body. */
	if (bytes == 0)
		snprintf(size, sizeof(size), "-");
	else
		snprintf(size, sizeof(size), "%zu", bytes);
	n = snprintf(out, outsz, "%s - - [%s] \"%s\" %d %s\n",
		     peer != NULL && peer[0] != '\0' ? peer : "-", date,
		     request, status, size);
	if (n < 0)
		return 0;
	if ((size_t)n >= outsz) {
		/* Truncated: still end the line, so the next one starts clean.
		 */
		n = (int)outsz - 1;
		if (n > 0)
			out[n - 1] = '\n';
	}
	return (size_t)n;
}

void log_access(int fd, const char *peer, const struct http_request *req,
		int status, size_t bytes)
{
	/*
	 * LESSON: one write(2) of the whole line.  With O_APPEND the kernel
	 * moves the offset and writes as one step, so lines from threads and
	 * forked children never interleave; keeping a line within PIPE_BUF
	 * keeps that true when stderr is a pipe.  printf's buffer would
	 * split long lines into several writes.
	 */
	char line[PIPE_BUF];
	size_t len, off = 0;
	ssize_t n;

	if (fd < 0)
		return;
	len = log_format_clf(line, sizeof(line), peer, time(NULL), req, status,
			     bytes);
	while (off < len) {
		n = write(fd, line + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the log is best effort: never fail a reply */
		off += (size_t)n;
	}
}
