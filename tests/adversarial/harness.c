/*
 * harness.c - the adversarial suite's document root and server options:
 * see harness.h.
 */
#include "harness.h"
#include "docfile.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char doc_root[PATH_MAX];

unsigned char doc_byte(size_t i)
{
	return docfile_byte(i);
}

static int write_file(const char *name, const void *data, size_t len)
{
	return docfile_write(doc_root, name, data, len);
}

int docroot_create(void)
{
	unsigned char *big;
	int rc;

	snprintf(doc_root, sizeof(doc_root), "/tmp/adversarial-XXXXXX");
	if (mkdtemp(doc_root) == NULL)
		return -1;
	big = malloc(DOC_BIG_LEN);
	if (big == NULL)
		return -1;
	for (size_t i = 0; i < DOC_BIG_LEN; i++)
		big[i] = doc_byte(i);
	rc = write_file("index.html", DOC_INDEX, strlen(DOC_INDEX));
	if (rc == 0)
		rc = write_file("big.bin", big, DOC_BIG_LEN);
	free(big);
	if (rc == 0)
		rc = write_file("huge.bin", "", 0);
	if (rc == 0) {
		char path[PATH_MAX + 32];

		snprintf(path, sizeof(path), "%s/huge.bin", doc_root);
		rc = truncate(path, DOC_HUGE_LEN);
	}
	return rc;
}

void docroot_remove(void)
{
	const char *names[] = { "index.html", "big.bin", "huge.bin" };
	char path[PATH_MAX + 32];

	if (doc_root[0] == '\0')
		return;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", doc_root, names[i]);
		unlink(path);
	}
	rmdir(doc_root);
}

int harness_start(struct server_proc *s, const char *const *extra,
		  rlim_t nofile)
{
	const struct server_spawn_opts opts = {
		.start_timeout_ms = START_TIMEOUT_MS,
		.nofile = nofile,
	};
	char *argv[64];
	int n = 0;

	argv[n++] = (char *)server_binary;
	argv[n++] = "--port";
	argv[n++] = "0";
	argv[n++] = "--root";
	argv[n++] = doc_root;
	argv[n++] = "--quiet";
	for (; extra != NULL && *extra != NULL && n < 62; extra++)
		argv[n++] = (char *)*extra;
	argv[n] = NULL;
	return server_spawn(s, argv, &opts);
}

int raise_nofile(rlim_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	if (rl.rlim_cur >= n)
		return 0;
	if (rl.rlim_max < n)
		return -1;
	rl.rlim_cur = n;
	return setrlimit(RLIMIT_NOFILE, &rl);
}

int fetch_status(int port, const char *path)
{
	struct reply r;
	char req[512];
	int status;

	snprintf(req, sizeof(req),
		 "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
		 path);
	if (fetch_within(port, req, &r, EXCHANGE_TIMEOUT_MS) != 0)
		return -1;
	status = r.status;
	reply_free(&r);
	return status;
}

int stats_active_connections(int port)
{
	static const char req[] = "GET /api/stats HTTP/1.1\r\nHost: "
				  "t\r\nConnection: close\r\n\r\n";
	static const char key[] = "\"active_connections\":";
	struct reply r;
	const char *v;
	int n = -1;

	if (fetch_within(port, req, &r, EXCHANGE_TIMEOUT_MS) != 0)
		return -1;
	v = strstr(r.body, key);
	if (r.status == 200 && v != NULL)
		n = atoi(v + strlen(key));
	reply_free(&r);
	return n;
}
