/*
 * proc.h - what /proc says about a server process.
 *
 * The suites use these to check what the HTTP side cannot see: leaked
 * descriptors, the number of threads and children, zombies, which system
 * call an event loop waits in, and how much CPU a server burns.
 *
 * Every function returns -1 (or 0 for proc_state) when the process is gone
 * or the file cannot be read.
 *
 * Thread safety: re-entrant.
 */
#ifndef TESTS_PROC_H
#define TESTS_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Entries in /proc/PID/fd. */
int proc_fd_count(pid_t pid);

/* Descriptors whose link starts with prefix ("anon_inode:[eventpoll]"). */
int proc_fd_count_like(pid_t pid, const char *prefix);

/* Writes "3 -> socket:[123]" lines for every descriptor, for messages. */
void proc_fd_describe(pid_t pid, char *out, size_t outsz);

/* The Threads: line of /proc/PID/status. */
int proc_threads(pid_t pid);

/* The VmRSS: line of /proc/PID/status: resident memory, in KiB. */
long proc_rss_kib(pid_t pid);

/* The state letter of /proc/PID/stat ('S', 'R', 'Z', ...), 0 if gone. */
char proc_state(pid_t pid);

/* CPU time the process has used (user + system), in ms. */
long proc_cpu_ms(pid_t pid);

/*
 * Fills kids[0..max) with the processes whose parent is pid (a scan of
 * /proc/[0-9]*\/stat).  Returns how many there are (possibly more than max).
 */
int proc_children(pid_t pid, pid_t *kids, int max);

/* Children of pid in state Z. */
int proc_zombie_children(pid_t pid);

/* Where one thread of a process is waiting. */
struct task_wait {
	pid_t tid;
	long syscall;	/* from task/TID/syscall; -1 running or unknown */
	char wchan[64]; /* from task/TID/wchan; "" if unknown */
};

/*
 * Fills tasks[0..max) for every thread of pid.  Returns the thread count
 * (possibly more than max), or -1.
 */
int proc_task_waits(pid_t pid, struct task_wait *tasks, int max);

#endif /* TESTS_PROC_H */
