/*
 * proc.c - reading a server's state from /proc: see proc.h.
 */
#include "proc.h"

#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Reads a small /proc file into buf (NUL-terminated).  Returns 0 or -1. */
static int read_small(const char *path, char *buf, size_t bufsz)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, bufsz - 1, f);
	buf[n] = '\0';
	fclose(f);
	return 0;
}

static bool is_number(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

int proc_fd_count(pid_t pid)
{
	return proc_fd_count_like(pid, "");
}

int proc_fd_count_like(pid_t pid, const char *prefix)
{
	char dir[64], link[PATH_MAX], target[PATH_MAX];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		ssize_t len;

		if (!is_number(e->d_name))
			continue;
		if (!*prefix) {
			n++;
			continue;
		}
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len < 0)
			continue; /* closed while we looked */
		target[len] = '\0';
		if (strncmp(target, prefix, strlen(prefix)) == 0)
			n++;
	}
	closedir(d);
	return n;
}

void proc_fd_describe(pid_t pid, char *out, size_t outsz)
{
	char dir[64], link[PATH_MAX], target[PATH_MAX];
	struct dirent *e;
	size_t used = 0;
	DIR *d;

	out[0] = '\0';
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d)) != NULL && used + 1 < outsz) {
		ssize_t len;
		int n;

		if (!is_number(e->d_name))
			continue;
		snprintf(link, sizeof(link), "%s/%s", dir, e->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len < 0)
			continue;
		target[len] = '\0';
		n = snprintf(out + used, outsz - used, "%s -> %s\n", e->d_name,
			     target);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	closedir(d);
}

/* The number after "\nName:" in /proc/PID/status, or -1. */
static long status_field(pid_t pid, const char *name)
{
	char path[64], buf[4096];
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (read_small(path, buf, sizeof(buf)) == -1)
		return -1;
	p = strstr(buf, name);
	return p ? atol(p + strlen(name)) : -1;
}

int proc_threads(pid_t pid)
{
	return (int)status_field(pid, "\nThreads:");
}

long proc_rss_kib(pid_t pid)
{
	return status_field(pid, "\nVmRSS:");
}

/*
 * Reads the state letter and the parent of /proc/PID/stat.  The command
 * name may hold spaces and parentheses, so the fields start after the
 * last ')'.
 */
static int read_stat(pid_t pid, char *state, pid_t *ppid)
{
	char path[64], buf[1024];
	const char *p;
	int pp;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) == -1)
		return -1;
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 1, " %c %d", state, &pp) != 2)
		return -1;
	*ppid = pp;
	return 0;
}

char proc_state(pid_t pid)
{
	char state;
	pid_t ppid;

	return read_stat(pid, &state, &ppid) == 0 ? state : 0;
}

long proc_cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	unsigned long utime, stime;
	const char *p;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_small(path, buf, sizeof(buf)) == -1)
		return -1;
	/* Fields 14 and 15, counted after the ')' that ends the name. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2,
			 "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
			 "%*u %*u %lu %lu",
			 &utime, &stime) != 2)
		return -1;
	return (long)((utime + stime) * 1000 /
		      (unsigned long)sysconf(_SC_CLK_TCK));
}

/*
 * Counts the children of pid (only those in state Z if zombies_only) and
 * stores up to max of them in kids.
 */
static int scan_children(pid_t pid, pid_t *kids, int max, bool zombies_only)
{
	struct dirent *e;
	DIR *d = opendir("/proc");
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		pid_t p, ppid;
		char state;

		if (!is_number(e->d_name))
			continue;
		p = (pid_t)atoi(e->d_name);
		if (read_stat(p, &state, &ppid) == -1 || ppid != pid)
			continue;
		if (zombies_only && state != 'Z')
			continue;
		if (kids && n < max)
			kids[n] = p;
		n++;
	}
	closedir(d);
	return n;
}

int proc_children(pid_t pid, pid_t *kids, int max)
{
	return scan_children(pid, kids, max, false);
}

int proc_zombie_children(pid_t pid)
{
	return scan_children(pid, NULL, 0, true);
}

static void read_task_wait(pid_t pid, pid_t tid, struct task_wait *t)
{
	char path[96], buf[512];

	t->tid = tid;
	t->syscall = -1;
	t->wchan[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/task/%d/syscall", (int)pid,
		 (int)tid);
	/* "7 0x... 0x..." while blocked; "running" or "-1 ..." otherwise. */
	if (read_small(path, buf, sizeof(buf)) == 0 &&
	    isdigit((unsigned char)buf[0]))
		t->syscall = strtol(buf, NULL, 10);
	snprintf(path, sizeof(path), "/proc/%d/task/%d/wchan", (int)pid,
		 (int)tid);
	/* "0" means the kernel hides the symbol. */
	if (read_small(path, buf, sizeof(buf)) == 0 && strcmp(buf, "0") != 0) {
		buf[strcspn(buf, "\n")] = '\0';
		buf[sizeof(t->wchan) - 1] = '\0';
		strcpy(t->wchan, buf);
	}
}

int proc_task_waits(pid_t pid, struct task_wait *tasks, int max)
{
	char dir[64];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/task", (int)pid);
	d = opendir(dir);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (!is_number(e->d_name))
			continue;
		if (n < max)
			read_task_wait(pid, (pid_t)atoi(e->d_name), &tasks[n]);
		n++;
	}
	closedir(d);
	return n;
}
