/*
 * file_cache.h - an open-file cache: small static files kept in memory by
 * request path, with their validators and header lines built once.
 *
 * A hit costs no system call: the body, its ETag and the prebuilt lines
 * "ETag", "Last-Modified" and "Cache-Control" are in the entry, and the
 * response borrows them.  What it gives up is freshness: an entry is
 * checked against the disk (one fstatat of the path it was opened by) at
 * most once per valid_s seconds (and one fstatat of the path + ".gz":
 * the entry also holds the file's gzip variant, see static_files.h, so a
 * .gz that appears, changes or goes makes it stale too).  Memory: a body
 * and at most a smaller gzip variant per entry, the latter only once a
 * client has asked for it (or read from a .gz).  A file changed in place (new
 * mtime, ctime or size), replaced (a rename over it: a new inode) or deleted is
 * served fresh, or 404, once its entry is next checked, so at most valid_s
 * seconds late.  Like nginx's open_file_cache, and unlike a CDN, it never
 * serves a file it has not seen within the window.
 *
 * Only regular files up to FILE_CACHE_BODY_MAX bytes are cached; larger
 * ones are sent with sendfile from a descriptor opened per request (see
 * static_files.c for why no descriptor is kept).  Errors, redirects and
 * directories are never cached: they go the slow way every time.
 *
 * Lifetime: an entry is reference counted.  The cache holds one reference
 * while the entry is in it; file_cache_get() gives the caller another,
 * which the caller passes on to its response (resp_set_body_ref with
 * file_entry_unref) or drops with file_entry_unref().  Eviction (LRU, past
 * max_entries) and invalidation only unlink an entry: its memory goes when
 * the last response sending it lets go.
 *
 * Thread safety: FILE_CACHE_SHARED serialises every call on one mutex;
 * FILE_CACHE_PRIVATE has no lock and is for one thread at a time.  An
 * entry's fields are read-only once it is in the cache, but for its gzip
 * variant, published once with an atomic pointer; file_entry_gzip(),
 * file_entry_set_gzip() and file_entry_unref() (an atomic count) are
 * safe from any thread in both.
 */
#ifndef FILE_CACHE_H
#define FILE_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

/*
 * The largest file kept in memory.  Memory beat open + sendfile at every
 * size we measured (1 to 64 KiB), by about 3.5 us a request up to 32 KiB
 * and less above; 16 KiB keeps most of that while 1024 entries hold at
 * most 16 MiB (docs/06_epoll_async.md).
 */
#ifndef FILE_CACHE_BODY_MAX
#define FILE_CACHE_BODY_MAX (16 * 1024)
#endif

#define FILE_ETAG_MAX 64
/*
 * "ETag: ...\r\nLast-Modified: ...\r\nCache-Control: no-cache\r\n"
 * "Vary: Accept-Encoding\r\n"
 */
#define FILE_LINES_MAX 192

enum file_cache_sharing {
	FILE_CACHE_PRIVATE, /* one thread (01, 02's child, 05, 06's loop) */
	FILE_CACHE_SHARED,  /* many threads (03, 04): one mutex */
};

struct file_cache_config {
	int root_fd;	 /* the document root: paths are checked under it */
	int max_entries; /* > 0: --file-cache-entries */
	int valid_s;	 /* > 0: --file-cache-valid */
	enum file_cache_sharing sharing;
	long long (*now_ms)(void); /* NULL: clock_now_ms; tests fake it */
};

/* What the file was when it was read: a change in any field is a miss. */
struct file_identity {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	struct timespec ctime;
};

/*
 * The gzip variant of an entry (static_files.c): its bytes and its own
 * validators, in one block, never written once published.
 */
struct file_gzip {
	size_t len; /* of data */
	time_t mtime;
	char etag[FILE_ETAG_MAX];
	char lines[FILE_LINES_MAX]; /* header lines, each ending CRLF */
	size_t lines_len;
	char data[]; /* len bytes */
};

/*
 * One cached file.  The fields above the line are set by file_entry_new()
 * and its caller before file_cache_insert(), and read-only after, but for
 * gzip and gzip_worth, which any thread may set once (see
 * file_entry_set_gzip).
 */
