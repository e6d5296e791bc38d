/*
 * test_file_cache.c - the open-file cache on its own: lookups, the
 * validity window on a fake clock, invalidation, LRU eviction, entries
 * that outlive the cache's reference, and many threads on a shared cache
 * (for TSan).  test_static_files.c tests it through file_serve.
 *
 * Each test works in a fresh mkdtemp() directory, the "root", with files
 * named after the keys ("/a" is the file a).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file_cache.h"

#define VALID_S 1

/* The cache's clock; atomic because the threaded test reads it too. */
static atomic_llong fake_now_ms = 5000000;

static long long fake_clock(void)
{
	return atomic_load(&fake_now_ms);
}

static void time_passes(void)
{
	atomic_fetch_add(&fake_now_ms, VALID_S * 1000);
}

struct fixture {
	char dir[64];
	int root_fd;
	struct file_cache *cache;
};

static void put(const struct fixture *f, const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void drop(const struct fixture *f, const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", f->dir, name);
	unlink(path);
}

static int setup_n(void **state, int max_entries,
		   enum file_cache_sharing sharing)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct file_cache_config cfg = { .max_entries = max_entries,
					 .valid_s = VALID_S,
					 .sharing = sharing,
					 .now_ms = fake_clock };

	if (f == NULL)
		return -1;
	strcpy(f->dir, "/tmp/test_file_cache.XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	f->root_fd = open(f->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cfg.root_fd = f->root_fd;
	f->cache = file_cache_create(&cfg);
	*state = f;
	return f->root_fd >= 0 && f->cache != NULL ? 0 : -1;
}

static int setup(void **state)
{
	return setup_n(state, 3, FILE_CACHE_PRIVATE);
}

static int setup_shared(void **state)
{
	return setup_n(state, 4, FILE_CACHE_SHARED);
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	char path[PATH_MAX];
	int i;

	file_cache_destroy(f->cache);
	close(f->root_fd);
	for (i = 0; i < 26; i++) {
		snprintf(path, sizeof(path), "%s/%c", f->dir, 'a' + i);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

/*
 * Reads the file of key ("/a": a) as the slow path would and makes an
 * entry of it, with the caller's reference; NULL if it is missing.
 */
static struct file_entry *load(const struct fixture *f, const char *key)
{
	struct file_identity id;
	struct file_entry *e;
	struct stat st;
	int fd = openat(f->root_fd, key + 1, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	assert_int_equal(fstat(fd, &st), 0);
	file_identity_from_stat(&id, &st);
	e = file_entry_new(key, key + 1, &id);
	assert_non_null(e);
	assert_int_equal(pread(fd, e->body, (size_t)st.st_size, 0), st.st_size);
	close(fd);
	return e;
}

/* Loads key and puts it in the cache, keeping no reference. */
static void insert(const struct fixture *f, const char *key)
{
	struct file_entry *e = load(f, key);

	assert_non_null(e);
	file_cache_insert(f->cache, e);
	file_entry_unref(e);
}

/* The cached body of key, or "" on a miss, into out. */
static const char *cached(const struct fixture *f, const char *key, char *out,
			  size_t outsz)
{
	struct file_entry *e = file_cache_get(f->cache, key);
	size_t n;

	out[0] = '\0';
	if (e == NULL)
		return out;
	n = (size_t)e->id.size < outsz - 1 ? (size_t)e->id.size : outsz - 1;
	memcpy(out, e->body, n);
	out[n] = '\0';
	file_entry_unref(e);
	return out;
}

static void test_create_refuses_off(void **state)
{
	struct file_cache_config cfg = { .root_fd = -1,
					 .max_entries = 0,
					 .valid_s = 1 };

	(void)state;
	assert_null(file_cache_create(&cfg));
	assert_int_equal(errno, EINVAL);
	cfg.max_entries = 1;
	cfg.valid_s = 0;
	assert_null(file_cache_create(&cfg));
	assert_int_equal(errno, EINVAL);
	file_cache_destroy(NULL);
	file_entry_unref(NULL);
}

static void test_entry_too_big(void **state)
{
	struct file_identity id = { .size = FILE_CACHE_BODY_MAX + 1 };

	(void)state;
	assert_null(file_entry_new("/x", "x", &id));
	assert_int_equal(errno, EFBIG);
}

static void test_miss_insert_hit(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	put(f, "a", "alpha");
	assert_string_equal(cached(f, "/a", buf, sizeof(buf)), "");
	insert(f, "/a");
	assert_int_equal(file_cache_count(f->cache), 1);
	assert_string_equal(cached(f, "/a", buf, sizeof(buf)), "alpha");
	assert_string_equal(cached(f, "/b", buf, sizeof(buf)), "");
	/* Same key again: replaced, not added. */
	insert(f, "/a");
	assert_int_equal(file_cache_count(f->cache), 1);
}

/* Within the window nothing is checked; after it, a change is a miss. */
static void test_window_then_check(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	put(f, "a", "alpha");
	insert(f, "/a");
	put(f, "a", "ALPHA, longer");
	assert_string_equal(cached(f, "/a", buf, sizeof(buf)), "alpha");
	time_passes();
	assert_string_equal(cached(f, "/a", buf, sizeof(buf)), "");
	assert_int_equal(file_cache_count(f->cache), 0);
}

/* An unchanged file passes the check and stays. */
static void test_unchanged_stays(void **state)
{
	struct fixture *f = *state;
	char buf[64];
	int i;

	put(f, "a", "alpha");
	insert(f, "/a");
	for (i = 0; i < 3; i++) {
		time_passes();
		assert_string_equal(cached(f, "/a", buf, sizeof(buf)), "alpha");
	}
	assert_int_equal(file_cache_count(f->cache), 1);
}

/* Deleted, or replaced by a directory: a miss once checked. */
static void test_deleted_or_not_a_file(void **state)
{
	struct fixture *f = *state;
	char buf[64], path[PATH_MAX];

	put(f, "a", "alpha");
	put(f, "b", "beta");
	insert(f, "/a");
	insert(f, "/b");
	drop(f, "a");
	drop(f, "b");
	snprintf(path, sizeof(path), "%s/b", f->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	time_passes();
	assert_string_equal(cached(f, "/a", buf, sizeof(buf)), "");
	assert_string_equal(cached(f, "/b", buf, sizeof(buf)), "");
	assert_int_equal(file_cache_count(f->cache), 0);
	rmdir(path);
}

/* Past max_entries (3) the least recently used goes. */
static void test_lru(void **state)
{
	struct fixture *f = *state;
	char buf[64];

	put(f, "a", "a");
	put(f, "b", "b");
	put(f, "c", "c");
	put(f, "d", "d");
	insert(f, "/a");
	insert(f, "/b");
	insert(f, "/c");
	assert_string_equal(cached(f, "/a", buf, sizeof(buf)), "a");
	insert(f, "/d"); /* b is the least recent */
	assert_int_equal(file_cache_count(f->cache), 3);
	assert_string_equal(cached(f, "/b", buf, sizeof(buf)), "");
	assert_string_equal(cached(f, "/a", buf, sizeof(buf)), "a");
	assert_string_equal(cached(f, "/c", buf, sizeof(buf)), "c");
	assert_string_equal(cached(f, "/d", buf, sizeof(buf)), "d");
}

/* A reference outlives eviction, replacement and the cache itself. */
static void test_reference_outlives(void **state)
{
	struct fixture *f = *state;
	struct file_entry *held, *again;

	put(f, "a", "alpha");
	insert(f, "/a");
	held = file_cache_get(f->cache, "/a");
	assert_non_null(held);
	put(f, "a", "second");
	insert(f, "/a"); /* replaces held in the cache */
	again = file_cache_get(f->cache, "/a");
	assert_non_null(again);
	assert_ptr_not_equal(again, held);
	assert_memory_equal(again->body, "second", 6);
	file_entry_unref(again);
	file_cache_destroy(f->cache);
	f->cache = NULL;
	/* ASan would report a use after free or a leak here. */
	assert_memory_equal(held->body, "alpha", 5);
	assert_string_equal(held->key, "/a");
	file_entry_unref(held);
}

/* A variant of one byte, c, as a thread that compressed would make. */
static struct file_gzip *gzip_of(char c)
{
	struct file_gzip *gz = calloc(1, sizeof(*gz) + 1);

	assert_non_null(gz);
	gz->len = 1;
	gz->data[0] = c;
	return gz;
}

/* The first variant published stays; a later one is freed (ASan: leak). */
static void test_gzip_set_once(void **state)
{
	struct fixture *f = *state;
	const struct file_gzip *first;
	struct file_entry *e;

	put(f, "a", "alpha");
	e = load(f, "/a");
	assert_null(file_entry_gzip(e));
	first = file_entry_set_gzip(e, gzip_of('1'));
	assert_non_null(first);
	assert_ptr_equal(file_entry_gzip(e), first);
	assert_ptr_equal(file_entry_set_gzip(e, gzip_of('2')), first);
	assert_int_equal(file_entry_gzip(e)->data[0], '1');
	file_entry_unref(e); /* frees the variant with it */
}

#define RACERS 4

struct racer {
	struct file_entry *e;
	const struct file_gzip *got;
};

static void *race_to_set(void *arg)
{
	struct racer *r = arg;
	struct file_gzip *gz = malloc(sizeof(*gz) + 1);

	if (gz == NULL)
		return NULL;
	gz->len = 1;
	gz->data[0] = 'r';
	r->got = file_entry_set_gzip(r->e, gz);
	return NULL;
}

/* Threads that publish at once all end up with the one winner. */
static void test_gzip_race(void **state)
{
	struct fixture *f = *state;
	struct racer r[RACERS];
	pthread_t tid[RACERS];
	struct file_entry *e;
	int i;

	put(f, "a", "alpha");
	e = load(f, "/a");
	for (i = 0; i < RACERS; i++) {
		r[i].e = e;
		r[i].got = NULL;
		assert_int_equal(
			pthread_create(&tid[i], NULL, race_to_set, &r[i]), 0);
	}
	for (i = 0; i < RACERS; i++)
		pthread_join(tid[i], NULL);
	for (i = 0; i < RACERS; i++) {
		assert_non_null(r[i].got);
		assert_ptr_equal(r[i].got, file_entry_gzip(e));
		assert_int_equal(r[i].got->data[0], 'r');
	}
	file_entry_unref(e);
}

struct worker {
	struct fixture *f;
	int hits;
	int wrong; /* bodies that were not their file's: must stay 0 */
};

/* load() without cmocka, which must not assert on other threads. */
static struct file_entry *load_quietly(const struct fixture *f, const char *key)
{
	struct file_identity id;
	struct file_entry *e = NULL;
	struct stat st;
	int fd = openat(f->root_fd, key + 1, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) == 0) {
		file_identity_from_stat(&id, &st);
		e = file_entry_new(key, key + 1, &id);
	}
	if (e != NULL &&
	    pread(fd, e->body, (size_t)st.st_size, 0) != st.st_size) {
		file_entry_unref(e);
		e = NULL;
	}
	close(fd);
	return e;
}

/*
 * Gets, inserts on a miss, unrefs: "/a" every other time, so it stays hot,
 * and five others in turn, so the four slots keep evicting.  TSan watches.
 */
static void *hammer(void *arg)
{
	struct worker *w = arg;
	static const char *const keys[] = { "/b", "/c", "/d", "/e", "/f" };
	int i;

	for (i = 0; i < 4000; i++) {
		const char *key = i % 2 ? "/a" : keys[i / 2 % 5];
		struct file_entry *e = file_cache_get(w->f->cache, key);

		if (e == NULL) {
			e = load_quietly(w->f, key);
			if (e != NULL)
				file_cache_insert(w->f->cache, e);
		} else {
			w->hits++;
		}
		if (e != NULL && (e->id.size != 1 || e->body[0] != key[1]))
			w->wrong++;
		file_entry_unref(e);
		if (i % 500 == 0)
			time_passes(); /* some gets re-check */
	}
	return NULL;
}

static void test_shared_under_threads(void **state)
{
	struct fixture *f = *state;
	struct worker w[4];
	pthread_t tid[4];
	int i;

	put(f, "a", "a");
	put(f, "b", "b");
	put(f, "c", "c");
	put(f, "d", "d");
	put(f, "e", "e");
	put(f, "f", "f");
	for (i = 0; i < 4; i++) {
		w[i] = (struct worker){ .f = f };
		assert_int_equal(pthread_create(&tid[i], NULL, hammer, &w[i]),
				 0);
	}
	for (i = 0; i < 4; i++)
		pthread_join(tid[i], NULL);
	assert_true(file_cache_count(f->cache) <= 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(w[i].wrong, 0);
		assert_true(w[i].hits > 0);
	}
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_refuses_off),
		cmocka_unit_test(test_entry_too_big),
		T(test_miss_insert_hit),
		T(test_window_then_check),
		T(test_unchanged_stays),
		T(test_deleted_or_not_a_file),
		T(test_lru),
		T(test_reference_outlives),
		T(test_gzip_set_once),
		T(test_gzip_race),
		cmocka_unit_test_setup_teardown(test_shared_under_threads,
						setup_shared, teardown),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
