/*
 * errmsg.c - the last failure of a tests/lib call: see errmsg.h.
 */
#include "errmsg.h"

#include <stdarg.h>
#include <stdio.h>

static char last_error[512];

void errmsg_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
}

const char *errmsg_get(void)
{
	return last_error;
}
