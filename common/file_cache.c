/*
 * file_cache.c - small files in memory by request path: see file_cache.h.
 *
 *   get:    hash the key -> bucket chain -> entry?
 *             fresh (checked within valid_s)   -> ref it, move to LRU front
 *             stale -> fstatat(root, rel): same identity -> mark checked
 *                                          changed or gone -> unlink, miss
 *   insert: unlink the old entry for the key, link the new one at the LRU
 *           front, unlink the LRU tail while over max_entries
 *
 * A chained hash table of a power of two buckets, at least max_entries,
 * so chains stay short; a doubly-linked list orders the entries by use.
 */
#include "file_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct file_cache {
	struct file_cache_config cfg;
	bool locked; /* FILE_CACHE_SHARED */
	pthread_mutex_t lock;
	struct file_entry **buckets;
	unsigned int mask; /* buckets - 1 */
	int count;
	struct file_entry *lru_head, *lru_tail;
};

/*
 * FNV-1a.  Only files that exist get an entry, so a client cannot fill a
 * chain with keys of its choosing.
 */
static unsigned int hash_key(const char *key)
{
	uint32_t h = 2166136261u;

	for (; *key != '\0'; key++) {
		h ^= (unsigned char)*key;
		h *= 16777619u;
	}
	return h;
}

static void cache_lock(struct file_cache *c)
{
	if (c->locked)
		pthread_mutex_lock(&c->lock);
}

static void cache_unlock(struct file_cache *c)
{
	if (c->locked)
		pthread_mutex_unlock(&c->lock);
}

struct file_cache *file_cache_create(const struct file_cache_config *cfg)
{
	struct file_cache *c;
	unsigned int n = 16;

	if (cfg->max_entries <= 0 || cfg->valid_s <= 0) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->cfg = *cfg;
	if (c->cfg.now_ms == NULL)
		c->cfg.now_ms = clock_now_ms;
	while (n < (unsigned int)cfg->max_entries && n < (1u << 30))
		n <<= 1;
	c->buckets = calloc(n, sizeof(*c->buckets));
	if (c->buckets == NULL)
		goto out_free_cache;
	c->mask = n - 1;
	c->locked = cfg->sharing == FILE_CACHE_SHARED;
	if (c->locked && (errno = pthread_mutex_init(&c->lock, NULL)) != 0)
		goto out_free_buckets;
	return c;

out_free_buckets:
	free(c->buckets);
out_free_cache:
	free(c);
	return NULL;
}

void file_entry_unref(void *entry)
{
	struct file_entry *e = entry;

	/* The last reference: nobody else can reach e any more. */
	if (e != NULL && atomic_fetch_sub(&e->refs, 1) == 1) {
		free(atomic_load(&e->gzip));
		free(e);
	}
}

const struct file_gzip *file_entry_gzip(struct file_entry *e)
{
	return atomic_load_explicit(&e->gzip, memory_order_acquire);
}

const struct file_gzip *file_entry_set_gzip(struct file_entry *e,
					    struct file_gzip *gz)
{
	struct file_gzip *old = NULL;

	/*
	 * LESSON: the variant is built whole, then published with one
	 * pointer: release on success makes its bytes visible to whoever
	 * loads the pointer with acquire, and no reader ever sees half of
	 * it, with no lock.  The loser of a race gets the winner's pointer
	 * in old and drops its own copy.
	 */
	if (atomic_compare_exchange_strong_explicit(&e->gzip, &old, gz,
						    memory_order_acq_rel,
						    memory_order_acquire))
		return gz;
	free(gz);
	return old;
}

/* Takes e out of the table and the LRU list and drops the cache's ref. */
static void unlink_entry(struct file_cache *c, struct file_entry *e)
{
	struct file_entry **p = &c->buckets[e->hash & c->mask];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	if (e->lru_prev != NULL)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	c->count--;
	file_entry_unref(e);
}

void file_cache_destroy(struct file_cache *c)
{
	if (c == NULL)
		return;
	while (c->lru_head != NULL)
		unlink_entry(c, c->lru_head);
	if (c->locked)
		pthread_mutex_destroy(&c->lock);
	free(c->buckets);
	free(c);
}

