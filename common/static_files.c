/*
 * static_files.c - GET and HEAD of files under the document root.
 *
 * Three checks keep a request inside the root, so that a gap in one is
 * caught by the next:
 *   1. the decoded path is refused if it has a ".." segment or a backslash
 *      (403 Forbidden: the request is plainly trying to climb out);
 *   2. the path is opened under the root's descriptor with openat2() and
 *      RESOLVE_BENEATH, which fails if any step would leave the root, or,
 *      on kernels without openat2, resolved with realpath(), which follows
 *      every symlink, and the result must be the root or lie under
 *      root + "/" (either way 404 Not Found: we do not confirm that
 *      anything is out there);
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
 *
 * The file cache sits behind check 1: a path is checked on every request,
 * then looked up in the cache, and only a miss opens anything.
 */
#include "static_files.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "compat.h"
#include "encoding.h"
#include "http_date.h"
#include "range.h"

#define INDEX_FILE "index.html"

/*
 * O_NONBLOCK keeps open() of a FIFO from blocking this thread for ever;
 * it changes nothing for regular files.
 */
#define OPEN_FLAGS (O_RDONLY | O_CLOEXEC | O_NONBLOCK)

/* openat2 says EAGAIN if a rename raced with its ".." checks: retry. */
#define OPENAT2_TRIES 4

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
 * openat2(2) has no glibc wrapper.  RESOLVE_BENEATH: every step, ".." and
 * symlinks included, must stay under dirfd, else EXDEV; an absolute
 * symlink is refused outright.  RESOLVE_NO_MAGICLINKS: no /proc/.../fd
 * style links.
 */
static int openat2_beneath(int dirfd, const char *rel, uint64_t resolve)
{
	struct open_how how = {
		.flags = OPEN_FLAGS,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | resolve,
	};
	int fd, tries = 0;

	do {
		fd = (int)syscall(SYS_openat2, dirfd, rel, &how, sizeof(how));
	} while (fd < 0 && errno == EAGAIN && ++tries < OPENAT2_TRIES);
	return fd;
}

/* True when openat2 works here: no ENOSYS (old kernel), no EPERM (seccomp). */
static bool openat2_works(int dirfd)
{
	int fd = openat2_beneath(dirfd, ".", 0);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int file_root_open(struct file_root *root, const char *path)
{
	const char *force = getenv(FILE_RESOLVE_ENV);

	root->path = path;
	root->cache = NULL;
	root->resolve = FILE_RESOLVE_OPENAT2;
	root->fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root->fd < 0)
		return -1;
	if ((force != NULL && strcmp(force, "realpath") == 0) ||
	    !openat2_works(root->fd))
		root->resolve = FILE_RESOLVE_REALPATH;
	return 0;
}

