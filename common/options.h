/*
 * options.h - the command line every server shares.
 *
 * All six servers take the same options, so a lab can swap one binary for
 * another; an option a model has no use for is accepted and ignored (the
 * usage text says which models use it).
 *
 * Thread safety: opt_parse uses getopt_long and is for main() only.
 */
#ifndef OPTIONS_H
#define OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "net.h"

#define OPT_DEFAULT_PORT 8080
#define OPT_DEFAULT_HOST "127.0.0.1"
#define OPT_DEFAULT_ROOT "www"
#define OPT_DEFAULT_FILE_CACHE_VALID 1
#define OPT_DEFAULT_FILE_CACHE_ENTRIES 1024
#define OPT_MAX_LOOPS 64     /* --loops: a loop per core, on big machines */
#define OPT_MAX_RATE 1000000 /* --rate-limit and --burst */
#define OPT_MAX_PROXIES 8    /* --trust-proxy addresses */

struct options {
	const char *host;	  /* --host, default 127.0.0.1 */
	int port;		  /* --port, 0 = ephemeral */
	const char *root;	  /* --root, default www */
	int threads;		  /* --threads: 04 and 06 workers */
	int queue;		  /* --queue: 04 and 06 queue capacity */
	int max_conns;		  /* --max-conns: live connection cap */
	int keepalive_timeout_ms; /* --keepalive-timeout SECONDS */
	int header_timeout_ms;	  /* --header-timeout SECONDS */
	size_t max_body;	  /* --max-body BYTES */
	bool quiet;		  /* --quiet: no access log on stderr */
	const char *access_log;	  /* --access-log FILE */
	int file_cache_valid_s;	  /* --file-cache-valid SECONDS, 0 = off */
	int file_cache_entries;	  /* --file-cache-entries N, 0 = off */
	int loops;		  /* --loops: 06 event loops (threads) */
	int rate_limit;		  /* --rate-limit R a second, 0 = off */
	int burst;		  /* --burst B, or R when not given */
	int proxies;		  /* --trust-proxy addresses in proxy[] */
	struct net_ip proxy[OPT_MAX_PROXIES];
};

enum opt_result {
	OPT_RUN,	/* options parsed: run the server */
	OPT_EXIT_ERROR, /* err holds the message: exit 2 */
	OPT_HELP,	/* print usage to stdout, exit 0 */
	OPT_VERSION,	/* print the version to stdout, exit 0 */
};

/* Fills o with the defaults (threads from the number of cores). */
void opt_defaults(struct options *o);

/*
 * Parses argv into o (which opt_defaults has filled).  Returns OPT_RUN,
 * OPT_HELP, OPT_VERSION, or OPT_EXIT_ERROR with a one-line message in err.
 */
enum opt_result opt_parse(struct options *o, int argc, char **argv, char *err,
			  size_t errsz);

/* Writes the usage text for prog (a model name such as "01_blocking"). */
void opt_print_usage(FILE *out, const char *prog);

#define PROJECT_VERSION "1.0.0"

#endif /* OPTIONS_H */
