/*
 * static_files.c - GET and HEAD of files under the document root.
 *
 * Three checks keep a request inside the root, so that a gap in one is
 * caught by the next:
 *   1. the decoded path is refused if it has a ".." segment or a backslash
 *      (403 Forbidden: the request is plainly trying to climb out);
 *   2. root + path is resolved with realpath(), which follows every
 *      symlink, and the result must be the root or lie under root + "/"
 *      (404 Not Found: we do not confirm that anything is out there);
 *   3. only regular files are opened and served (403 for a FIFO, a socket,
 *      a device).
 *
 * A directory is served through its index.html.  A directory asked for
 * without a trailing slash is redirected (301) to the same path with one,
 * as Apache and nginx do, so relative links inside its index.html resolve
 * against the directory and not against its parent.
 *
 * Inside the root, dotfiles are not published: a path with a segment that
 * starts with '.' is 404 before anything is looked up, except the
 * ".well-known" directory of RFC 8615 at the top.
 */
#include "static_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "http_date.h"

#define INDEX_FILE "index.html"

int file_resolve_root(const char *root, char *out, size_t outsz)
{
	char real[PATH_MAX];
	struct stat st;

	if (realpath(root, real) == NULL)
		return -1;
	if (stat(real, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	if (strlen(real) >= outsz) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(out, real);
	return 0;
}

/*
 * True when the segment at seg (just after a '/') is ".well-known",
 * RFC 8615's home for site metadata such as security.txt.
 */
static bool is_well_known(const char *seg)
{
	static const char name[] = ".well-known";

	return strncmp(seg, name, sizeof(name) - 1) == 0 &&
	       (seg[sizeof(name) - 1] == '/' || seg[sizeof(name) - 1] == '\0');
}

/*
 * True when a segment of path starts with '.': ".git", ".env", ".htpasswd"
 * and every other dotfile, and "." itself.  The first segment may be
 * ".well-known"; dotfiles inside it stay hidden.
 *
 * LESSON: a deployment copies a whole directory, and dotfiles come with
 * it: a .git directory serves the site's whole history, with any secret
 * ever committed.  Refusing them here costs one loop; the answer is 404,
 * exactly what a missing file gets, so a scan learns nothing.
 */
static bool is_hidden(const char *path)
{
	const char *seg = path;
	bool first = true;

	while ((seg = strchr(seg, '/')) != NULL) {
		seg++;
		if (*seg == '/' || *seg == '\0')
			continue; /* empty segments, as in "//x" */
		if (*seg == '.' && !(first && is_well_known(seg)))
			return true;
		first = false;
	}
	return false;
}

/*
 * Returns 0 when path may be looked up, else the status to answer.  NUL
 * cannot reach us: http_decode_path refuses %00, so the C string is the
 * whole path.  The ".." check comes before the dotfile one, so climbing
 * out stays a 403.
 */
static int check_path(const char *path)
{
	const char *seg;

	if (path[0] != '/')
		return 400;
	if (strchr(path, '\\') != NULL)
		return 403;
	for (seg = path; seg != NULL; seg = strchr(seg + 1, '/')) {
		if (seg[1] == '.' && seg[2] == '.' &&
		    (seg[3] == '/' || seg[3] == '\0'))
			return 403;
	}
	if (is_hidden(path))
		return 404;
	return 0;
}

/* True when real (from realpath) is root itself or inside it. */
static bool is_beneath(const char *root, const char *real)
{
	size_t len = strlen(root);

	if (strncmp(real, root, len) != 0)
		return false;
	/* "/srv/www-secret" starts with "/srv/www" but is not under it. */
	if (len > 0 && root[len - 1] == '/')
		return true;
	return real[len] == '\0' || real[len] == '/';
}

/*
 * Opens path if it resolves beneath root.  Returns 0 with *fd and *st
 * filled (a regular file or a directory), else the status to answer.
 */
static int open_beneath(const char *root, const char *path, int *fd,
			struct stat *st)
{
	char real[PATH_MAX];

	if (realpath(path, real) == NULL)
		return errno == EACCES ? 403 : 404;
	if (!is_beneath(root, real))
		return 404;
	/*
	 * LESSON: realpath() then open() leaves a window in which someone
	 * who can write inside the root could swap a directory for a
	 * symlink.  O_NOFOLLOW closes it for the last component only; the
	 * full fix is openat2() with RESOLVE_BENEATH (Linux 5.6).  O_NONBLOCK
	 * keeps open() of a FIFO from blocking this thread for ever; it
	 * changes nothing for regular files.
	 */
	*fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (*fd < 0)
		return errno == EACCES ? 403 : 404;
	/* LESSON: fstat the descriptor, not stat the name: no race. */
	if (fstat(*fd, st) < 0 ||
	    !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))) {
		close(*fd);
		*fd = -1;
		return 403;
	}
	return 0;
}

