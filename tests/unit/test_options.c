/*
 * test_options.c - the shared command line: the defaults, every option in
 * both spellings, the range of each number, and a message that names the
 * option for every mistake (a negative, not a number, out of range, an
 * unknown option, a missing value, a stray argument); --help, --version
 * and the usage text.
 *
 * getopt_long keeps its state in globals.  glibc starts afresh only when
 * optind is 0, so every parse here begins with optind = 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_parser.h"
#include "options.h"

#define MAX_ARGS 32

struct parse {
	struct options o;
	char err[256];
	char *argv[MAX_ARGS];
	enum opt_result rc;
};

/* Parses "prog" and the NULL-terminated arguments over the defaults. */
static enum opt_result parse(struct parse *p, ...)
{
	va_list ap;
	int argc = 0;
	char *arg;

	opt_defaults(&p->o);
	strcpy(p->err, "(none)");
	p->argv[argc++] = (char *)"test_options";
	va_start(ap, p);
	while ((arg = va_arg(ap, char *)) != NULL) {
		assert_true(argc < MAX_ARGS - 1);
		p->argv[argc++] = arg;
	}
	va_end(ap);
	p->argv[argc] = NULL;
	optind = 0;
	p->rc = opt_parse(&p->o, argc, p->argv, p->err, sizeof(p->err));
	return p->rc;
}

/* An error whose message holds every one of the NULL-terminated words. */
static void assert_error(const struct parse *p, ...)
{
	va_list ap;
	const char *word;

	assert_int_equal(p->rc, OPT_EXIT_ERROR);
	va_start(ap, p);
	while ((word = va_arg(ap, const char *)) != NULL) {
		if (strstr(p->err, word) == NULL)
			fail_msg("\"%s\" does not name \"%s\"", p->err, word);
	}
	va_end(ap);
}

static void test_defaults(void **state)
{
	struct options o;

	(void)state;
	opt_defaults(&o);
	assert_string_equal(o.host, "127.0.0.1");
	assert_int_equal(o.port, 8080);
	assert_string_equal(o.root, "www");
	assert_true(o.threads >= 4 && o.threads % 4 == 0); /* 4 per core */
	assert_int_equal(o.queue, 256);
	assert_int_equal(o.max_conns, 1024);
	assert_int_equal(o.keepalive_timeout_ms, 5000);
	assert_int_equal(o.header_timeout_ms, 10000);
	assert_int_equal(o.max_body, HTTP_DEFAULT_MAX_BODY);
	assert_false(o.quiet);
	assert_null(o.access_log);
	assert_int_equal(o.rate_limit, 0);
	assert_int_equal(o.proxies, 0);
}

/* Nothing on the command line: the defaults, and run. */
static void test_no_options(void **state)
{
	struct parse p;
	struct options d;

	(void)state;
	assert_int_equal(parse(&p, NULL), OPT_RUN);
	opt_defaults(&d);
	assert_memory_equal(&p.o, &d, sizeof(d));
}

static void test_every_option(void **state)
{
	struct parse p;

	(void)state;
	assert_int_equal(parse(&p, "--host", "0.0.0.0", "--port", "9090",
			       "--root", "site", "--threads", "3", "--queue",
			       "17", "--max-conns", "99", "--keepalive-timeout",
			       "7", "--header-timeout", "11", "--max-body",
			       "2048", "--quiet", "--access-log", "access.log",
			       NULL),
			 OPT_RUN);
	assert_string_equal(p.o.host, "0.0.0.0");
	assert_int_equal(p.o.port, 9090);
	assert_string_equal(p.o.root, "site");
	assert_int_equal(p.o.threads, 3);
	assert_int_equal(p.o.queue, 17);
	assert_int_equal(p.o.max_conns, 99);
	assert_int_equal(p.o.keepalive_timeout_ms, 7000);
	assert_int_equal(p.o.header_timeout_ms, 11000);
	assert_int_equal(p.o.max_body, 2048);
	assert_true(p.o.quiet);
	assert_string_equal(p.o.access_log, "access.log");
}

/* --name=value is the same as --name value. */
static void test_equals_form(void **state)
{
	struct parse p;

	(void)state;
	assert_int_equal(parse(&p, "--port=0", "--threads=1", "--root=r",
			       "--max-body=0", "--header-timeout=3600", NULL),
			 OPT_RUN);
	assert_int_equal(p.o.port, 0);
	assert_int_equal(p.o.threads, 1);
	assert_string_equal(p.o.root, "r");
	assert_int_equal(p.o.max_body, 0);
	assert_int_equal(p.o.header_timeout_ms, 3600 * 1000);
}

/* Port 0 asks the kernel for an ephemeral port: it is valid. */
static void test_port_bounds(void **state)
{
	struct parse p;

	(void)state;
	assert_int_equal(parse(&p, "--port", "0", NULL), OPT_RUN);
	assert_int_equal(p.o.port, 0);
	assert_int_equal(parse(&p, "--port", "65535", NULL), OPT_RUN);
	assert_int_equal(p.o.port, 65535);
	parse(&p, "--port", "65536", NULL);
	assert_error(&p, "--port", "65536", NULL);
}

