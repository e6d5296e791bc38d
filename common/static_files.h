/*
 * static_files.h - serving files under the document root.
 *
 * The root is resolved once at start-up (realpath) and opened as an O_PATH
 * directory descriptor (file_root_open).  A request path is percent-decoded
 * by the caller, then file_serve() refuses anything that could leave the
 * root: ".." segments, backslashes, NUL, and symlinks whose target
 * resolves outside it (403, or 404, never the file).  Dotfiles inside it
 * are not served either; that check is on the request path, so a symlink
 * with a plain name that the site put there is the site's choice.  A
 * directory serves its index.html, or 404 without one.
 *
 * How a path is looked up (enum file_resolve): openat2() with
 * RESOLVE_BENEATH under the root's descriptor, one system call that the
 * kernel refuses (EXDEV, so 404) if any step, symlinks included, would
 * leave the root; or, where the kernel has no openat2 (before Linux 5.6,
 * or a seccomp filter that says EPERM), realpath() and a prefix check, as
 * before.  file_root_open() picks openat2 when it works, unless the
 * environment variable CONCURRENCY_SERVERS_RESOLVE is "realpath", read
 * there, once, at start-up: so both ways can be tested on any kernel.
 *
 * Bodies: a file up to FILE_CACHE_BODY_MAX bytes is kept in the root's
 * file cache, if it has one (file_cache.h), and sent from memory; a larger
 * one is a file range sent with sendfile, never read into memory.
 *
 * Compression (encoding.h): a client whose Accept-Encoding takes gzip
 * gets the file's gzip variant, if it has one: name.gz beside it (as
 * nginx's gzip_static), opened by the very rules above and sent with the
 * original's Content-Type; else, for a file in the cache, its body
 * compressed once, on the first request for it that takes gzip, and kept
 * in the entry, if its type is text and its size from ENC_GZIP_MIN to
 * ENC_GZIP_MAX.  A client that never asks for gzip never costs a
 * compression.  No cache: only name.gz.
 * Every 200 and 304 of a file carries Vary: Accept-Encoding; the
 * variant's ETag is the identity one with "-gzip" inside the quotes, and
 * If-None-Match matches either (identity only for a client that takes
 * identity, gzip only for one that takes gzip); the 304 carries the ETag
 * that matched.  A .gz is taken on trust: keeping it in step with its
 * original is the site's job, as with nginx.
 *
 * Byte ranges (range.h): every identity 200 of a file says
 * Accept-Ranges: bytes (a gzip 200 does not: it is always sent whole).
 * A GET with one satisfiable "Range: bytes=" range gets 206 Partial
 * Content and only those bytes (from memory, or sendfile from an offset),
 * one that is not satisfiable 416; several ranges, an invalid Range, or
 * an If-Range that is not the file's ETag get the whole file, 200.  We do
 * not send multipart/byteranges.  HEAD ignores Range (RFC 9110 14.2).
 * A 304 is decided first: a range is only ever a part of a 200.
 * Ranges apply to the identity file only; a gzip variant is sent whole.
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
 * Thread safety: re-entrant; a struct file_root is read-only once open,
 * but for its cache, which is as safe as its sharing says (file_cache.h).
 */
#ifndef STATIC_FILES_H
#define STATIC_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "file_cache.h"
#include "http_parser.h"
#include "response.h"

/* How file_serve() finds a path under the root: see the top of the file. */
enum file_resolve {
	FILE_RESOLVE_OPENAT2,  /* openat2(RESOLVE_BENEATH): one call */
	FILE_RESOLVE_REALPATH, /* realpath(), a prefix check, then open() */
};

/* The environment variable that can force FILE_RESOLVE_REALPATH. */
#define FILE_RESOLVE_ENV "CONCURRENCY_SERVERS_RESOLVE"

/* A document root, open.  Tests may set resolve and cache after opening. */
struct file_root {
	const char *path; /* from file_resolve_root; outlives the root */
	int fd; /* O_PATH | O_DIRECTORY of path; -1: realpath, no cache */
	enum file_resolve resolve;
	struct file_cache *cache; /* NULL: none */
};

/*
 * Resolves root to an absolute path without symlinks into out.  Returns 0,
 * or -1 with errno set (ENOTDIR if it is not a directory).
 */
int file_resolve_root(const char *root, char *out, size_t outsz);

/*
 * Opens the root at path (resolved by file_resolve_root, and kept by
 * pointer) and picks how to resolve under it.  root->cache is NULL: the
 * caller creates one with root->fd if it wants one.  Returns 0, or -1 with
 * errno set.
 */
int file_root_open(struct file_root *root, const char *path);

/* Closes the root's descriptor and destroys its cache, if any. */
void file_root_close(struct file_root *root);

/*
 * Fills resp for a GET or HEAD of decoded_path under root: 200 with the
 * file or its gzip variant, 206 with a range of the identity file, 304
 * when the validators match, 416 for a range past its end, 301, 400, 403
 * or 404.  Adds ETag, Last-Modified, Cache-Control and Vary to 200, 206
 * and 304, Accept-Ranges to an identity 200 and 206, Content-Range to
 * 206 and 416, and Content-Encoding to a gzip 200.  A 200 or 206 from the
 * cache holds a reference to its entry (resp_set_body_ref); one of a
 * larger file holds its descriptor.  req must not be NULL.  Does not call
 * resp_finish.
 */
void file_serve(const struct file_root *root, const char *decoded_path,
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
