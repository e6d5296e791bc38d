/*
 * app.c - the demo API and the dispatch in front of the static files.
 *
 *   app_find_route(): decode the path -> route_match() over app_routes[]
 *     found         -> the handler
 *     bad method    -> 405 with the route's Allow list
 *     not found     -> static files for GET and HEAD, else 405 "GET, HEAD"
 *   app_handle(): run what was found -> resp_finish()
 *
 * Every answer to a well-framed request keeps the connection open when the
 * client asked for it, 4xx included: the request was read to its end, so
 * the next one starts cleanly.  Only 5xx, and the framing errors that reach
 * app_handle_error(), close it.
 */
#include "app.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "options.h"
#include "router.h"
#include "static_files.h"
#include "stats.h"

#define JSON "application/json"
#define NAME_MAX_LEN 256

/*
 * Parses a decimal integer, clamped to [0, max]: "-5" is 0 and a huge
 * number is max.  Returns 0, or -1 if s is not an integer at all.
 */
static int parse_clamped(const char *s, long max, long *out)
{
	bool negative = *s == '-';
	long v = 0;

	if (negative)
		s++;
	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (v <= max)
			v = v * 10 + (*s - '0');
	}
	*out = negative ? 0 : (v > max ? max : v);
	return 0;
}

/*
 * The number in ?key=, clamped, or def when it is absent.  Returns 0, or
 * -1 (answer 400) when it is there and not a number.
 */
static int number_param(const struct http_request *req, const char *key,
			long def, long max, long *out)
{
	char buf[32];
	ssize_t n = http_query_param(&req->query, key, buf, sizeof(buf));

	if (n == HTTP_QUERY_ABSENT) {
		*out = def;
		return 0;
	}
	if (n < 0)
		return -1;
	return parse_clamped(buf, max, out);
}

/*
 * The length of the UTF-8 sequence that byte c starts, with the code point
 * bits c carries in *bits; 0 for a continuation byte or F8..FF.
 */
static size_t utf8_lead(unsigned char c, uint32_t *bits)
{
	if (c < 0x80) {
		*bits = c;
		return 1;
	}
	if (c >= 0xc0 && c <= 0xdf) {
		*bits = c & 0x1f;
		return 2;
	}
	if (c >= 0xe0 && c <= 0xef) {
		*bits = c & 0x0f;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf7) {
		*bits = c & 0x07;
		return 4;
	}
	return 0;
}

/*
 * True when s[0..len) is well-formed UTF-8 (RFC 3629 section 4): every
 * sequence complete, in its shortest form, no surrogate (U+D800..U+DFFF)
 * and nothing above U+10FFFF.  NUL and other control characters are valid.
 *
 * LESSON: decode, then check the value.  An overlong form such as C0 AF
 * spells '/' in two bytes; a decoder that accepts it lets "..%C0%AF" slip
 * past a filter that looked for "../" (the IIS bug of 2000).  Checking the
 * decoded code point against the least value its length may carry closes
 * every overlong at once.
 */