/* The smallest and largest value of each number pass; one beyond fails. */
static void test_number_ranges(void **state)
{
	static const struct {
		const char *name, *min, *max, *below, *above;
	} cases[] = {
		{ "--port", "0", "65535", "-1", "65536" },
		{ "--threads", "1", "1024", "0", "1025" },
		{ "--queue", "1", "1000000", "0", "1000001" },
		{ "--max-conns", "1", "1000000", "0", "1000001" },
		{ "--keepalive-timeout", "1", "3600", "0", "3601" },
		{ "--header-timeout", "1", "3600", "0", "3601" },
		{ "--max-body", "0", "67108864", "-1", "67108865" },
		{ "--rate-limit", "0", "1000000", "-1", "1000001" },
	};
	struct parse p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *name = cases[i].name;

		assert_int_equal(parse(&p, name, cases[i].min, NULL), OPT_RUN);
		assert_int_equal(parse(&p, name, cases[i].max, NULL), OPT_RUN);
		parse(&p, name, cases[i].below, NULL);
		assert_error(&p, name, cases[i].below, NULL);
		parse(&p, name, cases[i].above, NULL);
		assert_error(&p, name, cases[i].above, NULL);
	}
}

/* Negative, not a number, half a number, empty, beyond long long. */
static void test_bad_numbers(void **state)
{
	static const char *const names[] = {
		"--port",      "--threads",	      "--queue",
		"--max-conns", "--keepalive-timeout", "--header-timeout",
		"--max-body",  "--rate-limit",	      "--burst",
	};
	static const char *const values[] = {
		"-5", "abc", "12x", "0x10", "1.5", "", "99999999999999999999",
	};
	struct parse p;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (size_t j = 0; j < sizeof(values) / sizeof(values[0]);
		     j++) {
			parse(&p, names[i], values[j], NULL);
			assert_error(&p, names[i], NULL);
			assert_non_null(strstr(p.err, values[j]));
		}
	}
	/* A bad value leaves the option as it was. */
	parse(&p, "--port", "1", "--port", "x", NULL);
	assert_error(&p, "--port", "'x'", NULL);
	assert_int_equal(p.o.port, 1);
}

static void test_unknown_option(void **state)
{
	struct parse p;

	(void)state;
	parse(&p, "--bogus", NULL);
	assert_error(&p, "unknown option", "--bogus", NULL);
	parse(&p, "--port", "1", "-x", NULL);
	assert_error(&p, "unknown option", "-x", NULL);
	/* A flag does not take a value. */
	parse(&p, "--quiet=yes", NULL);
	assert_error(&p, "--quiet", NULL);
}

/* Every option that takes a value, given none. */
static void test_missing_value(void **state)
{
	static const char *const names[] = {
		"--host",
		"--port",
		"--root",
		"--threads",
		"--queue",
		"--max-conns",
		"--keepalive-timeout",
		"--header-timeout",
		"--max-body",
		"--access-log",
		"--rate-limit",
		"--burst",
		"--trust-proxy",
	};
	struct parse p;

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		parse(&p, names[i], NULL);
		assert_error(&p, names[i], "needs a value", NULL);
	}
}

static void test_stray_argument(void **state)
{
	struct parse p;

	(void)state;
	parse(&p, "--port", "1", "stray", NULL);
	assert_error(&p, "unexpected argument", "stray", NULL);
}

static void test_help_and_version(void **state)
{
	struct parse p;

	(void)state;
	assert_int_equal(parse(&p, "--help", NULL), OPT_HELP);
	assert_int_equal(parse(&p, "-h", NULL), OPT_HELP);
	assert_int_equal(parse(&p, "--port", "1", "--help", NULL), OPT_HELP);
	assert_int_equal(parse(&p, "--version", NULL), OPT_VERSION);
	/* What comes first decides. */
	assert_int_equal(parse(&p, "--version", "--bogus", NULL), OPT_VERSION);
	parse(&p, "--bogus", "--help", NULL);
	assert_error(&p, "--bogus", NULL);
}

/* The usage text names the program and every option. */
static void test_usage(void **state)
{
	static const char *const names[] = {
		"--host",
		"--port",
		"--root",
		"--threads",
		"--queue",
		"--max-conns",
		"--keepalive-timeout",
		"--header-timeout",
		"--max-body",
		"--quiet",
		"--access-log",
		"--rate-limit",
		"--burst",
		"--trust-proxy",
		"--help",
		"--version",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	(void)state;
	assert_non_null(f);
	opt_print_usage(f, "06_epoll_async");
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(text, "usage: 06_epoll_async "));
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strstr(text, names[i]) == NULL)
			fail_msg("the usage does not name %s", names[i]);
	free(text);
}

/*
 * A second parse must start afresh: with optind = 1, glibc went on with
 * the rest of the last argv's "-hh" (its hidden nextchar), so a second
 * parse answered OPT_HELP to "--port 0" - and read an argv that may be
 * gone.  opt_parse sets optind = 0.
 */
