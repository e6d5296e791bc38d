/*
 * http_date.h - the dates HTTP and the access log write, and the one that
 * HTTP reads back.
 *
 * An HTTP date (RFC 9110 section 5.6.7) is an IMF-fixdate:
 * "Sun, 06 Nov 1994 08:49:37 GMT", in English and GMT whatever the
 * locale.  The server writes it in Date and Last-Modified and reads it back
 * from If-Modified-Since.  The access log writes the Common Log Format's
 * own form, "06/Nov/1994:08:49:37 +0000".  Both spell the month names
 * from the one table in http_date.c.
 *
 * Thread safety: re-entrant (gmtime_r, never gmtime); http_date_now()
 * keeps one cache per thread.
 */
#ifndef HTTP_DATE_H
#define HTTP_DATE_H

#include <stddef.h>
#include <time.h>

#define HTTP_DATE_LEN 30     /* "Sun, 06 Nov 1994 08:49:37 GMT" + NUL */
#define HTTP_DATE_CLF_LEN 27 /* "06/Nov/1994:08:49:37 +0000" + NUL */

/*
 * Loads what the first conversion of a time would load, once, at
 * start-up: see the LESSON in http_date.c.  Call before the first fork.
 */
void http_date_init(void);

/* Writes t as an IMF-fixdate into out, NUL-terminated. */
void http_date_format(time_t t, char out[HTTP_DATE_LEN]);

/*
 * Parses the IMF-fixdate s[0..len).  Returns 0 with the time in *out, or
 * -1 if s is anything else - including the two obsolete forms (RFC 850,
 * asctime) that RFC 9110 asks recipients to accept: a caller that fails
 * to parse a validator must act as if it were absent, which is always
 * correct, merely not the cheapest.
 */
int http_date_parse(const char *s, size_t len, time_t *out);

/*
 * The current time as an IMF-fixdate, for the Date header: formatted at
 * most once a second per thread.  The string belongs to the calling
 * thread and changes on its next call a second later.
 */
const char *http_date_now(void);

/* Writes t in the Common Log Format's form into out, NUL-terminated. */
void http_date_format_clf(time_t t, char out[HTTP_DATE_CLF_LEN]);

#endif /* HTTP_DATE_H */
