/*
 * app.h - what the server does with a parsed request: the route table of
 * demo handlers (/api/...) with the static files of --root behind them.
 *
 * Every model calls app_handle() for each complete request and sends what it
 * put in the response.  The event-loop models first ask app_may_block():
 * 06 hands such requests to its worker pool, 05 runs them inline.
 *
 * The demo API (the classic tutorial servers' API plus what the bench needs):
 *   GET  /api/hello?name=X   JSON greeting, name JSON-escaped
 *   GET  /api/time           JSON with the server time
 *   POST /api/echo           echoes the request body
 *   GET  /api/sleep?ms=N     blocks N ms (capped at 10 s): a slow database
 *   GET  /api/cpu?n=N        CPU-bound work (capped): a hash N thousand times
 *   GET  /api/stats          JSON counters: see stats.h
 *   GET  /api/model          {"model":"01_blocking"}: who answered
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

#include <stdbool.h>

#include "http_parser.h"
#include "response.h"

struct server;

#define APP_SLEEP_MAX_MS 10000
#define APP_CPU_MAX_N 10000
#define APP_SLEEP_DEFAULT_MS 100
#define APP_CPU_DEFAULT_N 100

/*
 * Routes req and fills resp, finished (resp_finish has run) and ready to
 * send.  resp->keep_alive follows req->keep_alive unless the handler or an
 * error says close.  resp may borrow from req's buffer (echo).
 *
 * resp is initialised here (release the previous response first).  Every
 * status below 500 keeps the connection when req asked for it: the request
 * was read whole, so even a 404 leaves the connection in step.
 */
void app_handle(const struct server *srv, const struct http_request *req,
		struct response *resp);

/* Fills resp with a finished error response (Connection: close). */
void app_handle_error(const struct server *srv, const struct http_request *req,
		      int status, struct response *resp);

/* True when the route req goes to may block the calling thread. */
bool app_may_block(const struct server *srv, const struct http_request *req);

#endif /* APP_H */
