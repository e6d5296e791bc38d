/*
 * log.h - the access log, in Common Log Format.
 *
 *   127.0.0.1 - - [10/Oct/2026:13:55:36 +0000] "GET /index.html HTTP/1.1" 200
 * 2326
 *
 * Each line is formatted into a local buffer and written with one write(2)
 * on an O_APPEND descriptor, so lines from threads and forked children
 * never interleave.
 *
 * Rotation: logrotate renames the file and sends SIGHUP; the server must
 * then write to a new file of the old name.  The handler only calls
 * log_reopen_request(), which bumps a generation counter in a shared
 * mapping.  The next log_access() in any thread or process sees a
 * generation it has not opened the file for, opens the path again and
 * dup3()s the new file over the log descriptor: every thread of that
 * process switches at once, and a write already under way finishes on the
 * old file, so no line is lost or torn.  A forked child has a descriptor
 * table of its own, which is why the generation lives in shared memory:
 * 02's children reopen for themselves although only the parent is
 * signalled.
 *
 * Thread safety: safe from any thread or process, but log_reopen_setup()
 * and log_reopen_teardown() run in the main thread before the first and
 * after the last log_access().
 */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>
#include <time.h>

#include "http_parser.h"

/* Opens (creating, appending) the log file.  Returns a fd, or -1. */
int log_open(const char *path);

/*
 * Formats one CLF line (with the trailing newline) into out.  req may be NULL
 * for a request that could not be parsed ("-" is logged for the request).
 * Returns the length, truncated to fit.
 */
size_t log_format_clf(char *out, size_t outsz, const char *peer, time_t when,
		      const struct http_request *req, int status, size_t bytes);

/*
 * Formats and writes one line for now to fd; does nothing if fd < 0.  If
 * fd is the descriptor given to log_reopen_setup(), a requested reopen is
 * done first (log_reopen_if_requested()).
 */
void log_access(int fd, const char *peer, const struct http_request *req,
		int status, size_t bytes);

/*
 * Makes fd, opened from path by log_open(), the descriptor that
 * log_reopen_if_requested() reopens.  path is copied.  Maps the shared
 * generation, so it must run before the first fork.  Returns 0, or -1 with
 * errno (ENAMETOOLONG, or mmap's).
 */
int log_reopen_setup(int fd, const char *path);

/* Unmaps the generation; the descriptor stays open (the caller's). */
void log_reopen_teardown(void);

/*
 * Asks every process and thread to reopen the log before its next line.
 * Async-signal-safe (one lock-free atomic add): for the SIGHUP handler.
 * Does nothing before log_reopen_setup().
 */
void log_reopen_request(void);

/*
 * Reopens the log if a reopen was requested since this process last
 * opened it: opens the path (creating it), then dup3()s the new file over
 * the descriptor and closes the spare.  One thread per request does it;
 * the others keep writing meanwhile, to the old file until the dup3.
 * Returns 1 when it reopened, 0 when nothing was due, -1 with errno when
 * the path could not be opened: the old file then stays in use until the
 * next request.
 */
int log_reopen_if_requested(void);

#endif /* LOG_H */
