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
 * Thread safety: safe from any thread or process.
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

/* Formats and writes one line for now to fd; does nothing if fd < 0. */
void log_access(int fd, const char *peer, const struct http_request *req,
		int status, size_t bytes);

#endif /* LOG_H */
