/*
 * compat.h - small helpers shared by every file.
 */
#ifndef COMPAT_H
#define COMPAT_H

/* The number of elements of array a (an array, not a pointer). */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* COMPAT_H */
