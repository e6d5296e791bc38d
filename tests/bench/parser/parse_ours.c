/*
 * parse_ours.c - the project's parser, as a server calls it for a request
 * that arrived in one read: a fresh struct http_request, no saved state.
 */
#include "http_parser.h"
#include "parsers.h"

ssize_t bench_parse_ours(char *buf, size_t len)
{
	struct http_request req;
	ssize_t rc = http_parse_request(buf, len, NULL, &req, NULL);

	return rc > 0 ? rc : -1;
}
