/*
 * router.c - looking a method and a decoded path up in a route table.
 *
 * The table is a short array scanned from the top: a dozen routes cost less
 * to compare than a hash would cost to compute, and the reader sees every
 * route in one screen.
 */
#include "router.h"

#include <stdio.h>
#include <string.h>

/* True when route r answers method: HEAD is served by any GET route. */
static bool route_accepts(const struct route *r, enum http_method method,
			  bool head_as_get)
{
	if (r->method == method)
		return true;
	return head_as_get && method == HTTP_HEAD && r->method == HTTP_GET;
}

/* Appends ", NAME" (or "NAME" first) to allow unless it is already there. */
static void allow_add(char *allow, size_t allowsz, const char *name)
{
	size_t len = strlen(allow);
	const char *p;

	for (p = strstr(allow, name); p != NULL; p = strstr(p + 1, name)) {
		size_t n = strlen(name);

		if ((p == allow || p[-1] == ' ') && (p[n] == ',' || !p[n]))
			return;
	}
	snprintf(allow + len, allowsz - len, "%s%s", len ? ", " : "", name);
}

static void allow_fill(const struct route *table, size_t n, const char *path,
		       char *allow, size_t allowsz)
{
	size_t i;

	allow[0] = '\0';
	for (i = 0; i < n; i++) {
		if (strcmp(table[i].path, path) != 0)
			continue;
		allow_add(allow, allowsz, http_method_name(table[i].method));
		if (table[i].method == HTTP_GET)
			allow_add(allow, allowsz, "HEAD");
	}
}

enum route_result route_match(const struct route *table, size_t n,
			      enum http_method method, const char *path,
			      const struct route **found, char *allow,
			      size_t allowsz)
{
	bool known = false;
	int pass;
	size_t i;

	*found = NULL;
	/* First an exact method match, then HEAD on a GET route. */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i < n; i++) {
			if (strcmp(table[i].path, path) != 0)
				continue;
			known = true;
			if (route_accepts(&table[i], method, pass == 1)) {
				*found = &table[i];
				return ROUTE_FOUND;
			}
		}
		if (!known)
			return ROUTE_NOT_FOUND;
	}
	if (allow != NULL && allowsz > 0)
		allow_fill(table, n, path, allow, allowsz);
	return ROUTE_BAD_METHOD;
}
