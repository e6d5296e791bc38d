/*
 * log.c - one Common Log Format line per response, one write(2) per line.
 *
 * The request target is the client's bytes, so it is escaped before it
 * reaches the log: a quote would end the quoted field early, and a newline
 * or an escape sequence could forge a line or repaint a terminal that tails
 * the log.  Anything outside printable ASCII, '"' and '\' become "\xHH",
 * as Apache does.
 *
 * The reopen on SIGHUP (log.h) is the one piece of process-wide state here:
 * a signal handler takes no argument, and every driver hands log_access() a
 * bare descriptor.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http_date.h"

/* The handler may only touch an atomic that needs no lock. */
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "atomic_uint must be lock-free");

/*
 * Filled by log_reopen_setup() before any thread or child exists; after
 * that only the atomics change, and the lock guards the reopen itself.
 * requested is shared by every process; opened, like the descriptor table
 * it describes, is each process's own copy after fork().
 */
static struct {
	atomic_uint *requested; /* shared mapping: bumped on SIGHUP */
	atomic_uint opened;	/* the generation fd was opened for */
	pthread_mutex_t lock;	/* held by the one thread reopening */
	int fd;
	char path[PATH_MAX];
} reopen = { .requested = NULL, .lock = PTHREAD_MUTEX_INITIALIZER, .fd = -1 };

int log_open(const char *path)
{
	return open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

int log_reopen_setup(int fd, const char *path)
{
	atomic_uint *gen;
	int n = snprintf(reopen.path, sizeof(reopen.path), "%s", path);

	if (n < 0 || (size_t)n >= sizeof(reopen.path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* Shared, like the counters in stats.c: see the LESSON there. */
	gen = mmap(NULL, sizeof(*gen), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (gen == MAP_FAILED)
		return -1;
	atomic_init(gen, 0);
	atomic_store(&reopen.opened, 0);
	reopen.fd = fd;
	reopen.requested = gen;
	return 0;
}

void log_reopen_teardown(void)
{
	if (reopen.requested != NULL)
		munmap(reopen.requested, sizeof(*reopen.requested));
	reopen.requested = NULL;
	reopen.fd = -1;
}

void log_reopen_request(void)
{
	if (reopen.requested != NULL)
		atomic_fetch_add(reopen.requested, 1);
}

/* Opens the path again and puts the new file in place of reopen.fd. */
static int reopen_now(void)
{
	int fd = log_open(reopen.path), rc = 0;

	if (fd < 0)
		return -1;
	/*
	 * LESSON: dup3, not close and open.  Between a close and an open,
	 * another thread's write would fail with EBADF (or, worse, land in
	 * whatever file took the number meanwhile).  dup3 swaps the file
	 * behind the number in one step, and a write already in progress
	 * holds its own reference to the old file and finishes there.
	 */
	if (dup3(fd, reopen.fd, O_CLOEXEC) < 0)
		rc = -1;
	close(fd);
	return rc;
}

int log_reopen_if_requested(void)
{
	unsigned int want;
	int rc, saved;

	if (reopen.requested == NULL ||
	    atomic_load(reopen.requested) == atomic_load(&reopen.opened))
		return 0;
	/* Busy: another thread is reopening; log to the old file meanwhile. */
	if (pthread_mutex_trylock(&reopen.lock) != 0)
		return 0;
	rc = 0;
	want = atomic_load(reopen.requested);
	if (want != atomic_load(&reopen.opened)) {
		rc = reopen_now() == 0 ? 1 : -1;
		/* Even on failure: retry on the next SIGHUP, not every line. */
		atomic_store(&reopen.opened, want);
	}
	saved = errno;
	pthread_mutex_unlock(&reopen.lock);
	errno = saved;
	return rc;
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
	if (fd == reopen.fd)
		log_reopen_if_requested();
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