/*
 * Copies the encoded path src[0..len) into out with every run of '/'
 * collapsed to one.  Returns 0, or -1 if it does not fit.
 */
static int collapse_slashes(const char *src, size_t len, char *out,
			    size_t outsz)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		if (src[i] == '/' && n > 0 && out[n - 1] == '/')
			continue;
		if (n + 1 >= outsz)
			return -1;
		out[n++] = src[i];
	}
	out[n] = '\0';
	return 0;
}

/*
 * LESSON: a Location of "//big/" is not a path: a browser reads it as a
 * protocol-relative URL and goes to the host "big" (RFC 3986 section
 * 4.2).  Building it from the path with its slashes collapsed means it
 * always starts with one '/' and a path character.  "/\" is no risk: a
 * backslash, raw or as %5C, never gets past check_path, and an encoded
 * "/%2F" stays encoded, which no browser reads as "//".
 */
static void redirect_to_slash(const struct http_request *req,
			      struct response *resp)
{
	const char *query = req->query.len ? req->query.p : "";
	char path[PATH_MAX];

	/* The path as the client sent it is already percent-encoded. */
	if (collapse_slashes(req->path.p, req->path.len, path, sizeof(path)) <
	    0) {
		resp_error(resp, 404);
		return;
	}
	resp->status = 301;
	resp->content_type = NULL;
	if (resp_add_header(resp, "Location", "%s/%s%.*s", path,
			    req->query.len ? "?" : "", (int)req->query.len,
			    query) < 0)
		resp_error(resp, 404);
}

static void serve_fd(int fd, const struct stat *st, const char *name,
		     const struct http_request *req, struct response *resp)
{
	char etag[64], date[HTTP_DATE_LEN];

	file_etag(st, etag, sizeof(etag));
	http_date_format(st->st_mtime, date);
	resp_add_header(resp, "ETag", "%s", etag);
	resp_add_header(resp, "Last-Modified", "%s", date);
	/* Cache, but ask us every time: the 304 makes that cheap. */
	resp_add_header(resp, "Cache-Control", "no-cache");
	if (file_not_modified(req, etag, st->st_mtime)) {
		close(fd);
		resp->status = 304;
		return;
	}
	resp->status = 200;
	resp->content_type = file_mime_type(name);
	resp_set_file(resp, fd, 0, (size_t)st->st_size);
}

/* Serves the index.html of directory dir (root + decoded path + "/"). */
static void serve_index(const char *root, const char *dir,
			const struct http_request *req, struct response *resp)
{
	char path[PATH_MAX];
	struct stat st;
	int fd, status;

	if (snprintf(path, sizeof(path), "%s%s", dir, INDEX_FILE) >=
	    (int)sizeof(path)) {
		resp_error(resp, 404);
		return;
	}
	status = open_beneath(root, path, &fd, &st);
	if (status == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		status = 404;
	}
	if (status != 0) {
		resp_error(resp, status);
		return;
	}
	serve_fd(fd, &st, INDEX_FILE, req, resp);
}

void file_serve(const char *root, const char *decoded_path,
		const struct http_request *req, struct response *resp)
{
	char path[PATH_MAX];
	struct stat st;
	size_t len;
	int fd, status;

	status = check_path(decoded_path);
	if (status != 0)
		goto out_error;
	status = 404;
	if (snprintf(path, sizeof(path), "%s%s", root, decoded_path) >=
	    (int)sizeof(path))
		goto out_error;
	status = open_beneath(root, path, &fd, &st);
	if (status != 0)
		goto out_error;
	if (S_ISREG(st.st_mode)) {
		serve_fd(fd, &st, decoded_path, req, resp);
		return;
	}
	close(fd);
	len = strlen(path);
	if (path[len - 1] != '/')
		redirect_to_slash(req, resp);
	else
		serve_index(root, path, req, resp);
	return;

out_error:
	resp_error(resp, status);
}

