/*
 * options.c - parsing the shared command line with getopt_long.
 *
 * Every number is checked for range: a typo on the command line is a clear
 * message and exit status 2, never a server that silently runs with zero
 * threads or a negative timeout.
 */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http_parser.h"

enum {
	OPT_KEY_HOST = 256,
	OPT_KEY_PORT,
	OPT_KEY_ROOT,
	OPT_KEY_THREADS,
	OPT_KEY_QUEUE,
	OPT_KEY_MAX_CONNS,
	OPT_KEY_KEEPALIVE,
	OPT_KEY_HEADER_TIMEOUT,
	OPT_KEY_MAX_BODY,
	OPT_KEY_QUIET,
	OPT_KEY_ACCESS_LOG,
	OPT_KEY_HELP,
	OPT_KEY_VERSION,
	OPT_KEY_FILE_CACHE_VALID,
	OPT_KEY_FILE_CACHE_ENTRIES,
	OPT_KEY_LOOPS,
	OPT_KEY_RATE_LIMIT,
	OPT_KEY_BURST,
	OPT_KEY_TRUST_PROXY,
};

static const struct option long_options[] = {
	{ "host", required_argument, NULL, OPT_KEY_HOST },
	{ "port", required_argument, NULL, OPT_KEY_PORT },
	{ "root", required_argument, NULL, OPT_KEY_ROOT },
	{ "threads", required_argument, NULL, OPT_KEY_THREADS },
	{ "queue", required_argument, NULL, OPT_KEY_QUEUE },
	{ "max-conns", required_argument, NULL, OPT_KEY_MAX_CONNS },
	{ "keepalive-timeout", required_argument, NULL, OPT_KEY_KEEPALIVE },
	{ "header-timeout", required_argument, NULL, OPT_KEY_HEADER_TIMEOUT },
	{ "max-body", required_argument, NULL, OPT_KEY_MAX_BODY },
	{ "quiet", no_argument, NULL, OPT_KEY_QUIET },
	{ "access-log", required_argument, NULL, OPT_KEY_ACCESS_LOG },
	{ "help", no_argument, NULL, OPT_KEY_HELP },
	{ "version", no_argument, NULL, OPT_KEY_VERSION },
	{ "file-cache-valid", required_argument, NULL,
	  OPT_KEY_FILE_CACHE_VALID },
	{ "file-cache-entries", required_argument, NULL,
	  OPT_KEY_FILE_CACHE_ENTRIES },
	{ "loops", required_argument, NULL, OPT_KEY_LOOPS },
	{ "rate-limit", required_argument, NULL, OPT_KEY_RATE_LIMIT },
	{ "burst", required_argument, NULL, OPT_KEY_BURST },
	{ "trust-proxy", required_argument, NULL, OPT_KEY_TRUST_PROXY },
	{ NULL, 0, NULL, 0 },
};

void opt_defaults(struct options *o)
{
	long cores = sysconf(_SC_NPROCESSORS_ONLN);

	if (cores < 1)
		cores = 1;
	memset(o, 0, sizeof(*o));
	o->host = OPT_DEFAULT_HOST;
	o->port = OPT_DEFAULT_PORT;
	o->root = OPT_DEFAULT_ROOT;
	/*
	 * LESSON: a pool of blocking workers wants more threads than cores,
	 * because a worker waiting on a slow client or a sleep uses no CPU.
	 */
	o->threads = (int)(4 * cores);
	o->queue = 256;
	o->max_conns = 1024;
	o->keepalive_timeout_ms = 5000;
	o->header_timeout_ms = 10000;
	o->max_body = HTTP_DEFAULT_MAX_BODY;
	o->file_cache_valid_s = OPT_DEFAULT_FILE_CACHE_VALID;
	o->file_cache_entries = OPT_DEFAULT_FILE_CACHE_ENTRIES;
	o->loops = 1;
}