static bool utf8_valid(const char *s, size_t len)
{
	static const uint32_t least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n, k;
	uint32_t cp;

	while (i < len) {
		n = utf8_lead(p[i], &cp);
		if (n == 0 || len - i < n)
			return false;
		for (k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if (cp < least[n] || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

/*
 * Writes s[0..len) into out as the inside of a JSON string, NUL-terminated.
 * Quote and backslash are escaped, control bytes become \u00XX, and valid
 * multi-byte UTF-8 is copied as it is.  Returns the length, or -1 if s is
 * not valid UTF-8 (RFC 8259 section 8.1: JSON text is UTF-8, so no escape
 * could carry such bytes) or the result does not fit.
 */
static int json_escape(char *out, size_t outsz, const char *s, size_t len)
{
	size_t i, n = 0;

	if (outsz == 0 || !utf8_valid(s, len))
		return -1;
	out[0] = '\0';
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int w;

		if (c == '"' || c == '\\')
			w = snprintf(out + n, outsz - n, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			w = snprintf(out + n, outsz - n, "\\u%04x", c);
		else
			w = snprintf(out + n, outsz - n, "%c", c);
		if (w < 0 || (size_t)w >= outsz - n)
			return -1;
		n += (size_t)w;
	}
	return (int)n;
}

static void handle_hello(const struct app *app, const struct http_request *req,
			 struct response *resp)
{
	char name[NAME_MAX_LEN], escaped[6 * NAME_MAX_LEN + 1];
	size_t len;
	ssize_t n;

	(void)app;
	n = http_query_param(&req->query, "name", name, sizeof(name));
	if (n == HTTP_QUERY_MALFORMED) {
		resp_error(resp, 400);
		return;
	}
	if (n == HTTP_QUERY_ABSENT) {
		strcpy(name, "world");
		len = strlen(name);
	} else {
		len = (size_t)n;
	}
	/* The name is the client's: bytes that are not UTF-8 are its error. */
	if (json_escape(escaped, sizeof(escaped), name, len) < 0) {
		resp_error(resp, 400);
		return;
	}
	resp->content_type = JSON;
	resp_printf(resp, "{\"message\":\"Hello, %s!\"}\n", escaped);
}

static void handle_time(const struct app *app, const struct http_request *req,
			struct response *resp)
{
	time_t now = time(NULL);
	char iso[32];
	struct tm tm;

	(void)app;
	(void)req;
	gmtime_r(&now, &tm);
	strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%SZ", &tm);
	resp->content_type = JSON;
	resp_printf(resp, "{\"epoch\":%lld,\"iso\":\"%s\"}\n", (long long)now,
		    iso);
}

static void handle_echo(const struct app *app, const struct http_request *req,
			struct response *resp)
{
	const struct http_str *type = http_find_header(req, "Content-Type");

	(void)app;
	/* The type is the client's: resp_add_header refuses CR and LF. */
	if (type == NULL || type->len == 0 ||
	    resp_add_header(resp, "Content-Type", "%.*s", (int)type->len,
			    type->p) < 0)
		resp->content_type = "application/octet-stream";
	/* Borrowed from the request's buffer, which outlives the sending. */
	resp_set_body(resp, req->body.p, req->body.len);
}

static void handle_sleep(const struct app *app, const struct http_request *req,
			 struct response *resp)
{
	struct timespec ts;
	long ms;

	(void)app;
	if (number_param(req, "ms", APP_SLEEP_DEFAULT_MS, APP_SLEEP_MAX_MS,
			 &ms) < 0) {
		resp_error(resp, 400);
		return;
	}
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	/* A signal must not cut the "database call" short. */
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	resp->content_type = JSON;
	resp_printf(resp, "{\"slept_ms\":%ld}\n", ms);
}

/*
 * n thousand rounds of FNV-1a mixed with xorshift: pure CPU, no memory
 * traffic, and a result the compiler cannot throw away.
 */
static uint64_t cpu_work(long n)
{
	uint64_t h = 14695981039346656037ULL;
	long i, rounds = n * 1000;

	for (i = 0; i < rounds; i++) {
		h ^= (uint64_t)i & 0xff;
		h *= 1099511628211ULL;
		h ^= h << 13;
		h ^= h >> 7;
		h ^= h << 17;
	}
	return h;
}

static void handle_cpu(const struct app *app, const struct http_request *req,
		       struct response *resp)
{
	long n;

	(void)app;
	if (number_param(req, "n", APP_CPU_DEFAULT_N, APP_CPU_MAX_N, &n) < 0) {
		resp_error(resp, 400);
		return;
	}
	resp->content_type = JSON;
	/* Hex in a string: JavaScript numbers lose bits past 2^53. */
	resp_printf(resp, "{\"n\":%ld,\"rounds\":%ld,\"hash\":\"%016llx\"}\n",
		    n, n * 1000, (unsigned long long)cpu_work(n));
}

static void handle_stats(const struct app *app, const struct http_request *req,
			 struct response *resp)
{
	int n = -1;

	(void)req;
	if (app->stats != NULL)
		n = stats_format_json(app->stats, app->model, resp->body_buf,
				      sizeof(resp->body_buf));
	if (n < 0) {
		resp_error(resp, 500);
		return;
	}
	resp->content_type = JSON;
	resp_set_body(resp, resp->body_buf, (size_t)n);
}

_Static_assert(STATS_PROM_MAX <= RESP_BODY_MAX, "/metrics must fit a body");

static void handle_metrics(const struct app *app,
			   const struct http_request *req,
			   struct response *resp)
{
	int n = -1;

	(void)req;
	if (app->stats != NULL)
		n = stats_format_prometheus(app->stats, app->model,
					    resp->body_buf,
					    sizeof(resp->body_buf));
	if (n < 0) {
		resp_error(resp, 500);
		return;
	}
	/* What a Prometheus server expects of the text format. */
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
	resp_set_body(resp, resp->body_buf, (size_t)n);
}

static void handle_model(const struct app *app, const struct http_request *req,
			 struct response *resp)
{
	char model[256];
	const char *m = app->model != NULL ? app->model : "";

	(void)req;
	if (json_escape(model, sizeof(model), m, strlen(m)) < 0) {
		resp_error(resp, 500);
		return;
	}
	resp->content_type = JSON;
	resp_printf(resp, "{\"model\":\"%s\"}\n", model);
}

static const struct route app_routes[] = {
	{ HTTP_GET, "/api/hello", handle_hello, false },
	{ HTTP_GET, "/api/time", handle_time, false },
	{ HTTP_POST, "/api/echo", handle_echo, false },
	{ HTTP_GET, "/api/sleep", handle_sleep, true },
	{ HTTP_GET, "/api/cpu", handle_cpu, true },
	{ HTTP_GET, "/api/stats", handle_stats, false },
	{ HTTP_GET, "/api/model", handle_model, false },
	{ HTTP_GET, "/metrics", handle_metrics, false },
};

static void method_not_allowed(struct response *resp, const char *allow)
{
	resp_error(resp, 405);
	resp_add_header(resp, "Allow", "%s", allow);
}

void app_find_route(const struct http_request *req, struct app_route *out)
{
	out->status = 0;
	out->route = NULL;
	out->allow[0] = '\0';
	if (http_decode_path(&req->path, out->path, sizeof(out->path)) < 0) {
		out->status = 400;
		return;
	}
	switch (route_match(app_routes, ARRAY_SIZE(app_routes), req->method,
			    out->path, &out->route, out->allow,
			    sizeof(out->allow))) {
	case ROUTE_FOUND:
		break;
	case ROUTE_BAD_METHOD:
		out->status = 405;
		break;
	case ROUTE_NOT_FOUND:
		/* Behind the API: the static files, which only GET and HEAD. */
		if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
			out->status = 405;
			snprintf(out->allow, sizeof(out->allow), "GET, HEAD");
		}
		break;
	}
}

bool app_may_block(const struct app_route *route)
{
	return route->route != NULL && route->route->may_block;
}

/* The static files: through app->files, or by realpath without it. */
static void serve_file(const struct app *app, const char *path,
		       const struct http_request *req, struct response *resp)
{
	struct file_root plain = { .path = app->root,
				   .fd = -1,
				   .resolve = FILE_RESOLVE_REALPATH };

	file_serve(app->files != NULL ? app->files : &plain, path, req, resp);
}

void app_handle(const struct app *app, const struct http_request *req,
		const struct app_route *route, struct response *resp)
{
	resp_init(resp);
	if (route->status == 405)
		method_not_allowed(resp, route->allow);
	else if (route->status != 0)
		resp_error(resp, route->status);
	else if (route->route != NULL)
		route->route->handler(app, req, resp);
	else
		serve_file(app, route->path, req, resp);
	resp->keep_alive = req->keep_alive && resp->status < 500;
	resp_finish(resp, req);
}

int app_open_files(struct app *app, const struct options *opt,
		   enum file_cache_sharing sharing)
{
	struct file_root *files = malloc(sizeof(*files));
	struct file_cache_config cfg = {
		.max_entries = opt->file_cache_entries,
		.valid_s = opt->file_cache_valid_s,
		.sharing = sharing,
	};

	if (files == NULL)
		return -1;
	if (file_root_open(files, app->root) != 0)
		goto out_free;
	cfg.root_fd = files->fd;
	if (cfg.max_entries > 0 && cfg.valid_s > 0) {
		files->cache = file_cache_create(&cfg);
		if (files->cache == NULL)
			goto out_close;
	}
	app->files = files;
	return 0;

out_close:
	file_root_close(files);
out_free:
	free(files);
	return -1;
}

void app_close_files(struct app *app)
{
	if (app->files == NULL)
		return;
	file_root_close(app->files);
	free(app->files);
	app->files = NULL;
}

void app_handle_error(int status, bool head, struct response *resp)
{
	resp_init(resp);
	resp_error(resp, status);
	resp->head_only = head;
	/* Shed load politely: a client may try again in a second. */
	if (status == 503)
		resp_add_header(resp, "Retry-After", "1");
	resp_finish(resp, NULL);
}

void app_handle_limited(int retry_after_s, const struct http_request *req,
			struct response *resp)
{
	resp_init(resp);
	resp_error(resp, 429);
	resp_add_header(resp, "Retry-After", "%d", retry_after_s);
	resp->keep_alive = req->keep_alive;
	resp_finish(resp, req);
}
