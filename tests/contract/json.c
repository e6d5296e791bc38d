/*
 * json.c - a recursive-descent JSON syntax check: see json.h.
 */
#include "json.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define JSON_MAX_DEPTH 32

struct cursor {
	const char *p;
	const char *end;
	int depth;
};

static bool value(struct cursor *c);

static void skip_ws(struct cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
				 *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool eat(struct cursor *c, char ch)
{
	skip_ws(c);
	if (c->p < c->end && *c->p == ch) {
		c->p++;
		return true;
	}
	return false;
}

static bool literal(struct cursor *c, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return false;
	c->p += n;
	return true;
}

/* RFC 8259 section 7: control characters must be escaped. */
static bool string(struct cursor *c)
{
	if (!eat(c, '"'))
		return false;
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p++;
		int i;

		if (ch == '"')
			return true;
		if (ch < 0x20)
			return false;
		if (ch != '\\')
			continue;
		if (c->p == c->end)
			return false;
		ch = (unsigned char)*c->p++;
		if (strchr("\"\\/bfnrt", ch) && ch)
			continue;
		if (ch != 'u')
			return false;
		for (i = 0; i < 4; i++, c->p++)
			if (c->p == c->end || !isxdigit((unsigned char)*c->p))
				return false;
	}
	return false;
}

static bool digits(struct cursor *c)
{
	const char *start = c->p;

	while (c->p < c->end && isdigit((unsigned char)*c->p))
		c->p++;
	return c->p > start;
}

static bool number(struct cursor *c)
{
	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p < c->end && *c->p == '0')
		c->p++;
	else if (!digits(c))
		return false;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (!digits(c))
			return false;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (!digits(c))
			return false;
	}
	return true;
}

/* Elements of an array or members of an object, up to close. */
static bool members(struct cursor *c, char close, bool named)
{
	if (++c->depth > JSON_MAX_DEPTH)
		return false;
	if (eat(c, close))
		goto done;
	do {
		if (named && (!string(c) || !eat(c, ':')))
			return false;
		if (!value(c))
			return false;
	} while (eat(c, ','));
	if (!eat(c, close))
		return false;
done:
	c->depth--;
	return true;
}

static bool value(struct cursor *c)
{
	skip_ws(c);
	if (c->p == c->end)
		return false;
	switch (*c->p) {
	case '{':
		c->p++;
		return members(c, '}', true);
	case '[':
		c->p++;
		return members(c, ']', false);
	case '"':
		return string(c);
	case 't':
		return literal(c, "true");
	case 'f':
		return literal(c, "false");
	case 'n':
		return literal(c, "null");
	default:
		return number(c);
	}
}

bool json_valid(const char *s, size_t len)
{
	struct cursor c = { .p = s, .end = s + len };

	if (!value(&c))
		return false;
	skip_ws(&c);
	return c.p == c.end;
}

int json_find_string(const char *doc, const char *key, char *out, size_t outsz)
{
	char quoted[128];
	const char *p, *end;

	snprintf(quoted, sizeof(quoted), "\"%s\"", key);
	p = strstr(doc, quoted);
	if (!p)
		return -1;
	p += strlen(quoted);
	p += strspn(p, " \t\r\n");
	if (*p++ != ':')
		return -1;
	p += strspn(p, " \t\r\n");
	if (*p++ != '"')
		return -1;
	for (end = p; *end && *end != '"'; end++)
		if (*end == '\\' && end[1])
			end++;
	if (*end != '"' || (size_t)(end - p) >= outsz)
		return -1;
	memcpy(out, p, (size_t)(end - p));
	out[end - p] = '\0';
	return 0;
}
