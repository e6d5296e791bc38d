/*
 * app.h - what the server does with a parsed request: the route table of
 * demo handlers (/api/...) with the static files of --root behind them.
 *
 * A request is routed once, when it is complete: app_find_route() decodes
 * its path and looks it up, and the exchange keeps the result.  The event
 * loops ask app_may_block() of it (06 hands such requests to its worker
 * pool, 05 runs them inline); then app_handle() runs it and fills the
 * response every model sends.
 *
 * The demo API (the classic tutorial servers' API plus what the bench needs):
 *   GET  /api/hello?name=X   JSON greeting, name JSON-escaped
 *   GET  /api/time           JSON with the server time
 *   POST /api/echo           echoes the request body
 *   GET  /api/sleep?ms=N     blocks N ms (capped at 10 s): a slow database
 *   GET  /api/cpu?n=N        CPU-bound work (capped): a hash N thousand times
 *   GET  /api/stats          JSON counters: see stats.h
 *   GET  /api/model          {"model":"01_blocking"}: who answered
 *   GET  /metrics            the counters for Prometheus: see stats.h
 *
 * HEAD is accepted wherever GET is.  A missing ms or n takes the default
 * below; a value out of range is clamped; one that is not a number is 400.
 * A name must be well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF, no truncated sequence), else 400:
 * JSON is UTF-8, and no escape could carry other bytes.  Multi-byte
 * characters come back as they are; quote, backslash and control
 * characters come back escaped (\" \\ \u00XX).
 *
 * Thread safety: re-entrant; handlers share only the atomic counters.
 */
#ifndef APP_H
#define APP_H

#include <limits.h>
#include <stdbool.h>

#include "file_cache.h"
#include "http_parser.h"
#include "response.h"

struct file_root;
struct options;
struct route;
struct stats;

#define APP_SLEEP_MAX_MS 10000
#define APP_CPU_MAX_N 10000
#define APP_SLEEP_DEFAULT_MS 100
#define APP_CPU_DEFAULT_N 100

#define APP_ALLOW_MAX 64 /* "GET, HEAD, POST" and the like */

/*
 * What the handlers read of the server: set at start-up, read-only after
 * (but for the file cache inside files, which is as thread-safe as the
 * model asked for: app_open_files).
 */
struct app {
	const char *root;    /* --root, resolved (file_resolve_root) */
	const char *model;   /* "01_blocking", for /api/model and /api/stats */
	struct stats *stats; /* for /api/stats, /metrics; NULL makes a 500 */
	/* The root opened, and its cache; NULL: realpath, no cache. */
	struct file_root *files;
};

/*
 * Where a request goes: an API handler, the static files, or an error.
 * Filled by app_find_route(); about 4 KiB (the decoded path).
 */
struct app_route {
	int status;		   /* 0, or the answer: 400 (bad path), 405 */
	const struct route *route; /* the handler; NULL: a file (or status) */
	char allow[APP_ALLOW_MAX]; /* on 405: the Allow list */
	char path[PATH_MAX];	   /* the decoded path */
};

/*
 * Routes req: decodes its path and looks it up in the route table.  A path
 * that does not decode is 400; a known path with another method, or a
 * method other than GET and HEAD on a file, is 405 with its Allow list.
 * Never fails: every outcome is in *out.
 */
void app_find_route(const struct http_request *req, struct app_route *out);

/* True when the handler route goes to may block the calling thread. */
bool app_may_block(const struct app_route *route);

/*
 * Runs route (app_find_route() of this req) and fills resp, finished
 * (resp_finish has run) and ready to send.  resp->keep_alive follows
 * req->keep_alive unless the handler or an error says close.  resp may
 * borrow from req's buffer (echo).
 *
 * resp is initialised here (release the previous response first).  Every
 * status below 500 keeps the connection when req asked for it: the request
 * was read whole, so even a 404 leaves the connection in step.
 */
void app_handle(const struct app *app, const struct http_request *req,
		const struct app_route *route, struct response *resp);

/*
 * Opens app->root for the static files (file_root_open) with a file cache
 * of opt's --file-cache-entries and --file-cache-valid, if both are above
 * 0, shared as the model says: FILE_CACHE_SHARED when several threads
 * serve files.  Called by each model's run() before it serves anything.
 * Returns 0, or -1 with errno set.
 */
int app_open_files(struct app *app, const struct options *opt,
		   enum file_cache_sharing sharing);

/* Closes what app_open_files opened.  Every response must be released. */
void app_close_files(struct app *app);

/*
 * Fills resp with a finished error response (Connection: close; 503 adds
 * Retry-After).  head: the request was a HEAD, so no body goes out.
 */
void app_handle_error(int status, bool head, struct response *resp);

/*
 * Fills resp with a finished 429 Too Many Requests for req, which the
 * rate limit refused: Retry-After: retry_after_s, and the connection kept
 * as req->keep_alive says: as the request asked when it was read whole,
 * so the next one starts cleanly; false when its body was never read.
 */
void app_handle_limited(int retry_after_s, const struct http_request *req,
			struct response *resp);

#endif /* APP_H */
