/*
 * json.h - just enough JSON for the contract suite to check the API.
 *
 * json_valid() is a strict RFC 8259 syntax check (no values are built), so a
 * test can tell a properly escaped string from one that breaks the document.
 *
 * Thread safety: re-entrant.
 */
#ifndef CONTRACT_JSON_H
#define CONTRACT_JSON_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is exactly one JSON value, with optional spaces. */
bool json_valid(const char *s, size_t len);

/*
 * Finds the first member "key": "value" anywhere in the document (a plain
 * text search, enough for the flat objects of /api/...) and copies the raw
 * value without its quotes into out.  Returns 0, or -1 if absent, not a
 * string, or too long.
 */
int json_find_string(const char *doc, const char *key, char *out, size_t outsz);

#endif /* CONTRACT_JSON_H */