/* Parses a whole decimal number in [min, max]; 0 on success. */
static int parse_number(const char *s, long long min, long long max,
			long long *out)
{
	char *end;
	long long v;

	if (*s == '\0')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

struct numeric_option {
	int key;
	const char *name;
	long long min, max;
};

static const struct numeric_option numeric_options[] = {
	{ OPT_KEY_PORT, "--port", 0, 65535 },
	{ OPT_KEY_THREADS, "--threads", 1, 1024 },
	{ OPT_KEY_QUEUE, "--queue", 1, 1000000 },
	{ OPT_KEY_MAX_CONNS, "--max-conns", 1, 1000000 },
	{ OPT_KEY_KEEPALIVE, "--keepalive-timeout", 1, 3600 },
	{ OPT_KEY_HEADER_TIMEOUT, "--header-timeout", 1, 3600 },
	{ OPT_KEY_MAX_BODY, "--max-body", 0, 64LL * 1024 * 1024 },
	{ OPT_KEY_FILE_CACHE_VALID, "--file-cache-valid", 0, 3600 },
	{ OPT_KEY_FILE_CACHE_ENTRIES, "--file-cache-entries", 0, 1000000 },
	{ OPT_KEY_LOOPS, "--loops", 1, OPT_MAX_LOOPS },
	{ OPT_KEY_RATE_LIMIT, "--rate-limit", 0, OPT_MAX_RATE },
	{ OPT_KEY_BURST, "--burst", 1, OPT_MAX_RATE },
};

static void store_number(struct options *o, int key, long long v)
{
	switch (key) {
	case OPT_KEY_PORT:
		o->port = (int)v;
		break;
	case OPT_KEY_THREADS:
		o->threads = (int)v;
		break;
	case OPT_KEY_QUEUE:
		o->queue = (int)v;
		break;
	case OPT_KEY_MAX_CONNS:
		o->max_conns = (int)v;
		break;
	case OPT_KEY_KEEPALIVE:
		o->keepalive_timeout_ms = (int)v * 1000;
		break;
	case OPT_KEY_HEADER_TIMEOUT:
		o->header_timeout_ms = (int)v * 1000;
		break;
	case OPT_KEY_MAX_BODY:
		o->max_body = (size_t)v;
		break;
	case OPT_KEY_FILE_CACHE_VALID:
		o->file_cache_valid_s = (int)v;
		break;
	case OPT_KEY_FILE_CACHE_ENTRIES:
		o->file_cache_entries = (int)v;
		break;
	case OPT_KEY_LOOPS:
		o->loops = (int)v;
		break;
	case OPT_KEY_RATE_LIMIT:
		o->rate_limit = (int)v;
		break;
	case OPT_KEY_BURST:
		o->burst = (int)v;
		break;
	}
}

/* Handles one numeric option; 0, or -1 with a message in err. */
static int take_number(struct options *o, int key, const char *arg, char *err,
		       size_t errsz)
{
	for (size_t i = 0;
	     i < sizeof(numeric_options) / sizeof(numeric_options[0]); i++) {
		const struct numeric_option *n = &numeric_options[i];
		long long v;

		if (n->key != key)
			continue;
		if (parse_number(arg, n->min, n->max, &v) != 0) {
			snprintf(err, errsz,
				 "%s: '%s' is not a number from %lld to %lld",
				 n->name, arg, n->min, n->max);
			return -1;
		}
		store_number(o, key, v);
		return 0;
	}
	return -1;
}

/*
 * --trust-proxy: one address or a comma-separated list, added to those
 * already given.  0, or -1 with a message in err.
 */
static int take_proxies(struct options *o, const char *arg, char *err,
			size_t errsz)
{
	const char *p = arg;

	for (;;) {
		size_t len = strcspn(p, ",");

		if (o->proxies == OPT_MAX_PROXIES) {
			snprintf(err, errsz,
				 "--trust-proxy: more than %d "
				 "addresses",
				 OPT_MAX_PROXIES);
			return -1;
		}
		if (net_ip_parse(p, len, &o->proxy[o->proxies]) != 0) {
			snprintf(err, errsz,
				 "--trust-proxy: '%.*s' is not "
				 "an IPv4 or IPv6 address",
				 (int)len, p);
			return -1;
		}
		o->proxies++;
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

/* What no single option can check: --burst means nothing alone. */
static int check_together(struct options *o, bool burst_given, char *err,
			  size_t errsz)
{
	if (burst_given && o->rate_limit == 0) {
		snprintf(err, errsz, "--burst needs --rate-limit above 0");
		return -1;
	}
	/*
	 * A bucket must hold at least a second's worth: with fewer, a
	 * client that sends its R requests together once a second would be
	 * refused although it keeps to the rate.
	 */
	if (!burst_given)
		o->burst = o->rate_limit;
	return 0;
}

enum opt_result opt_parse(struct options *o, int argc, char **argv, char *err,
			  size_t errsz)
{
	bool burst_given = false;
	int c;

	/* glibc starts afresh only at 0: at 1 it may go on with the rest of
	 * a previous argv's "-hh", which may be gone by now. */
	optind = 0;
	opterr = 0; /* we word the errors ourselves */
	while ((c = getopt_long(argc, argv, ":h", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_KEY_HOST:
			o->host = optarg;
			break;
		case OPT_KEY_ROOT:
			o->root = optarg;
			break;
		case OPT_KEY_QUIET:
			o->quiet = true;
			break;
		case OPT_KEY_ACCESS_LOG:
			o->access_log = optarg;
			break;
		case OPT_KEY_TRUST_PROXY:
			if (take_proxies(o, optarg, err, errsz) != 0)
				return OPT_EXIT_ERROR;
			break;
		case 'h':
		case OPT_KEY_HELP:
			return OPT_HELP;
		case OPT_KEY_VERSION:
			return OPT_VERSION;
		case ':':
			snprintf(err, errsz, "%s needs a value",
				 argv[optind - 1]);
			return OPT_EXIT_ERROR;
		case '?':
			/* In "-xh", optind has not moved past the 'x' yet. */
			if (optopt > 0 && optopt < 256)
				snprintf(err, errsz, "unknown option '-%c'",
					 optopt);
			else
				snprintf(err, errsz, "unknown option '%s'",
					 argv[optind - 1]);
			return OPT_EXIT_ERROR;
		default:
			if (take_number(o, c, optarg, err, errsz) != 0)
				return OPT_EXIT_ERROR;
			burst_given |= c == OPT_KEY_BURST;
		}
	}
	if (optind < argc) {
		snprintf(err, errsz, "unexpected argument '%s'", argv[optind]);
		return OPT_EXIT_ERROR;
	}
	if (check_together(o, burst_given, err, errsz) != 0)
		return OPT_EXIT_ERROR;
	return OPT_RUN;
}

void opt_print_usage(FILE *out, const char *prog)
{
	struct options d;

	opt_defaults(&d);
	fprintf(out,
		"usage: %s [options]\n"
		"\n"
		"An HTTP/1.1 server that serves --root and a small demo API\n"
		"(/api/hello, /api/time, /api/echo, /api/sleep, /api/cpu,\n"
		"/api/stats, /api/model); see README.md.\n"
		"\n"
		"  --host ADDR              address to listen on (default %s)\n"
		"  --port N                 port, 0 = ephemeral (default %d);\n"
		"                           prints 'listening on "
		"http://ADDR:PORT'\n"
		"  --root DIR               document root (default %s)\n"
		"  --threads N              worker threads, 04 and 06 (default "
		"%d)\n"
		"  --queue N                pending-work queue, 04 and 06 "
		"(default %d)\n"
		"  --max-conns N            live connections before 503, 02 03 "
		"05 06\n"
		"                           (default %d)\n"
		"  --keepalive-timeout S    close idle keep-alive connections "
		"(default %d)\n"
		"  --header-timeout S       close requests that arrive slower "
		"(default %d)\n"
		"  --max-body BYTES         largest request body, else 413 "
		"(default %zu)\n"
		"  --quiet                  no access log on stderr\n"
		"  --access-log FILE        access log in Common Log Format to "
		"FILE\n"
		"  --file-cache-valid S     check a cached file against the "
		"disk at most\n"
		"                           every S seconds, 0 = no file cache "
		"(default %d)\n"
		"  --file-cache-entries N   files kept in the cache, least "
		"recently used\n"
		"                           go first, 0 = no file cache "
		"(default %d)\n"
		"  --loops N                event loops (threads), each with a "
		"listener,\n"
		"                           06 only (default %d)\n"
		"  --rate-limit R           requests a second per client "
		"address, more are\n"
		"                           429 with Retry-After; 0 = no limit "
		"(default 0)\n"
		"  --burst B                requests a client may send at once "
		"before the\n"
		"                           rate applies (default R)\n"
		"  --trust-proxy ADDR       when the peer is ADDR (a reverse "
		"proxy), the client\n"
		"                           is the last X-Forwarded-For entry "
		"that is no ADDR,\n"
		"                           for the log and --rate-limit; "
		"repeat "
		"it or list\n"
		"                           ADDR,ADDR (a chain of proxies: "
		"name "
		"them all)\n"
		"  --help                   this text\n"
		"  --version                the version\n"
		"\n"
		"SIGINT or SIGTERM stops the server cleanly; SIGHUP reopens "
		"the --access-log\n"
		"file (after logrotate moved it). Exit status: 0 on a clean "
		"stop, 2 on a bad\n"
		"option or a failed start-up.\n",
		prog, d.host, d.port, d.root, d.threads, d.queue, d.max_conns,
		d.keepalive_timeout_ms / 1000, d.header_timeout_ms / 1000,
		d.max_body, d.file_cache_valid_s, d.file_cache_entries,
		d.loops);
}
