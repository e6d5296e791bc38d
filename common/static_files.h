/*
 * static_files.h - serving files under the document root.
 *
 * The root is resolved once at start-up (realpath).  A request path is
 * percent-decoded by the caller, then file_serve() refuses anything that
 * could leave the root: ".." segments, backslashes, NUL, and symlinks whose
 * target resolves outside it (403, or 404, never the file).  Dotfiles
 * inside it are not served either; that check is on the request path, so
 * a symlink with a plain name that the site put there is the site's
 * choice.  A directory serves its index.html, or 404 without one.  Bodies
 * are file ranges sent with sendfile, never read into memory.
 *
 * Statuses: ".." segment or backslash 403; a path not starting with '/'
 * 400; a segment starting with '.' (".git", ".env", "."; a first segment
 * ".well-known" excepted, RFC 8615, though dotfiles inside it are not)
 * 404, as if it did not exist; missing, or resolving outside the root
 * 404; not a regular file (FIFO, device) or EACCES 403; a directory
 * without a trailing slash 301 to path + "/" (query kept), so relative
 * links in its index resolve.  That Location is the path as sent with
 * runs of '/' collapsed, so it never starts with "//", which a browser
 * would read as another host.
 *
 * Thread safety: re-entrant.
 */
#ifndef STATIC_FILES_H
#define STATIC_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "http_parser.h"
#include "response.h"

/*
 * Resolves root to an absolute path without symlinks into out.  Returns 0,
 * or -1 with errno set (ENOTDIR if it is not a directory).
 */
int file_resolve_root(const char *root, char *out, size_t outsz);

/*
 * Fills resp for a GET or HEAD of decoded_path under root (as resolved by
 * file_resolve_root): 200 with the file, 304 when the validators match,
 * 301, 400, 403 or 404.  Adds ETag, Last-Modified and Cache-Control to 200
 * and 304.  req must not be NULL.  Does not call resp_finish.
 */
void file_serve(const char *root, const char *decoded_path,
		const struct http_request *req, struct response *resp);

/* The MIME type for a file name, by extension; a default for unknown. */
const char *file_mime_type(const char *path);

/* Writes a strong-enough ETag ("size-mtime" in hex, quoted) into out. */
void file_etag(const struct stat *st, char *out, size_t outsz);

/*
 * True when the request's validators say the client's copy is current:
 * If-None-Match matches etag (or is "*"), or, with no If-None-Match,
 * If-Modified-Since is at or after mtime (RFC 9110 section 13.1).
 */
bool file_not_modified(const struct http_request *req, const char *etag,
		       time_t mtime);

#endif /* STATIC_FILES_H */