struct file_entry {
	const char *key; /* the decoded request path, "/sub/" */
	const char *rel; /* the file under the root, "sub/index.html" */
	struct file_identity id;
	const char *content_type; /* static string */
	char etag[FILE_ETAG_MAX];
	char lines[FILE_LINES_MAX]; /* header lines, each ending CRLF */
	size_t lines_len;
	char *body; /* id.size bytes */

	/*
	 * The gzip variant: rel + ".gz" read when the entry was made, or
	 * the body compressed on the first request that takes gzip and
	 * kept for every later one.  NULL: none (yet).  gzip_worth: the
	 * body may be compressed (text of the right size, no .gz); false
	 * once compressing it did not make it smaller.  gz_id is the
	 * identity of rel + ".gz" when the entry was made (all zero: no
	 * regular file), checked with id by an fstatat: a .gz that
	 * appears, changes or goes makes the entry stale too.
	 */
	struct file_gzip *_Atomic gzip; /* freed with the entry */
	atomic_bool gzip_worth;
	struct file_identity gz_id;

	/* ---- the cache's own ---- */
	atomic_int refs;
	unsigned int hash;
	long long checked_ms;	 /* when id was last compared with the disk */
	struct file_entry *next; /* in its hash bucket */
	struct file_entry *lru_prev, *lru_next; /* most recent first */
};

struct file_cache;

/*
 * Creates an empty cache.  Returns NULL with errno set (ENOMEM, or EINVAL
 * when max_entries or valid_s is not positive: a cache that is off is no
 * cache at all, and the caller passes NULL where it would go).
 */
struct file_cache *file_cache_create(const struct file_cache_config *cfg);

/*
 * Drops the cache's references and frees it.  Entries still referenced by
 * responses live until those let go.  NULL is ok.
 */
void file_cache_destroy(struct file_cache *c);

/*
 * The entry for key with a reference for the caller, or NULL on a miss.
 * An entry not checked for valid_s seconds is checked now (one fstatat of
 * its rel under the root); if the file changed or is gone it is dropped
 * and this is a miss: the caller opens the file again and inserts a new
 * entry.
 */
struct file_entry *file_cache_get(struct file_cache *c, const char *key);

/*
 * Allocates an entry for key, opened as rel, with room for a body of
 * id->size bytes (at most FILE_CACHE_BODY_MAX) that the caller fills, and
 * one reference, the caller's.  Returns NULL with errno set.
 */
struct file_entry *file_entry_new(const char *key, const char *rel,
				  const struct file_identity *id);

/*
 * Puts e (complete) in the cache, which takes its own reference; the
 * caller keeps its one.  An entry for the same key is replaced; past
 * max_entries the least recently used one goes.
 */
void file_cache_insert(struct file_cache *c, struct file_entry *e);

/*
 * e's gzip variant, or NULL if it has none yet.  Thread-safe: an acquire
 * load, so the variant's bytes are seen whole.
 */
const struct file_gzip *file_entry_gzip(struct file_entry *e);

/*
 * Publishes gz (malloc'd whole, complete) as e's gzip variant, unless e
 * has one already: then gz is freed.  Returns the variant e keeps, which
 * lives as long as e.  Thread-safe: one compare-and-swap from NULL, so
 * when two threads compress the same entry at once the first wins and
 * both send its bytes.
 */
const struct file_gzip *file_entry_set_gzip(struct file_entry *e,
					    struct file_gzip *gz);

/* Drops one reference to e (a void * for resp_set_body_ref).  NULL is ok. */
void file_entry_unref(void *e);

/* Fills id from st. */
void file_identity_from_stat(struct file_identity *id, const struct stat *st);

/*
 * Fills id from fstatat(dirfd, rel), following symlinks, if that is a
 * regular file; else zeroes it.  What file_cache_get() compares gz_id
 * with.
 */
void file_identity_at(struct file_identity *id, int dirfd, const char *rel);

/* The number of entries in the cache, for tests. */
int file_cache_count(struct file_cache *c);

#endif /* FILE_CACHE_H */
