/*
 * parse_pico.c - picohttpparser (https://github.com/h2o/picohttpparser).
 *
 * Debian ships no picohttpparser header, but its H2O library
 * (libh2o.so.0.13, package libh2o0.13) exports the parser's functions.
 * The declarations below are written from upstream's picohttpparser.h,
 * where the function is
 *
 *   int phr_parse_request(const char *buf, size_t len, const char **method,
 *                         size_t *method_len, const char **path,
 *                         size_t *path_len, int *minor_version,
 *                         struct phr_header *headers, size_t *num_headers,
 *                         size_t last_len);
 *
 * It returns the head's length, -2 for "incomplete" or -1 for an error;
 * *num_headers is the array's size on the way in and the count on the way
 * out; last_len is 0 for a buffer parsed for the first time.
 */
#include <stddef.h>

#include "parsers.h"

struct phr_header {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

int phr_parse_request(const char *buf, size_t len, const char **method,
		      size_t *method_len, const char **path, size_t *path_len,
		      int *minor_version, struct phr_header *headers,
		      size_t *num_headers, size_t last_len);

ssize_t bench_parse_pico(char *buf, size_t len)
{
	struct phr_header headers[BENCH_MAX_HEADERS];
	size_t num_headers = BENCH_MAX_HEADERS;
	const char *method, *path;
	size_t method_len, path_len;
	int minor, rc;

	rc = phr_parse_request(buf, len, &method, &method_len, &path, &path_len,
			       &minor, headers, &num_headers, 0);
	return rc > 0 ? rc : -1;
}
