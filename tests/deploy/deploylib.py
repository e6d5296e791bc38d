"""
deploylib.py - what the deploy tests share: the model servers (the Server
of tests/lib/servers.py, with kill and check_clean) and nginx as child
processes, the shipped nginx.conf filled in, a plain HTTP client with a
time limit, and the "ok N - ..." report.

Only the Python standard library.  Every wait is bounded; every process
started here is stopped by the `with` block that started it.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
NGINX_CONF = os.path.join(TOP, "deploy", "nginx.conf")
NGINX = os.environ.get("NGINX", "/usr/sbin/nginx")

sys.path.insert(0, os.path.join(os.path.dirname(HERE), "lib"))

import servers  # noqa: E402
# The scripts import wait_until (and TestFailure, check) from here.
from servers import (TestFailure, check, stop_process,  # noqa: E402,F401
                     wait_until)


class Report:
    """The TAP-like lines, and the closing "N passed, N failed" line."""

    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def ok(self, what):
        self.passed += 1
        print("ok %d - %s" % (self.passed + self.failed, what), flush=True)

    def fail(self, what):
        self.failed += 1
        print("not ok %d - %s" % (self.passed + self.failed, what),
              flush=True)

    def skip(self, what):
        self.skipped += 1
        print("skip - %s" % what, flush=True)

    def run(self, name, fn, *args):
        """Runs one test function; a TestFailure fails it, not the rest."""
        try:
            fn(self, *args)
        except TestFailure as e:
            self.fail("%s: %s" % (name, e))

    def close(self):
        line = "%d passed, %d failed" % (self.passed, self.failed)
        if self.skipped:
            line += ", %d skipped" % self.skipped
        print(line, flush=True)
        return 1 if self.failed else 0


# ---- processes -------------------------------------------------------------

class Server(servers.Server):
    """
    One of the six models on 127.0.0.1 and a port of its choosing, its
    stderr appended to log_path (a new file under tempdir() by default).
    Leaving its `with` block without an exception checks that it stopped
    cleanly.
    """

    def __init__(self, binary, root, extra=(), log_path=None, timeout=10):
        if log_path is None:
            log_path = os.path.join(tempdir(None), "server.stderr")
        self.name = os.path.basename(binary)
        self.killed = False
        super().__init__(binary, ["--host", "127.0.0.1", "--root", root]
                         + list(extra), log_path, timeout, "ab")

    def kill(self):
        """SIGKILL: the server gets no chance to finish anything."""
        self.killed = True
        stop_process(self.proc, signal.SIGKILL)

    def check_clean(self):
        """SIGTERM ends a server with 0, unless a sanitizer found a bug."""
        rc = self.proc.returncode
        if rc == 0 or self.killed:
            return
        with open(self.log_path, errors="replace") as f:
            tail = f.read()[-2000:]
        raise TestFailure("%s stopped with status %s (%s): %s"
                          % (self.name, rc, self.log_path, tail))

    def __exit__(self, exc_type, *exc):
        self.stop()
        if exc_type is None:
            self.check_clean()


def free_port():
    """
    A port that was free a moment ago.  nginx cannot listen on port 0 and
    tell us which port it got, so we ask the kernel for one, let it go, and
    hand it to nginx; Nginx() tries again if someone took it meanwhile.
    """
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def render_nginx_conf(listen, upstreams, log_dir, temp_dir,
                      template=NGINX_CONF):
    """deploy/nginx.conf with its placeholders filled in."""
    with open(template) as f:
        text = f.read()
    values = {
        "@LISTEN@": listen,
        "@UPSTREAMS@": " ".join("server %s;" % u for u in upstreams),
        "@LOG_DIR@": log_dir,
        "@TEMP_DIR@": temp_dir,
    }
    for key, value in values.items():
        check(key in text, "%s is not in %s" % (key, template))
        text = text.replace(key, value)
    code = [line.split("#", 1)[0] for line in text.splitlines()]
    left = re.findall(r"@[A-Z_]+@", "\n".join(code))
    check(not left, "placeholders nobody fills in: %s" % " ".join(left))
    return text


class Nginx:
    """
    nginx with the shipped configuration, every file under workdir, on a
    port of 127.0.0.1 picked here.  upstreams: "127.0.0.1:PORT" strings.
    """

    def __init__(self, workdir, upstreams, template=NGINX_CONF, tries=5):
        self.dir = workdir
        self.logs = os.path.join(workdir, "logs")
        self.error_log = os.path.join(self.logs, "error.log")
        os.makedirs(self.logs, exist_ok=True)
        os.makedirs(os.path.join(workdir, "temp"), exist_ok=True)
        # Run as root, nginx's workers are "nobody": they must be able to
        # reach the temporary files.
        os.chmod(workdir, 0o755)
        self.proc = None
        for _ in range(tries):
            self.port = free_port()
            conf = render_nginx_conf("127.0.0.1:%d" % self.port, upstreams,
                                     self.logs,
                                     os.path.join(workdir, "temp"), template)
            path = os.path.join(workdir, "nginx.conf")
            with open(path, "w") as f:
                f.write(conf)
            if self._start(path):
                return
        raise TestFailure("nginx did not start in %d tries: %s"
                          % (tries, self.errors()))

    def _start(self, conf):
        self.out = open(os.path.join(self.logs, "stderr.log"), "ab")
        self.proc = subprocess.Popen(
            [NGINX, "-p", self.dir, "-c", conf, "-g",
             "daemon off; pid %s;" % os.path.join(self.dir, "nginx.pid")],
            stdout=self.out, stderr=self.out, stdin=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.out.close()
                if "Address already in use" in self.errors():
                    return False  # someone took the port: another one
                raise TestFailure("nginx exited: %s" % self.errors())
            if self._answers():
                return True
            time.sleep(0.05)
        self.stop()
        raise TestFailure("nginx did not answer in 10 s: %s" % self.errors())

    def _answers(self):
        """
        Is it our nginx on the port?  A request without Host is one nginx
        answers itself (400), so no instance behind it sees this probe.
        """
        try:
            with socket.create_connection(("127.0.0.1", self.port),
                                          timeout=2) as s:
                s.sendall(b"GET / HTTP/1.1\r\n\r\n")
                head = s.recv(4096)
        except OSError:
            return False
        return head.startswith(b"HTTP/1.1 400") and b"Server: nginx" in head

    def errors(self):
        text = ""
        for name in ("stderr.log", "error.log"):
            try:
                with open(os.path.join(self.logs, name), errors="replace") \
                        as f:
                    text += f.read()
            except OSError:
                pass
        return text.strip()

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc, signal.SIGQUIT)  # nginx's graceful stop
            self.out.close()
            self.proc = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---- a client --------------------------------------------------------------

class Client:
    """
    One HTTP/1.1 keep-alive connection, every read bounded by timeout.
    http.client would do, but it hides how long each step took and what
    exactly went over the wire; this is 30 lines.
    """

    def __init__(self, port, timeout=5, source=None):
        """source: the local address to connect from (loopback: 127/8)."""
        self.sock = socket.create_connection(
            ("127.0.0.1", port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""

    def request(self, path, headers=(), method="GET"):
        """Sends one request, returns (status, headers dict, body)."""
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: deploy.test"]
        lines += ["%s: %s" % h for h in headers]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return self.response(method == "HEAD")

    def response(self, head_only=False):
        while b"\r\n\r\n" not in self.buf:
            self._more()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        status_line, *fields = head.decode("latin-1").split("\r\n")
        hdrs = {}
        for f in fields:
            k, _, v = f.partition(":")
            hdrs[k.strip().lower()] = v.strip()
        n = 0 if head_only else int(hdrs.get("content-length", "0"))
        while len(self.buf) < n:
            self._more()
        body, self.buf = self.buf[:n], self.buf[n:]
        return int(status_line.split()[1]), hdrs, body

    def _more(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise TestFailure("the connection closed before a whole answer")
        self.buf += chunk

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def skip_all(why):
    """For a prerequisite that is missing: one line, exit status 0."""
    print("%s: deploy tests skipped" % why, flush=True)
    sys.exit(0)


def need_nginx():
    if not os.access(NGINX, os.X_OK):
        skip_all("%s not found (sh tests/deps.sh test installs nginx-light)"
                 % NGINX)


_base = None


def tempdir(name):
    """
    A fresh directory, named name (or made up when name is None), under
    one temporary directory per run, removed at exit (KEEP=1 keeps it and
    says where).  Under /tmp, not the work tree: run as root, nginx's
    workers are "nobody", and a home directory (0700) on the way would keep
    them from their temporary files.
    """
    global _base
    if _base is None:
        _base = tempfile.mkdtemp(prefix="deploy-test.")
        os.chmod(_base, 0o755)
        if os.environ.get("KEEP"):
            print("# files kept in %s" % _base, flush=True)
        else:
            atexit.register(shutil.rmtree, _base, True)
    if name is None:
        return tempfile.mkdtemp(dir=_base)
    path = os.path.join(_base, name)
    os.makedirs(path)
    return path