static struct file_entry *find(struct file_cache *c, const char *key,
			       unsigned int hash)
{
	struct file_entry *e;

	for (e = c->buckets[hash & c->mask]; e != NULL; e = e->next)
		if (e->hash == hash && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

static void lru_push_front(struct file_cache *c, struct file_entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	if (c->lru_head != NULL)
		c->lru_head->lru_prev = e;
	else
		c->lru_tail = e;
	c->lru_head = e;
}

static void lru_touch(struct file_cache *c, struct file_entry *e)
{
	if (c->lru_head == e)
		return;
	e->lru_prev->lru_next = e->lru_next;
	if (e->lru_next != NULL)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	lru_push_front(c, e);
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static bool same_file(const struct file_identity *a,
		      const struct file_identity *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       same_time(&a->mtime, &b->mtime) &&
	       same_time(&a->ctime, &b->ctime);
}

/*
 * True when e still describes the file at its path, and the .gz beside
 * it is what it was.  Two fstatat calls, without the lock: other threads
 * go on meanwhile.
 *
 * LESSON: following symlinks here, without the openat2 of the slow path,
 * is safe because we only compare: if the path now leads somewhere else,
 * outside the root or not, the identity differs and the slow path decides
 * afresh (a .gz included).  The same inode, size and times are the very
 * file we checked.
 * ctime counts too: it cannot be set back, where mtime can (touch -d).
 */
static bool still_valid(const struct file_cache *c, const struct file_entry *e)
{
	struct file_identity now;
	char gz[PATH_MAX];
	struct stat st;

	if (fstatat(c->cfg.root_fd, e->rel, &st, 0) != 0 ||
	    !S_ISREG(st.st_mode))
		return false;
	file_identity_from_stat(&now, &st);
	if (!same_file(&now, &e->id))
		return false;
	/* The .gz beside it: the same, or still none. */
	if (snprintf(gz, sizeof(gz), "%s.gz", e->rel) >= (int)sizeof(gz))
		return false;
	file_identity_at(&now, c->cfg.root_fd, gz);
	return same_file(&now, &e->gz_id);
}

struct file_entry *file_cache_get(struct file_cache *c, const char *key)
{
	unsigned int hash = hash_key(key);
	long long now = c->cfg.now_ms();
	struct file_entry *e;
	bool valid;

	cache_lock(c);
	e = find(c, key, hash);
	if (e == NULL) {
		cache_unlock(c);
		return NULL;
	}
	atomic_fetch_add(&e->refs, 1);
	if (now - e->checked_ms < (long long)c->cfg.valid_s * 1000) {
		lru_touch(c, e);
		cache_unlock(c);
		return e;
	}
	cache_unlock(c);

	valid = still_valid(c, e);

	cache_lock(c);
	/* Another thread may have replaced or evicted e meanwhile. */
	if (find(c, key, hash) == e) {
		if (valid) {
			e->checked_ms = now;
			lru_touch(c, e);
		} else {
			unlink_entry(c, e);
		}
	}
	cache_unlock(c);
	if (valid)
		return e;
	file_entry_unref(e);
	return NULL;
}

struct file_entry *file_entry_new(const char *key, const char *rel,
				  const struct file_identity *id)
{
	size_t key_len = strlen(key) + 1, rel_len = strlen(rel) + 1;
	size_t size = (size_t)id->size;
	struct file_entry *e;
	char *p;

	if (id->size < 0 || size > FILE_CACHE_BODY_MAX) {
		errno = EFBIG;
		return NULL;
	}
	/* One block: the entry, then its key, path and body. */
	e = malloc(sizeof(*e) + key_len + rel_len + size);
	if (e == NULL)
		return NULL;
	memset(e, 0, sizeof(*e));
	p = (char *)(e + 1);
	e->key = memcpy(p, key, key_len);
	e->rel = memcpy(p + key_len, rel, rel_len);
	e->body = p + key_len + rel_len;
	e->id = *id;
	atomic_init(&e->gzip, NULL);
	atomic_init(&e->gzip_worth, false);
	atomic_init(&e->refs, 1);
	e->hash = hash_key(key);
	return e;
}

void file_cache_insert(struct file_cache *c, struct file_entry *e)
{
	struct file_entry *old;

	atomic_fetch_add(&e->refs, 1);
	e->checked_ms = c->cfg.now_ms();
	cache_lock(c);
	old = find(c, e->key, e->hash);
	if (old != NULL)
		unlink_entry(c, old);
	e->next = c->buckets[e->hash & c->mask];
	c->buckets[e->hash & c->mask] = e;
	lru_push_front(c, e);
	c->count++;
	while (c->count > c->cfg.max_entries)
		unlink_entry(c, c->lru_tail);
	cache_unlock(c);
}

void file_identity_from_stat(struct file_identity *id, const struct stat *st)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

void file_identity_at(struct file_identity *id, int dirfd, const char *rel)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if (fstatat(dirfd, rel, &st, 0) == 0 && S_ISREG(st.st_mode))
		file_identity_from_stat(id, &st);
}

int file_cache_count(struct file_cache *c)
{
	int n;

	cache_lock(c);
	n = c->count;
	cache_unlock(c);
	return n;
}