void file_root_close(struct file_root *root)
{
	file_cache_destroy(root->cache);
	root->cache = NULL;
	if (root->fd >= 0)
		close(root->fd);
	root->fd = -1;
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
 * Resolves rel under the root with realpath() into real, which must lie
 * beneath it.  Returns 0, or -1 with errno set (EXDEV: it leads out).
 */
static int resolve_real(const struct file_root *root, const char *rel,
			char real[PATH_MAX])
{
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s", root->path, rel) >=
	    (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (realpath(path, real) == NULL)
		return -1;
	if (!is_beneath(root->path, real)) {
		errno = EXDEV;
		return -1;
	}
	return 0;
}

/* real (beneath the root) as a path relative to it: "." for the root. */
static const char *below_root(const struct file_root *root, const char *real)
{
	const char *rel = real + strlen(root->path);

	rel += strspn(rel, "/");
	return *rel != '\0' ? rel : ".";
}

/*
 * Opens rel (a path relative to the root) if it resolves beneath the
 * root.  Returns the descriptor, or -1 with errno set.
 */
static int open_rel(const struct file_root *root, const char *rel)
{
	char real[PATH_MAX];
	int fd;

	if (root->resolve == FILE_RESOLVE_OPENAT2) {
		fd = openat2_beneath(root->fd, rel, 0);
		if (fd >= 0 || errno != EXDEV)
			return fd;
		/*
		 * LESSON: RESOLVE_BENEATH refuses every absolute symlink,
		 * even one that points back inside the root, which sites
		 * use.  So on EXDEV we ask realpath() where the path leads,
		 * and open that symlink-free answer with RESOLVE_NO_SYMLINKS:
		 * if someone swapped a directory for a symlink in between,
		 * the open fails instead of following it out.
		 */
		if (resolve_real(root, rel, real) != 0)
			return -1;
		return openat2_beneath(root->fd, below_root(root, real),
				       RESOLVE_NO_SYMLINKS);
	}
	if (resolve_real(root, rel, real) != 0)
		return -1;
	/*
	 * LESSON: realpath() then open() leaves a window in which someone
	 * who can write inside the root could swap a directory for a
	 * symlink.  O_NOFOLLOW closes it for the last component only; the
	 * full fix is openat2() above, which this fallback is for lack of.
	 */
	return open(real, OPEN_FLAGS | O_NOFOLLOW);
}

/*
 * Opens rel if it resolves beneath the root.  Returns 0 with *fd and *st
 * filled (a regular file or a directory), else the status to answer.
 */
static int open_beneath(const struct file_root *root, const char *rel, int *fd,
			struct stat *st)
{
	*fd = open_rel(root, *rel != '\0' ? rel : ".");
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

/*
 * The ETag of st into etag, and the header lines every 200 and 304 of the
 * file carries into lines.  coding ENC_GZIP: st is the gzip variant's
 * source (the file, or its .gz), and the ETag is the variant's.  Returns
 * the length of lines.
 */
static size_t validator_lines(const struct stat *st, enum enc_coding coding,
			      char etag[FILE_ETAG_MAX],
			      char lines[FILE_LINES_MAX])
{
	char date[HTTP_DATE_LEN];
	int n;

	file_etag(st, etag, FILE_ETAG_MAX);
	/* Fits: file_etag writes at most 36 bytes of FILE_ETAG_MAX. */
	if (coding == ENC_GZIP) {
		char plain[FILE_ETAG_MAX];

		memcpy(plain, etag, FILE_ETAG_MAX);
		enc_variant_etag(plain, etag, FILE_ETAG_MAX);
	}
	http_date_format(st->st_mtime, date);
	/*
	 * Cache, but ask us every time: the 304 makes that cheap.
	 *
	 * LESSON: Vary goes on the identity response too.  Any file may
	 * have a gzip variant (a .gz can appear beside it), and a shared
	 * cache that stored this one without Vary would hand it to every
	 * client - or a gzip body to one that cannot decode it.
	 */
	n = snprintf(lines, FILE_LINES_MAX,
		     "ETag: %s\r\nLast-Modified: %s\r\n"
		     "Cache-Control: no-cache\r\nVary: Accept-Encoding\r\n",
		     etag, date);
	return n > 0 && n < FILE_LINES_MAX ? (size_t)n : 0;
}

/* One representation of a file, as its validators describe it. */
struct variant {
	const char *etag;
	time_t mtime;
	const char *lines; /* from validator_lines */
	size_t lines_len;
};

static const char gzip_line[] = "Content-Encoding: gzip\r\n";

/*
 * Adds the validator lines of the response: sent's, or those of the
 * variant the client's copy matches, and then makes resp a 304 and
 * returns true.  alt, if not NULL, is the identity variant while sent is
 * gzip and the client takes identity too: a cache that holds both asks
 * with both ETags, and the 304's ETag tells it which copy is current.
 */
static bool not_modified(const struct http_request *req,
			 const struct variant *sent, const struct variant *alt,
			 struct response *resp)
{
	const struct variant *match = NULL;

	if (file_not_modified(req, sent->etag, sent->mtime))
		match = sent;
	else if (alt != NULL && http_find_header(req, "If-None-Match") &&
		 file_not_modified(req, alt->etag, alt->mtime))
		match = alt;
	if (match == NULL) {
		resp_add_lines(resp, sent->lines, sent->lines_len);
		return false;
	}
	resp_add_lines(resp, match->lines, match->lines_len);
	resp->status = 304;
	return true;
}

/*
 * True when req is to get the gzip variant, if the file has one; then
 * *identity_ok says whether identity would do too (for not_modified).
 */
static bool wants_gzip(const struct http_request *req, bool *identity_ok)
{
	struct enc_accept a;

	enc_accept_from_request(&a, req);
	*identity_ok = enc_accept_q(&a, ENC_IDENTITY) > 0;
	return enc_choose(&a, true) == ENC_GZIP;
}

/* A 200 or 206 with the file range, or a 304 or 416: resp takes fd. */
static void serve_fd(int fd, const struct stat *st, const char *name,
		     const struct http_request *req, struct response *resp)
{
	char etag[FILE_ETAG_MAX], lines[FILE_LINES_MAX];
	struct variant v = { etag, st->st_mtime, lines,
			     validator_lines(st, ENC_IDENTITY, etag, lines) };
	struct range part;

	if (not_modified(req, &v, NULL, resp)) {
		close(fd);
		return;
	}
	/* The identity file: a compressed variant skips this (range.h). */
	if (range_respond(req, etag, (uint64_t)st->st_size, resp, &part) ==
	    RANGE_NOT_SATISFIABLE) {
		close(fd);
		return;
	}
	resp->content_type = file_mime_type(name);
	/*
	 * LESSON: a range of a large file costs no more than all of it:
	 * sendfile() takes an offset, so the kernel reads from the page
	 * cache at part.first and nothing before it is read, nor is any
	 * byte copied into this process.  A player seeking to the last
	 * minute of a film costs what that minute costs.
	 */
	resp_set_file(resp, fd, (off_t)part.first, (size_t)part.len);
}

/*
 * A 200 with all of gzfd, the .gz beside the file of st, or a 304: resp
 * takes gzfd.  The type is the file's (name), not application/gzip.
 */
static void serve_gz_fd(int gzfd, const struct stat *gzst,
			const struct stat *st, const char *name,
			bool identity_ok, const struct http_request *req,
			struct response *resp)
{
	char etag[FILE_ETAG_MAX], lines[FILE_LINES_MAX];
	char id_etag[FILE_ETAG_MAX], id_lines[FILE_LINES_MAX];
	struct variant gz = { etag, gzst->st_mtime, lines,
			      validator_lines(gzst, ENC_GZIP, etag, lines) };
	struct variant id = { id_etag, st->st_mtime, id_lines,
			      validator_lines(st, ENC_IDENTITY, id_etag,
					      id_lines) };

	if (not_modified(req, &gz, identity_ok ? &id : NULL, resp)) {
		close(gzfd);
		return;
	}
	resp->status = 200;
	resp->content_type = file_mime_type(name);
	resp_add_lines(resp, gzip_line, sizeof(gzip_line) - 1);
	resp_set_file(resp, gzfd, 0, (size_t)gzst->st_size);
}

/* The gzip variant gzv of e, or a 304: resp takes the reference to e. */
static void serve_entry_gzip(struct file_entry *e, const struct file_gzip *gzv,
			     const struct variant *id,
			     const struct http_request *req,
			     struct response *resp)
{
	struct variant gz = { gzv->etag, gzv->mtime, gzv->lines,
			      gzv->lines_len };

	if (not_modified(req, &gz, id, resp)) {
		file_entry_unref(e);
		return;
	}
	resp->status = 200;
	resp->content_type = e->content_type;
	resp_add_lines(resp, gzip_line, sizeof(gzip_line) - 1);
	resp_set_body_ref(resp, gzv->data, gzv->len, file_entry_unref, e);
}

/* A variant of len bytes, its data to fill, its validators those of st. */
static struct file_gzip *gzip_new(size_t len, const struct stat *st)
{
	struct file_gzip *gz = malloc(sizeof(*gz) + len);

	if (gz == NULL)
		return NULL;
	gz->len = len;
	gz->mtime = st->st_mtime;
	gz->lines_len = validator_lines(st, ENC_GZIP, gz->etag, gz->lines);
	return gz;
}

/*
 * e's body compressed, published as its variant, or NULL if that is not
 * worth it or memory ran out (identity will do).
 *
 * LESSON: compression is CPU work, and here it runs on the thread that
 * serves the request: 06's loop itself (a file is never may_block, so no
 * worker ever serves one), 05's loop, a thread of 03 or 04, 02's child.
 * It is cheap because it runs at most once per file version, and only
 * when a client wants it: on the first request for the entry that takes
 * gzip (in 02 once per connection that asks: a child's cache dies with
 * it); a client that never sends Accept-Encoding never pays for zlib's
 * quarter megabyte of state.  It is bounded: at most ENC_GZIP_MAX bytes
 * (the cache's 16 KiB in practice) take about half a millisecond.  Every
 * later request sends the kept bytes.  Bigger files are compressed ahead
 * of time (the .gz read in load_gzip), never on a loop.
 */
static const struct file_gzip *compress_entry(struct file_entry *e)
{
	size_t size = (size_t)e->id.size, zlen;
	struct file_gzip *gz;
	struct stat st;
	char *z;

	if (enc_gzip(e->body, size, &z, &zlen) != 0)
		return NULL;
	if (zlen >= size) {
		/* It did not get smaller: no variant, and no second try. */
		atomic_store_explicit(&e->gzip_worth, false,
				      memory_order_relaxed);
		free(z);
		return NULL;
	}
	/* What file_etag and http_date_format read of the file. */
	memset(&st, 0, sizeof(st));
	st.st_size = e->id.size;
	st.st_mtim = e->id.mtime;
	gz = gzip_new(zlen, &st);
	if (gz != NULL)
		memcpy(gz->data, z, zlen);
	free(z);
	return gz != NULL ? file_entry_set_gzip(e, gz) : NULL;
}

/*
 * The gzip variant of e if req is to get it: the kept one, or one made
 * now (compress_entry).  NULL: identity.  *identity_ok as wants_gzip's.
 */
static const struct file_gzip *entry_gzip_for(struct file_entry *e,
					      const struct http_request *req,
					      bool *identity_ok)
{
	const struct file_gzip *gz = file_entry_gzip(e);

	/* The cheap checks first: most entries have nothing to offer. */
	if (gz == NULL &&
	    !atomic_load_explicit(&e->gzip_worth, memory_order_relaxed))
		return NULL;
	if (!wants_gzip(req, identity_ok))
		return NULL;
	return gz != NULL ? gz : compress_entry(e);
}

/*
 * A 200 or 206 from memory, or a 304 or 416: resp takes the caller's
 * reference to e.
 */
static void serve_entry(struct file_entry *e, const struct http_request *req,
			struct response *resp)
{
	struct variant id = { e->etag, e->id.mtime.tv_sec, e->lines,
			      e->lines_len };
	const struct file_gzip *gz;
	struct range part;
	bool identity_ok;

	gz = entry_gzip_for(e, req, &identity_ok);
	if (gz != NULL) {
		serve_entry_gzip(e, gz, identity_ok ? &id : NULL, req, resp);
		return;
	}
	if (not_modified(req, &id, NULL, resp)) {
		file_entry_unref(e);
		return;
	}
	/* The identity file: a compressed variant skips this (range.h). */
	if (range_respond(req, e->etag, (uint64_t)e->id.size, resp, &part) ==
	    RANGE_NOT_SATISFIABLE) {
		file_entry_unref(e);
		return;
	}
	resp->content_type = e->content_type;
	resp_set_body_ref(resp, e->body + part.first, (size_t)part.len,
			  file_entry_unref, e);
}

/* Reads all of fd (size bytes) into buf.  Returns 0, or -1 if it is not. */
static int read_whole(int fd, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		ssize_t n = pread(fd, buf + got, size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1; /* an error, or it shrank under us */
		got += (size_t)n;
	}
	return 0;
}

/*
 * Opens rel + ".gz" beside the file rel, under the very rules the file
 * was opened by (open_beneath: no way out of the root, symlinks
 * included).  Returns its descriptor with *st filled if it is a regular
 * file, else -1 with errno ENOENT when nothing is there.
 */
static int open_gz(const struct file_root *root, const char *rel,
		   struct stat *st)
{
	char gz[PATH_MAX];
	int fd, status;

	if (snprintf(gz, sizeof(gz), "%s.gz", rel) >= (int)sizeof(gz)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	status = open_beneath(root, gz, &fd, st);
	if (status == 404)
		return -1; /* the open's own errno: ENOENT, EXDEV, ... */
	if (status != 0 || !S_ISREG(st->st_mode)) {
		if (fd >= 0)
			close(fd);
		errno = EPERM; /* something, but not a file we may send */
		return -1;
	}
	return fd;
}

/*
 * Gives e (its body read) its gzip variant if there is a .gz beside it,
 * else marks whether its body is worth compressing when a client asks
 * (compress_entry).  Returns 0 (with or without a variant), or -1 if e
 * must not be cached: its .gz is too big to keep, or cannot be read (the
 * uncached path sends it instead).
 */
static int load_gzip(const struct file_root *root, struct file_entry *e,
		     const struct stat *st)
{
	size_t size = (size_t)st->st_size;
	struct file_gzip *gz;
	char path[PATH_MAX];
	struct stat gzst;
	int gzfd;

	gzfd = open_gz(root, e->rel, &gzst);
	/*
	 * The .gz's identity, which still_valid() compares with what
	 * fstatat says later: of the file opened, or none when nothing is
	 * there.  Only when something is there that we may not send (a
	 * directory, a way out of the root) does it take an fstatat - and
	 * that is rare, where the ENOENT is what every file without a .gz
	 * gets: one system call fewer per entry made (per connection, in
	 * 02's children).
	 */
	if (gzfd >= 0) {
		file_identity_from_stat(&e->gz_id, &gzst);
	} else if (errno == ENOENT) {
		memset(&e->gz_id, 0, sizeof(e->gz_id));
	} else {
		if (snprintf(path, sizeof(path), "%s.gz", e->rel) >=
		    (int)sizeof(path))
			return -1;
		file_identity_at(&e->gz_id, root->fd, path);
	}
	if (gzfd < 0) {
		atomic_store(&e->gzip_worth,
			     enc_is_compressible(e->content_type) &&
				     size >= ENC_GZIP_MIN &&
				     size <= ENC_GZIP_MAX);
		return 0;
	}
	gz = gzst.st_size <= FILE_CACHE_BODY_MAX
		     ? gzip_new((size_t)gzst.st_size, &gzst)
		     : NULL;
	if (gz == NULL || read_whole(gzfd, gz->data, gz->len) != 0) {
		free(gz);
		close(gzfd);
		return -1;
	}
	close(gzfd);
	file_entry_set_gzip(e, gz);
	return 0;
}

/*
 * A new cache entry for key from the open file fd (rel under the root,
 * named name for its type), with its gzip variant if it has one, and a
 * reference for the caller; NULL if the file cannot be read whole.
 */
static struct file_entry *load_entry(const struct file_root *root,
				     const char *key, const char *rel,
				     const char *name, int fd,
				     const struct stat *st)
{
	struct file_identity id;
	struct file_entry *e;

	file_identity_from_stat(&id, st);
	e = file_entry_new(key, rel, &id);
	if (e == NULL)
		return NULL;
	e->content_type = file_mime_type(name);
	e->lines_len = validator_lines(st, ENC_IDENTITY, e->etag, e->lines);
	if (read_whole(fd, e->body, (size_t)st->st_size) != 0 ||
	    load_gzip(root, e, st) != 0) {
		file_entry_unref(e);
		return NULL;
	}
	return e;
}

/*
 * Serves the regular file fd, not from the cache: its .gz beside it if
 * the client takes gzip and there is one, else the file.  Takes fd.
 */
static void serve_uncached(const struct file_root *root, const char *rel,
			   const char *name, int fd, const struct stat *st,
			   const struct http_request *req,
			   struct response *resp)
{
	struct stat gzst;
	bool identity_ok;
	int gzfd;

	if (wants_gzip(req, &identity_ok) &&
	    (gzfd = open_gz(root, rel, &gzst)) >= 0) {
		close(fd);
		serve_gz_fd(gzfd, &gzst, st, name, identity_ok, req, resp);
		return;
	}
	serve_fd(fd, st, name, req, resp);
}

/*
 * Serves the regular file fd, opened as rel for the request path key:
 * from a new cache entry if it is small and the root has a cache, else as
 * a file range.  Takes fd.
 */
static void serve_opened(const struct file_root *root, const char *key,
			 const char *rel, const char *name, int fd,
			 const struct stat *st, const struct http_request *req,
			 struct response *resp)
{
	struct file_entry *e = NULL;

	if (root->cache != NULL && st->st_size <= FILE_CACHE_BODY_MAX)
		e = load_entry(root, key, rel, name, fd, st);
	if (e == NULL) {
		serve_uncached(root, rel, name, fd, st, req, resp);
		return;
	}
	close(fd);
	file_cache_insert(root->cache, e);
	serve_entry(e, req, resp);
}

/* Serves the index.html of directory rel_dir ("" or ending in '/'). */
static void serve_index(const struct file_root *root, const char *key,
			const char *rel_dir, const struct http_request *req,
			struct response *resp)
{
	char rel[PATH_MAX];
	struct stat st;
	int fd, status;

	if (snprintf(rel, sizeof(rel), "%s%s", rel_dir, INDEX_FILE) >=
	    (int)sizeof(rel)) {
		resp_error(resp, 404);
		return;
	}
	status = open_beneath(root, rel, &fd, &st);
	if (status == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		status = 404;
	}
	if (status != 0) {
		resp_error(resp, status);
		return;
	}
	serve_opened(root, key, rel, INDEX_FILE, fd, &st, req, resp);
}

void file_serve(const struct file_root *root, const char *decoded_path,
		const struct http_request *req, struct response *resp)
{
	struct file_entry *e;
	struct stat st;
	const char *rel;
	int fd, status;

	status = check_path(decoded_path);
	if (status != 0)
		goto out_error;
	/* LESSON: a hit costs no system call at all: see file_cache.h. */
	if (root->cache != NULL &&
	    (e = file_cache_get(root->cache, decoded_path)) != NULL) {
		serve_entry(e, req, resp);
		return;
	}
	/* The path relative to the root: openat2 refuses an absolute one. */
	rel = decoded_path + strspn(decoded_path, "/");
	status = open_beneath(root, rel, &fd, &st);
	if (status != 0)
		goto out_error;
	if (S_ISREG(st.st_mode)) {
		serve_opened(root, decoded_path, rel, decoded_path, fd, &st,
			     req, resp);
		return;
	}
	close(fd);
	if (decoded_path[strlen(decoded_path) - 1] != '/')
		redirect_to_slash(req, resp);
	else
		serve_index(root, decoded_path, rel, req, resp);
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