static const struct {
	const char *ext;
	const char *type;
} mime_types[] = {
	{ "html", "text/html; charset=utf-8" },
	{ "htm", "text/html; charset=utf-8" },
	{ "css", "text/css; charset=utf-8" },
	{ "js", "text/javascript; charset=utf-8" },
	{ "mjs", "text/javascript; charset=utf-8" },
	{ "json", "application/json" },
	{ "txt", "text/plain; charset=utf-8" },
	{ "md", "text/markdown; charset=utf-8" },
	{ "csv", "text/csv; charset=utf-8" },
	{ "xml", "application/xml" },
	{ "png", "image/png" },
	{ "jpg", "image/jpeg" },
	{ "jpeg", "image/jpeg" },
	{ "gif", "image/gif" },
	{ "webp", "image/webp" },
	{ "avif", "image/avif" },
	{ "svg", "image/svg+xml" },
	{ "ico", "image/x-icon" },
	{ "wasm", "application/wasm" },
	{ "pdf", "application/pdf" },
	{ "zip", "application/zip" },
	{ "gz", "application/gzip" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "ttf", "font/ttf" },
	{ "otf", "font/otf" },
	{ "mp3", "audio/mpeg" },
	{ "ogg", "audio/ogg" },
	{ "wav", "audio/wav" },
	{ "mp4", "video/mp4" },
	{ "webm", "video/webm" },
};

const char *file_mime_type(const char *path)
{
	const char *slash = strrchr(path, '/');
	const char *dot = strrchr(path, '.');
	size_t i;

	if (dot == NULL || (slash != NULL && dot < slash))
		return "application/octet-stream";
	for (i = 0; i < ARRAY_SIZE(mime_types); i++)
		if (strcasecmp(dot + 1, mime_types[i].ext) == 0)
			return mime_types[i].type;
	return "application/octet-stream";
}

void file_etag(const struct stat *st, char *out, size_t outsz)
{
	/*
	 * Nanoseconds make two writes within one second differ.  mtime in
	 * ns fits 64 bits until the year 2554.
	 */
	unsigned long long ns =
		(unsigned long long)st->st_mtim.tv_sec * 1000000000ULL +
		(unsigned long long)st->st_mtim.tv_nsec;

	snprintf(out, outsz, "\"%llx-%llx\"", (unsigned long long)st->st_size,
		 ns);
}

/* The opaque-tag of a (possibly weak) entity-tag: W/"x" and "x" match. */
static void strip_weak(const char **p, size_t *len)
{
	if (*len >= 2 && (*p)[0] == 'W' && (*p)[1] == '/') {
		*p += 2;
		*len -= 2;
	}
}

/*
 * If-None-Match: "*" or a comma-separated list of entity-tags, compared
 * weakly (RFC 9110 section 13.1.2).
 */
static bool etag_list_matches(const struct http_str *list, const char *etag)
{
	const char *p = list->p, *end = list->p + list->len;
	size_t etag_len = strlen(etag);

	while (p < end) {
		const char *tag;
		size_t len;

		while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
			p++;
		tag = p;
		while (p < end && *p != ',')
			p++;
		len = (size_t)(p - tag);
		while (len > 0 && (tag[len - 1] == ' ' || tag[len - 1] == '\t'))
			len--;
		if (len == 1 && tag[0] == '*')
			return true;
		strip_weak(&tag, &len);
		if (len == etag_len && memcmp(tag, etag, len) == 0)
			return true;
	}
	return false;
}

bool file_not_modified(const struct http_request *req, const char *etag,
		       time_t mtime)
{
	const struct http_str *h;
	time_t since;

	if (req == NULL)
		return false;
	/* If-None-Match, when present, wins: If-Modified-Since is ignored. */
	h = http_find_header(req, "If-None-Match");
	if (h != NULL)
		return etag_list_matches(h, etag);
	h = http_find_header(req, "If-Modified-Since");
	if (h == NULL || http_date_parse(h->p, h->len, &since) < 0)
		return false;
	return mtime <= since;
}
