/*
 * test_router.c - exact path matching, HEAD on GET routes, and the Allow
 * list of a 405.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "router.h"

static void handler_a(const struct app *app, const struct http_request *req,
		      struct response *resp)
{
	(void)app;
	(void)req;
	(void)resp;
}

static void handler_b(const struct app *app, const struct http_request *req,
		      struct response *resp)
{
	(void)app;
	(void)req;
	(void)resp;
}

static const struct route table[] = {
	{ HTTP_GET, "/a", handler_a, false },
	{ HTTP_POST, "/a", handler_b, false },
	{ HTTP_POST, "/post", handler_a, true },
	{ HTTP_GET, "/both", handler_a, false },
	{ HTTP_HEAD, "/both", handler_b, false },
};

#define N (sizeof(table) / sizeof(table[0]))

static void test_exact_match(void **state)
{
	const struct route *r;
	char allow[64];

	(void)state;
	assert_int_equal(
		route_match(table, N, HTTP_GET, "/a", &r, allow, sizeof(allow)),
		ROUTE_FOUND);
	assert_ptr_equal(r, &table[0]);
	assert_int_equal(route_match(table, N, HTTP_POST, "/a", &r, allow,
				     sizeof(allow)),
			 ROUTE_FOUND);
	assert_ptr_equal(r, &table[1]);
}

static void test_head_uses_get(void **state)
{
	const struct route *r;

	(void)state;
	assert_int_equal(route_match(table, N, HTTP_HEAD, "/a", &r, NULL, 0),
			 ROUTE_FOUND);
	assert_ptr_equal(r->handler, handler_a);
	/* An explicit HEAD route wins over the GET one. */
	assert_int_equal(route_match(table, N, HTTP_HEAD, "/both", &r, NULL, 0),
			 ROUTE_FOUND);
	assert_ptr_equal(r, &table[4]);
}

static void test_not_found_is_exact(void **state)
{
	static const char *const misses[] = {
		"/", "/ab", "/a/", "/A", "", "a"
	};
	const struct route *r = table;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(misses) / sizeof(misses[0]); i++) {
		assert_int_equal(
			route_match(table, N, HTTP_GET, misses[i], &r, NULL, 0),
			ROUTE_NOT_FOUND);
		assert_null(r);
	}
}

static void test_bad_method_allow_list(void **state)
{
	const struct route *r;
	char allow[64];

	(void)state;
	assert_int_equal(route_match(table, N, HTTP_DELETE, "/a", &r, allow,
				     sizeof(allow)),
			 ROUTE_BAD_METHOD);
	assert_null(r);
	assert_string_equal(allow, "GET, HEAD, POST");
	assert_int_equal(route_match(table, N, HTTP_GET, "/post", &r, allow,
				     sizeof(allow)),
			 ROUTE_BAD_METHOD);
	assert_string_equal(allow, "POST");
	/* HEAD on a POST-only route is not allowed either. */
	assert_int_equal(route_match(table, N, HTTP_HEAD, "/post", &r, allow,
				     sizeof(allow)),
			 ROUTE_BAD_METHOD);
	/* GET and HEAD routes both: HEAD is listed once. */
	assert_int_equal(route_match(table, N, HTTP_PUT, "/both", &r, allow,
				     sizeof(allow)),
			 ROUTE_BAD_METHOD);
	assert_string_equal(allow, "GET, HEAD");
}

static void test_allow_truncates_safely(void **state)
{
	const struct route *r;
	char allow[6];

	(void)state;
	assert_int_equal(
		route_match(table, N, HTTP_PUT, "/a", &r, allow, sizeof(allow)),
		ROUTE_BAD_METHOD);
	assert_true(strlen(allow) < sizeof(allow));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact_match),
		cmocka_unit_test(test_head_uses_get),
		cmocka_unit_test(test_not_found_is_exact),
		cmocka_unit_test(test_bad_method_allow_list),
		cmocka_unit_test(test_allow_truncates_safely),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
