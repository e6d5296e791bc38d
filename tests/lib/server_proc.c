/*
 * server_proc.c - starting and stopping server processes: see
 * server_proc.h.
 */
#include "server_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "errmsg.h"

/* More servers than any suite runs at once. */
#define TRACKED_MAX 16

/* Every server started and not yet reaped, for server_kill_all(). */
static volatile pid_t tracked[TRACKED_MAX];

const char *server_error(void)
{
	return errmsg_get();
}

static void track(pid_t pid, bool on)
{
	size_t i;

	for (i = 0; i < TRACKED_MAX; i++) {
		if (on && tracked[i] == 0) {
			tracked[i] = pid;
			return;
		}
		if (!on && tracked[i] == pid)
			tracked[i] = 0;
	}
}

void server_kill_all(void)
{
	size_t i;

	for (i = 0; i < TRACKED_MAX; i++) {
		if (tracked[i] > 0) {
			kill(-tracked[i], SIGKILL);
			kill(tracked[i], SIGKILL);
		}
	}
}

void server_reap_all(void)
{
	size_t i;

	server_kill_all();
	for (i = 0; i < TRACKED_MAX; i++) {
		if (tracked[i] > 0)
			waitpid(tracked[i], NULL, 0);
		tracked[i] = 0;
	}
}

static void on_fatal_signal(int sig)
{
	server_kill_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

void server_kill_all_at_exit(void)
{
	atexit(server_reap_all);
	signal(SIGINT, on_fatal_signal);
	signal(SIGTERM, on_fatal_signal);
	signal(SIGHUP, on_fatal_signal);
}

void server_describe_status(int status, char *out, size_t outsz)
{
	if (WIFEXITED(status))
		snprintf(out, outsz, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, outsz, "killed by signal %d (%s)",
			 WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, outsz, "wait status 0x%x", status);
}

/* In the child: stdout to the pipe, nothing else inherited, then exec. */
static void exec_server(char *const argv[], int out_fd, pid_t parent,
			rlim_t nofile)
{
	sigset_t none;
	int devnull = open("/dev/null", O_RDONLY);
	long fd, max = sysconf(_SC_OPEN_MAX);

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* The suite may have died before prctl: then no signal comes. */
	if (getppid() != parent)
		_exit(127);
	if (devnull == -1 || dup2(devnull, 0) == -1 || dup2(out_fd, 1) == -1)
		_exit(127);
	for (fd = 3; fd < max && fd < 65536; fd++)
		close((int)fd);
	if (nofile > 0) {
		struct rlimit rl = { .rlim_cur = nofile, .rlim_max = nofile };

		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			_exit(127);
	}
	/* A suite may ignore SIGPIPE; the server must start from defaults. */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(argv[0], argv);
	_exit(127);
}

/*
 * Reads the first line of the server's stdout before the deadline, one
 * byte at a time so that what follows stays in the pipe for extra_out.
 * Returns 0, or -1 if the server exited or said nothing in time.
 */
static int read_first_line(int fd, char *line, size_t linesz, int64_t deadline)
{
	size_t len = 0;

	while (len + 1 < linesz) {
		ssize_t n;

		if (clock_wait_fd(fd, POLLIN, deadline) != 1)
			return -1;
		n = read(fd, line + len, 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		if (line[len++] == '\n')
			break;
	}
	line[len] = '\0';
	return 0;
}

/* "listening on http://127.0.0.1:PORT\n" -> PORT, or -1. */
static int parse_address(const char *line)
{
	static const char prefix[] = "listening on http://127.0.0.1:";
	char *end;
	long port;

	if (strncmp(line, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	port = strtol(line + sizeof(prefix) - 1, &end, 10);
	if (strcmp(end, "\n") != 0 || port <= 0 || port > 65535)
		return -1;
	return (int)port;
}

/*
 * Reads the address the server prints.  Returns 0, or -1 if it printed
 * none (server_error() says why).
 */
static int read_port(struct server_proc *s, const char *binary, int timeout_ms)
{
	char line[256], how[96];
	int status = 0;

	if (read_first_line(s->out_fd, line, sizeof(line),
			    now_ms() + timeout_ms) == -1) {
		if (!server_alive(s, &status)) {
			server_describe_status(status, how, sizeof(how));
			errmsg_set("%s exited (%s) before printing its address",
				   binary, how);
		} else {
			errmsg_set("%s printed no address within %d ms", binary,
				   timeout_ms);
		}
		return -1;
	}
	s->port = parse_address(line);
	if (s->port == -1) {
		errmsg_set("%s printed \"%.*s\", expected "
			   "\"listening on http://127.0.0.1:PORT\"",
			   binary, (int)strcspn(line, "\n"), line);
		return -1;
	}
	return 0;
}

int server_spawn(struct server_proc *s, char *const argv[],
		 const struct server_spawn_opts *o)
{
	int pfd[2];
	pid_t parent = getpid();
	pid_t pid;

	memset(s, 0, sizeof(*s));
	s->out_fd = -1;
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		errmsg_set("pipe2: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == -1) {
		errmsg_set("fork: %s", strerror(errno));
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (pid == 0)
		exec_server(argv, pfd[1], parent, o->nofile);
	setpgid(pid, pid); /* the child does it too; one of them wins */
	track(pid, true);
	close(pfd[1]);
	s->pid = pid;
	s->out_fd = pfd[0];
	if (read_port(s, argv[0], o->start_timeout_ms) == -1) {
		server_kill(s);
		return -1;
	}
	return 0;
}

/* Keeps what the server printed after its address, for the SIGTERM test. */
static void drain_stdout(struct server_proc *s)
{
	ssize_t n;

	fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
	while (s->extra_len < sizeof(s->extra_out) - 1) {
		n = read(s->out_fd, s->extra_out + s->extra_len,
			 sizeof(s->extra_out) - 1 - s->extra_len);
		if (n <= 0)
			break;
		s->extra_len += (size_t)n;
	}
	s->extra_out[s->extra_len] = '\0';
}

/* After the process has been reaped with status. */
static void forget(struct server_proc *s, int status)
{
	if (s->pid <= 0)
		return;
	track(s->pid, false);
	/* Anything the model left behind in its group (02's children). */
	kill(-s->pid, SIGKILL);
	if (s->out_fd != -1) {
		drain_stdout(s);
		close(s->out_fd);
	}
	s->reaped = true;
	s->status = status;
	s->pid = 0;
	s->out_fd = -1;
}

bool server_alive(struct server_proc *s, int *status)
{
	int st = 0;
	pid_t r;

	if (s->pid <= 0)
		return false;
	r = waitpid(s->pid, &st, WNOHANG);
	if (r == 0)
		return true;
	if (r != s->pid)
		st = 0;
	if (status)
		*status = st;
	forget(s, st);
	return false;
}

int server_terminate(struct server_proc *s, int timeout_ms)
{
	if (s->pid <= 0)
		return -1;
	kill(s->pid, SIGTERM);
	return server_wait_exit(s, timeout_ms);
}

int server_wait_exit(struct server_proc *s, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	int status = 0;

	if (s->pid <= 0)
		return -1;
	while (now_ms() < deadline) {
		if (!server_alive(s, &status))
			return status;
		sleep_ms(10);
	}
	server_kill(s);
	return -1;
}

void server_kill(struct server_proc *s)
{
	int status = 0;

	if (s->pid <= 0)
		return;
	kill(-s->pid, SIGKILL);
	kill(s->pid, SIGKILL);
	waitpid(s->pid, &status, 0);
	forget(s, status);
}