static void test_parse_twice(void **state)
{
	struct parse p;

	(void)state;
	assert_int_equal(parse(&p, "-hh", NULL), OPT_HELP);
	assert_int_equal(parse(&p, "--port", "0", NULL), OPT_RUN);
	assert_int_equal(p.o.port, 0);
}

/*
 * In "-xh" optind has not moved past the 'x' when getopt_long answers
 * '?', so the message must come from optopt, not argv[optind - 1] (which
 * named argv[0]: "unknown option 'test_options'").
 */
static void test_unknown_in_cluster(void **state)
{
	struct parse p;

	(void)state;
	parse(&p, "-xh", NULL);
	assert_error(&p, "unknown option", "-x", NULL);
}

/* --burst defaults to the rate; it is 1 to OPT_MAX_RATE, and only with it. */
static void test_rate_limit_and_burst(void **state)
{
	struct parse p;

	(void)state;
	assert_int_equal(parse(&p, "--rate-limit", "5", NULL), OPT_RUN);
	assert_int_equal(p.o.rate_limit, 5);
	assert_int_equal(p.o.burst, 5);
	assert_int_equal(parse(&p, "--burst", "20", "--rate-limit", "5", NULL),
			 OPT_RUN);
	assert_int_equal(p.o.rate_limit, 5);
	assert_int_equal(p.o.burst, 20);
	assert_int_equal(
		parse(&p, "--rate-limit", "1", "--burst", "1000000", NULL),
		OPT_RUN);
	assert_int_equal(p.o.burst, 1000000);
	parse(&p, "--rate-limit", "1", "--burst", "0", NULL);
	assert_error(&p, "--burst", "'0'", NULL);
	parse(&p, "--rate-limit", "1", "--burst", "1000001", NULL);
	assert_error(&p, "--burst", "1000001", NULL);
	/* A burst with no rate would limit nothing: say so. */
	parse(&p, "--burst", "3", NULL);
	assert_error(&p, "--burst", "--rate-limit", NULL);
	parse(&p, "--burst", "3", "--rate-limit", "0", NULL);
	assert_error(&p, "--burst", "--rate-limit", NULL);
	assert_int_equal(parse(&p, "--rate-limit", "0", NULL), OPT_RUN);
	assert_int_equal(p.o.rate_limit, 0);
}

/* --trust-proxy: IPv4 or IPv6 literals, repeated or listed, at most 8. */
static void test_trust_proxy(void **state)
{
	struct net_ip want;
	struct parse p;

	(void)state;
	assert_int_equal(parse(&p, "--trust-proxy", "127.0.0.1", NULL),
			 OPT_RUN);
	assert_int_equal(p.o.proxies, 1);
	assert_int_equal(net_ip_parse("127.0.0.1", 9, &want), 0);
	assert_true(net_ip_equal(&p.o.proxy[0], &want));
	assert_int_equal(parse(&p, "--trust-proxy", "10.0.0.1,::1",
			       "--trust-proxy=192.0.2.9", NULL),
			 OPT_RUN);
	assert_int_equal(p.o.proxies, 3);
	assert_int_equal(net_ip_parse("::1", 3, &want), 0);
	assert_true(net_ip_equal(&p.o.proxy[1], &want));
	assert_int_equal(net_ip_parse("192.0.2.9", 9, &want), 0);
	assert_true(net_ip_equal(&p.o.proxy[2], &want));
	assert_int_equal(parse(&p, "--trust-proxy",
			       "1.0.0.1,1.0.0.2,1.0.0.3,1.0.0.4,1.0.0.5,"
			       "1.0.0.6,1.0.0.7,1.0.0.8",
			       NULL),
			 OPT_RUN);
	assert_int_equal(p.o.proxies, OPT_MAX_PROXIES);
	parse(&p, "--trust-proxy",
	      "1.0.0.1,1.0.0.2,1.0.0.3,1.0.0.4,1.0.0.5,1.0.0.6,1.0.0.7",
	      "--trust-proxy", "1.0.0.8,1.0.0.9", NULL);
	assert_error(&p, "--trust-proxy", "more than 8", NULL);
	/* Names, ports, brackets, empty entries: not an address. */
	static const char *const bad[] = {
		"localhost",
		"127.0.0.1:80",
		"[::1]",
		"",
		"10.0.0.1,",
		",10.0.0.1",
		"10.0.0.1, 10.0.0.2",
		"300.0.0.1",
		"10.0.0.0/8",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse(&p, "--trust-proxy", bad[i], NULL);
		assert_error(&p, "--trust-proxy", "not an IPv4 or IPv6", NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_no_options),
		cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_equals_form),
		cmocka_unit_test(test_port_bounds),
		cmocka_unit_test(test_number_ranges),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_unknown_option),
		cmocka_unit_test(test_missing_value),
		cmocka_unit_test(test_stray_argument),
		cmocka_unit_test(test_help_and_version),
		cmocka_unit_test(test_usage),
		cmocka_unit_test(test_parse_twice),
		cmocka_unit_test(test_unknown_in_cluster),
		cmocka_unit_test(test_rate_limit_and_burst),
		cmocka_unit_test(test_trust_proxy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
