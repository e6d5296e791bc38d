/*
 * parsers.h - the three parsers that bench_parser.c compares, behind one
 * neutral interface.
 *
 * Each parser lives in its own file because the project's http_parser.h
 * and the nodejs http-parser's <http_parser.h> share a file name and both
 * define HTTP_GET, HTTP_HEAD, ...: they cannot meet in one translation
 * unit.
 *
 * A parse function is given one whole request head (no body) in
 * buf[0..len) and returns the number of bytes the request took, or -1 if
 * the parser refused it or wanted more.  Each call parses from scratch,
 * as a server does for a request that arrived in one read; every parser
 * hands back the method, the target and each header as views into buf.
 * None keeps state between calls; none is thread-safe only because the
 * bench has one thread.
 */
#ifndef BENCH_PARSERS_H
#define BENCH_PARSERS_H

#include <stddef.h>
#include <sys/types.h>

/* The most header fields the bench requests carry, with room to spare. */
#define BENCH_MAX_HEADERS 64

/* This project's http_parse_request(), with st == NULL. */
ssize_t bench_parse_ours(char *buf, size_t len);

/* picohttpparser's phr_parse_request(), from Debian's libh2o. */
ssize_t bench_parse_pico(char *buf, size_t len);

/* The nodejs http-parser (libhttp-parser), strict, with callbacks. */
ssize_t bench_parse_nodejs(char *buf, size_t len);

#endif /* BENCH_PARSERS_H */
