/*
 * docfile.h - the files of the document roots that the suites serve.
 *
 * Each suite makes its own root in a mkdtemp() directory (the files differ:
 * see each suite); what they share is how a file is written and the byte
 * pattern of the large files, so a test can check every byte it is sent.
 *
 * Thread safety: re-entrant.
 */
#ifndef TESTS_DOCFILE_H
#define TESTS_DOCFILE_H

#include <stddef.h>

/*
 * The byte at offset i of a large test file.  Not periodic in any power of
 * two, so a block sent twice, shifted or out of order is caught.
 */
unsigned char docfile_byte(size_t i);

/*
 * Writes data[0..len) to dir/name, created or truncated.  Returns 0, or
 * -1 with errno set.
 */
int docfile_write(const char *dir, const char *name, const void *data,
		  size_t len);

#endif /* TESTS_DOCFILE_H */
