/*
 * contract.h - what the contract suite's files share: the server process
 * under test, the document root the suite builds, and assertion helpers.
 *
 *   build/tests/contract-suite path/to/server-binary [cmocka filter]
 *
 * The suite starts the server with fork+exec and the options every model
 * takes, reads "listening on http://127.0.0.1:PORT" from its stdout, talks
 * to it over loopback sockets, and stops it with SIGTERM (SIGKILL on the
 * way out if anything went wrong).  The groups run in order:
 *
 *   http         request semantics, static files, the demo API (RFC 9110)
 *   errors       malformed and over-limit requests (RFC 9112)
 *   hardening    UTF-8 in JSON, the slash redirect, dotfiles, HEAD errors,
 *                the query rule
 *   ranges       Range and If-Range on static files: 206, 416, and when
 *                the whole file is the answer (test_ranges.c)
 *   connections  keep-alive, pipelining, many clients, leaks, SIGTERM
 *   timeouts     a second server with one-second timeouts
 *   cache        the file cache and both path resolvers, on servers of
 *                its own over a root it changes (test_cache.c)
 *   loops        --loops 2: 06's event loops; the others ignore it
 *   model        /proc checks of the concurrency model, by binary name
 *   metrics      /metrics, the security headers, SIGHUP and log rotation
 *   compression  gzip on the fly and from .gz files, Vary, the variant
 *                ETag, 304 and HEAD, on a server and root of its own
 *                (test_compression.c)
 *   ratelimit    --rate-limit, --burst and --trust-proxy, each test on a
 *                server of its own (test_ratelimit.c)
 *
 * The first five share one server, so the descriptor check at the end of
 * "connections" sees what every earlier test left behind.
 *
 * Thread safety: none; the suite is single-threaded.
 */
#ifndef CONTRACT_H
#define CONTRACT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <sys/types.h>
#include <time.h>

#include "client.h"
#include "server_proc.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* --max-body for every server the suite starts. */
#define SUITE_MAX_BODY 65536

/* How long a server may take to print its address, and to exit. */
#define START_TIMEOUT_MS 10000
#define STOP_TIMEOUT_MS 5000

/* The document root (see make_docroot in contract.c). */
#define DOC_INDEX                                                              \
	"<!DOCTYPE html>\n<html><head><title>contract</title></head>\n"        \
	"<body><p>contract suite index</p></body></html>\n"
#define DOC_SUB_INDEX "<!DOCTYPE html>\n<p>contract suite sub index</p>\n"
#define DOC_SMALL_LEN 1024
#define DOC_BIG_LEN (2 * 1024 * 1024)
#define DOC_MTIME ((time_t)1577836800) /* 2020-01-01 00:00:00 UTC */
#define DOC_SECRET "contract-suite-secret-outside-the-root"
#define DOC_DOTFILE "contract-suite-dotfile-never-served\n"
#define DOC_SECURITY_TXT "Contact: mailto:security@example.org\n"

/* argv[1] and its basename ("01_blocking"). */
extern const char *server_binary;
extern const char *server_model;

/* The byte at offset i of small.txt and big.bin. */
unsigned char doc_byte(size_t i);

/*
 * Starts the binary with the suite's default options followed by extra
 * (NULL-terminated, may be NULL; a later option overrides an earlier one),
 * waits for its address and takes the descriptor baseline (s->base_fds).
 * Returns 0, or -1 with a message on stderr.  server_proc.h stops it.
 */
int server_start(struct server_proc *s, const char *const *extra);

/* The server the http, errors and connections groups share. */
struct server_proc *shared_server(void);

/* Group fixtures: start the shared server if needed / stop it. */
int shared_server_up(void **state);
int shared_server_down(void **state);

/*
 * Per-test teardown for the shared server: closes every client and, if
 * the server died during the test, reports it and starts a new one.
 */
int shared_test_teardown(void **state);

/*
 * Runs a group of tests under its name, unless the filter given on the
 * command line selects none of them (then its fixtures would start a
 * server for nothing).  Returns the number of failed tests.
 */
int run_group(const char *name, const struct CMUnitTest *tests, size_t n,
	      CMFixtureFunction setup, CMFixtureFunction teardown);

/*
 * Assertions that fail the current test with a message saying what was
 * sent and what came back.
 */

/* Reads one reply on c or fails the test; what names the request. */
void read_reply_or_fail(struct client *c, struct reply *r, bool head,
			const char *what);

/* fetch() or fail. */
void fetch_or_fail(int port, const char *request, struct reply *r);

/* Fetches GET path (Connection: close) and fails unless it is a 200. */
void get_ok(int port, const char *path, struct reply *r);

/* Fails unless r->status is want. */
void assert_status(const struct reply *r, int want, const char *what);

/* Fails unless the server closes c within CLIENT_TIMEOUT_MS. */
void assert_closes(struct client *c, const char *what);

/* Fails unless GET / on a new connection is answered 200. */
void assert_server_serves(int port, const char *after);

/* Opens a client or fails. */
struct client *open_or_fail(int port);

/* Sends a string or fails. */
void send_or_fail(struct client *c, const char *s);

/* Removes dir and everything under it, symlinks not followed. */
void remove_tree(const char *dir);

/* Fails unless the reply carries header name (any value). */
const char *header_or_fail(const struct reply *r, const char *name);

/* The group runners, in the order main() calls them. */
int run_http_tests(void);
int run_error_tests(void);
int run_hardening_tests(void);
int run_range_tests(void);
int run_connection_tests(void);
int run_timeout_tests(void);
int run_cache_tests(void);
int run_loops_tests(void);
int run_model_tests(void);
int run_metrics_tests(void);
int run_compression_tests(void);
int run_ratelimit_tests(void);

#endif /* CONTRACT_H */
