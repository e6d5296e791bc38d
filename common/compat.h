/*
 * compat.h - small portability helpers shared by every file.
 *
 * FALLTHROUGH marks a deliberate switch fall-through.  clang 14 ignores the
 * comment form that gcc accepts, so we use the attribute when it exists.
 */
#ifndef COMPAT_H
#define COMPAT_H

#if defined(__has_attribute)
#if __has_attribute(fallthrough)
#define FALLTHROUGH __attribute__((fallthrough))
#endif
#endif
#ifndef FALLTHROUGH
#define FALLTHROUGH ((void)0)
#endif

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif /* COMPAT_H */
