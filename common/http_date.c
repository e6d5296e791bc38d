/*
 * http_date.c - IMF-fixdate and Common Log Format dates.
 */
#include "http_date.h"

#include <stdio.h>
#include <string.h>

/*
 * LESSON: strftime's %a and %b follow the locale, and HTTP dates must be in
 * English whatever the locale, so the names are spelled out here.
 */
static const char day_names[7][4] = { "Sun", "Mon", "Tue", "Wed",
				      "Thu", "Fri", "Sat" };
static const char month_names[12][4] = { "Jan", "Feb", "Mar", "Apr",
					 "May", "Jun", "Jul", "Aug",
					 "Sep", "Oct", "Nov", "Dec" };

/*
 * LESSON: glibc reads the time zone (/etc/localtime: an openat, two fstat,
 * two reads, an lseek and a close, and a parse) the first time a process
 * converts a time - even to UTC, with gmtime_r.  A process that never
 * converted one before it forked leaves that to each child: 02 read the
 * file once per connection (strace -f shows it; docs/02_fork.md).  Loaded
 * here, before the first fork, it is in every child's copy of memory.
 */
void http_date_init(void)
{
	tzset();
}

/* t broken down in UTC; the epoch if t is out of gmtime_r's range. */
static void to_utc(time_t t, struct tm *tm)
{
	/* LESSON: gmtime() returns a static buffer shared by all threads. */
	if (gmtime_r(&t, tm) == NULL) {
		memset(tm, 0, sizeof(*tm));
		tm->tm_mday = 1;
		tm->tm_year = 70;
		tm->tm_wday = 4;
	}
}

void http_date_format(time_t t, char out[HTTP_DATE_LEN])
{
	struct tm tm;

	to_utc(t, &tm);
	/* The modulos only tell the compiler that every field fits. */
	snprintf(out, HTTP_DATE_LEN, "%.3s, %02u %.3s %04u %02u:%02u:%02u GMT",
		 day_names[tm.tm_wday % 7], (unsigned)tm.tm_mday % 100u,
		 month_names[tm.tm_mon % 12],
		 (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
		 (unsigned)tm.tm_sec % 100u);
}

void http_date_format_clf(time_t t, char out[HTTP_DATE_CLF_LEN])
{
	struct tm tm;

	to_utc(t, &tm);
	snprintf(out, HTTP_DATE_CLF_LEN, "%02u/%.3s/%04u:%02u:%02u:%02u +0000",
		 (unsigned)tm.tm_mday % 100u, month_names[tm.tm_mon % 12],
		 (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
		 (unsigned)tm.tm_sec % 100u);
}

const char *http_date_now(void)
{
	/*
	 * LESSON: one plain static cache would be a data race between
	 * threads.  _Thread_local gives every thread its own copy, so the
	 * cache needs no lock and is refreshed at most once a second.
	 */
	static _Thread_local char cached[HTTP_DATE_LEN];
	static _Thread_local time_t cached_at = -1;
	time_t now = time(NULL);

	if (now != cached_at) {
		http_date_format(now, cached);
		cached_at = now;
	}
	return cached;
}

/* Parses the n-digit decimal at s; -1 if any is not a digit. */
static int parse_digits(const char *s, int n)
{
	int v = 0;

	while (n-- > 0) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s++ - '0');
	}
	return v;
}

static int parse_month(const char *s)
{
	int m;

	for (m = 0; m < 12; m++)
		if (memcmp(s, month_names[m], 3) == 0)
			return m;
	return -1;
}

int http_date_parse(const char *s, size_t len, time_t *out)
{
	struct tm tm;

	/* "Sun, 06 Nov 1994 08:49:37 GMT": every separator in its place. */
	if (len != HTTP_DATE_LEN - 1 || s[3] != ',' || s[4] != ' ' ||
	    s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' ||
	    s[22] != ':' || memcmp(s + 25, " GMT", 4) != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mday = parse_digits(s + 5, 2);
	tm.tm_mon = parse_month(s + 8);
	tm.tm_year = parse_digits(s + 12, 4) - 1900;
	tm.tm_hour = parse_digits(s + 17, 2);
	tm.tm_min = parse_digits(s + 20, 2);
	tm.tm_sec = parse_digits(s + 23, 2);
	if (tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_mon < 0 ||
	    tm.tm_year < 70 || tm.tm_hour < 0 || tm.tm_hour > 23 ||
	    tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
		return -1;
	*out = timegm(&tm);
	return *out == (time_t)-1 ? -1 : 0;
}
