/*
 * errmsg.h - the last failure of a tests/lib call, in words.
 *
 * A library function that fails returns -1 (or NULL) and leaves a
 * sentence here; client_error() and server_error() read it back.  It is
 * one buffer for the whole library, so read it right after the call that
 * failed.
 *
 * Thread safety: none; the suites are single-threaded.
 */
#ifndef TESTS_ERRMSG_H
#define TESTS_ERRMSG_H

/* Replaces the message, printf-style. */
__attribute__((format(printf, 1, 2))) void errmsg_set(const char *fmt, ...);

/* The last message ("" before any failure). */
const char *errmsg_get(void);

#endif /* TESTS_ERRMSG_H */
