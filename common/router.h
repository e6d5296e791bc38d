/*
 * router.h - method + path -> handler.
 *
 * A route table is a plain array.  route_match() looks a request up in it:
 * a known path with another method is 405 with the Allow list; an unknown
 * path falls through to the caller (usually the static-file module).
 *
 * Thread safety: read-only on the table; re-entrant.
 */
#ifndef ROUTER_H
#define ROUTER_H

#include <stdbool.h>
#include <stddef.h>

#include "http_parser.h"
#include "response.h"

struct app;

typedef void route_handler(const struct app *app,
			   const struct http_request *req,
			   struct response *resp);

struct route {
	enum http_method method;
	const char *path; /* exact, decoded path */
	route_handler *handler;
	bool may_block; /* the event-loop models hand it to a pool */
};

enum route_result {
	ROUTE_FOUND,	  /* *found is the route */
	ROUTE_NOT_FOUND,  /* no route has this path */
	ROUTE_BAD_METHOD, /* path known, method not: 405, allow filled */
};

/*
 * Looks up (req->method, path) in table[0..n).  path is the decoded path.
 * On ROUTE_BAD_METHOD, allow receives "GET, HEAD" style text (HEAD is
 * allowed wherever GET is).  Returns the result.
 */
enum route_result route_match(const struct route *table, size_t n,
			      enum http_method method, const char *path,
			      const struct route **found, char *allow,
			      size_t allowsz);

#endif /* ROUTER_H */
