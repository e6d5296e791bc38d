"""
servers.py - what the Python tests (tests/browser, tests/deploy) share: a
failure that names what went wrong, waits with a deadline, and a model
server started with --port 0 that says where it listens; and, for the
scripts that print measurements (tests/deploy/measure.py,
tests/bench/feature_cost.py), the machine they ran on and its load.

Only the Python standard library.  A script's harness (harness.py,
deploylib.py) puts this folder on sys.path, relative to its own file, and
builds its Server on the one here.
"""

import os
import platform
import re
import select
import signal
import subprocess
import time


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def wait_until(what, timeout, poll, fn):
    """
    Calls fn() every poll seconds until it returns a true value, and
    returns that value; fails after timeout seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TestFailure("timed out after %g s waiting for %s" %
                              (timeout, what))
        time.sleep(poll)


def stop_process(proc, sig=signal.SIGTERM, timeout=10):
    """
    sig to proc's whole session (it was started with start_new_session),
    SIGKILL if it has not ended in timeout seconds; then SIGKILL to what is
    left of the session (02's children, Chromium's helpers) if the leader
    went first.  proc may be None.
    """
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class Server:
    """
    binary --port 0 ARGS..., in a session of its own so that stop() reaches
    every process it forks.  Its stdout is a pipe for the one line that
    says where it listens ("listening on http://HOST:PORT"), read with a
    deadline; self.port is that port.  Its stderr goes to the file
    log_path, opened with log_mode: a sanitizer build reports there, and a
    test reads it when the exit status is not 0.
    """

    def __init__(self, binary, args, log_path, timeout, log_mode="wb"):
        self.log_path = log_path
        self.log = open(log_path, log_mode)
        self.proc = subprocess.Popen(
            [binary, "--port", "0"] + list(args),
            stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL,
            start_new_session=True)
        try:
            self.port = self._read_port(timeout)
        except BaseException:
            self.stop()
            raise

    def _read_port(self, timeout):
        deadline = time.monotonic() + timeout
        line = b""
        fd = self.proc.stdout.fileno()
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            check(left > 0, "the server did not say where it listens")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1)
                check(chunk, "the server exited before listening")
                line += chunk
        m = re.match(rb"listening on http://[^ ]*:(\d+)", line)
        check(m, "unexpected first line %r" % line)
        return int(m.group(1))

    def stop(self):
        """Stops the server; its exit status is then self.proc.returncode."""
        stop_process(self.proc)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def machine():
    """The CPU model, the number of cores and the kernel, in one line."""
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"^model name\s*:\s*(.*)$", f.read(), re.M)
            cpu = m.group(1) if m else cpu
    except OSError:
        pass
    return "%s, %d cores, Linux %s" % (cpu, os.cpu_count(),
                                       platform.release())


def load():
    """The load averages of /proc/loadavg: 1, 5 and 15 minutes."""
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])
