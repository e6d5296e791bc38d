#!/usr/bin/env python3
"""
proxy_test.py - deploy/nginx.conf in front of the servers, with real nginx.

    python3 tests/deploy/proxy_test.py [BIN_DIR [MODEL]]

BIN_DIR holds the built servers (default bin); MODEL is the one run twice
behind nginx (default 06_epoll_async).  The slowloris checks use 01_blocking.

What it checks, each against real nginx:
  - what an instance is told about the client (X-Real-IP,
    X-Forwarded-For, X-Forwarded-Proto, Host), and that nginx keeps its
    connection to an instance open (HTTP/1.1, no Connection: close, one
    connection for ten requests), seen by a recording upstream;
  - an instance with --trust-proxy 127.0.0.1 logs the client's address
    (the last X-Forwarded-For entry, the one nginx added), not nginx's and
    not one the client forged; without the option it logs nginx's;
  - two instances of MODEL both get traffic (their access logs); a POST
    body and a 1 MiB answer pass; one instance SIGKILLed, the next 20
    requests all answer 200;
  - an instance that answers 503 is skipped for the other (http_503);
  - 01 behind nginx as docs/deploy.md says (no `keepalive`): 4 clients at
    once are all served;
  - 20 slowloris clients freeze 01 alone (the control), but not 01 behind
    nginx, which reads whole requests before passing them on.

nginx runs from the shipped deploy/nginx.conf with its placeholders filled
in (deploylib.render_nginx_conf), on a port picked here, every file under
one temporary directory, as whoever runs the test (root is not needed).
Without nginx (/usr/sbin/nginx, or $NGINX) it says so and exits 0.  Exit
status 1 when a check fails.  About 5 s.
"""

import http.server
import json
import os
import select
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from deploylib import (NGINX_CONF, TOP, Client, Nginx, Report, Server,  # noqa: E402
                       TestFailure, check, need_nginx, tempdir,
                       wait_until)

WWW = os.path.join(TOP, "www")
SMALL = "/small.html"
SMALL_SIZE = os.path.getsize(os.path.join(WWW, "small.html"))
BIG = "/big/1mib.bin"


def log_count(path, needle):
    """Lines of an access log that contain needle."""
    try:
        with open(path, errors="replace") as f:
            return sum(1 for line in f if needle in line)
    except FileNotFoundError:
        return 0


# ---- what nginx sends to an instance -------------------------------------------

class Recorder(http.server.BaseHTTPRequestHandler):
    """An upstream that answers 200 and writes down what it was sent."""

    protocol_version = "HTTP/1.1"  # keep-alive, like the servers

    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.connections += 1

    def do_GET(self):
        with self.server.lock:
            self.server.seen.append((self.request_version,
                                     dict(self.headers.items())))
        body = b"recorded\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_headers(r):
    """Who the client was, HTTP/1.1, and one connection for many requests."""
    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    up.daemon_threads = True
    up.lock = threading.Lock()
    up.connections = 0
    up.seen = []
    t = threading.Thread(target=up.serve_forever, daemon=True)
    t.start()
    try:
        with Nginx(tempdir("headers"),
                   ["127.0.0.1:%d" % up.server_address[1]]) as ngx, \
                Client(ngx.port) as c:
            for _ in range(10):
                status, _, body = c.request(
                    "/", [("X-Forwarded-For", "203.0.113.7")])
                check(status == 200 and body == b"recorded\n",
                      "through nginx: %d %r" % (status, body))
    finally:
        up.shutdown()
        up.server_close()
    check(len(up.seen) == 10, "the upstream saw %d requests" % len(up.seen))
    version, h = up.seen[-1]
    check(h.get("X-Real-IP") == "127.0.0.1",
          "X-Real-IP: %r" % h.get("X-Real-IP"))
    check(h.get("X-Forwarded-For") == "203.0.113.7, 127.0.0.1",
          "X-Forwarded-For: %r" % h.get("X-Forwarded-For"))
    check(h.get("X-Forwarded-Proto") == "http",
          "X-Forwarded-Proto: %r" % h.get("X-Forwarded-Proto"))
    check(h.get("Host") == "deploy.test", "Host: %r" % h.get("Host"))
    r.ok("the instance sees X-Real-IP, X-Forwarded-For (appended), "
         "X-Forwarded-Proto and the client's Host")
    check(version == "HTTP/1.1", "nginx spoke %s to the upstream" % version)
    check(h.get("Connection", "").lower() != "close",
          "nginx sent Connection: %s" % h.get("Connection"))
    check(up.connections == 1,
          "10 requests took %d upstream connections" % up.connections)
    r.ok("keep-alive to the upstream: HTTP/1.1, no Connection: close, "
         "10 requests on 1 connection")


# ---- the client's address ------------------------------------------------------

CLIENT_ADDR = "127.0.0.2"  # loopback takes all of 127/8: a client not nginx


def logged_clients(path, needle):
    """The first field (the client) of each log line that contains needle."""
    try:
        with open(path, errors="replace") as f:
            return [line.split(" ", 1)[0] for line in f if needle in line]
    except FileNotFoundError:
        return []


def test_trust_proxy(r, bin_dir, model):
    """With --trust-proxy nginx's address, the log shows the client's."""
    d = tempdir("trust")
    logs = [os.path.join(d, "trusted.log"), os.path.join(d, "plain.log")]
    binary = os.path.join(bin_dir, model)
    with Server(binary, WWW, ["--access-log", logs[0],
                              "--trust-proxy", "127.0.0.1"]) as a, \
            Server(binary, WWW, ["--access-log", logs[1]]) as b:
        for log, srv, want in ((logs[0], a, CLIENT_ADDR),
                               (logs[1], b, "127.0.0.1")):
            with Nginx(tempdir("trust-nginx-%d" % srv.port),
                       ["127.0.0.1:%d" % srv.port]) \
                    as ngx, Client(ngx.port, source=CLIENT_ADDR) as c:
                # A forged entry first: nginx appends the real address.
                status, _, _ = c.request(SMALL + "?trust", headers=[
                    ("X-Forwarded-For", "203.0.113.66")])
                check(status == 200, "GET through nginx: %d" % status)
                wait_until("the request in the log", 5, 0.05,
                           lambda: logged_clients(log, SMALL + "?trust"))
                got = logged_clients(log, SMALL + "?trust")
                check(got == [want], "logged as %r, expected %s" % (got, want))
    r.ok("--trust-proxy 127.0.0.1: the log shows the client %s (not "
         "nginx, not the forged entry); without it, nginx's 127.0.0.1"
         % CLIENT_ADDR)


# ---- two instances ---------------------------------------------------------------

def post(c, path, body):
    """A POST with a body on Client c: (status, body)."""
    c.sock.sendall(("POST %s HTTP/1.1\r\nHost: deploy.test\r\n"
                    "Content-Length: %d\r\n\r\n" % (path, len(body))
                    ).encode() + body)
    status, _, got = c.response()
    return status, got


def test_failover(r, bin_dir, model):
    """Both instances serve; one SIGKILLed, the client never notices."""
    d = tempdir("failover")
    logs = [os.path.join(d, "a.log"), os.path.join(d, "b.log")]
    binary = os.path.join(bin_dir, model)
    with Server(binary, WWW, ["--access-log", logs[0]]) as a, \
            Server(binary, WWW, ["--access-log", logs[1]]) as b:
        ups = ["127.0.0.1:%d" % a.port, "127.0.0.1:%d" % b.port]
        with Nginx(tempdir("failover-nginx"), ups) as ngx, \
                Client(ngx.port) as c:
            # One client connection: one nginx worker, whose round robin
            # alternates between the two, whatever the number of cores.
            for i in range(20):
                status, _, body = c.request(SMALL)
                check(status == 200 and len(body) == SMALL_SIZE,
                      "request %d through nginx: %d" % (i + 1, status))
            wait_until("20 lines in the access logs", 5, 0.05,
                       lambda: sum(log_count(p, SMALL) for p in logs) >= 20)
            n = [log_count(p, SMALL) for p in logs]
            check(n[0] > 0 and n[1] > 0, "served by A %d, B %d" % tuple(n))
            r.ok("20 requests through nginx: both instances served "
                 "(A %d, B %d)" % tuple(n))

            status, got = post(c, "/api/echo", b"hello proxy")
            check(status == 200 and got == b"hello proxy",
                  "POST /api/echo through nginx: %d %r" % (status, got))
            if os.path.exists(os.path.join(WWW, BIG.lstrip("/"))):
                # Larger than nginx's buffers: it spills to @TEMP_DIR@.
                status, _, body = c.request(BIG)
                check(status == 200 and len(body) == 1 << 20,
                      "%s through nginx: %d, %d bytes"
                      % (BIG, status, len(body)))
            r.ok("a request body and a 1 MiB answer pass through")

            b.kill()
            before = log_count(logs[0], SMALL)
            for i in range(20):
                status, _, _ = c.request(SMALL)
                check(status == 200, "request %d after B was killed: %d"
                      % (i + 1, status))
            wait_until("A's log to show all 20", 5, 0.05,
                       lambda: log_count(logs[0], SMALL) >= before + 20)
            # Proof that nginx did try B and moved on, not that it never
            # chose B: the failure it logged.
            errors = ngx.errors()
            check("while connecting to upstream" in errors or
                  "upstream prematurely closed" in errors or
                  "reset by peer" in errors,
                  "nginx logged no failed attempt on B: %r" % errors)
            r.ok("B SIGKILLed: the next 20 requests all 200, from A "
                 "(nginx logged the failed try on B)")


class Busy(http.server.BaseHTTPRequestHandler):
    """
    An instance at its limit: reads the request, answers 503, closes.
    (Not one of the servers at --max-conns: those answer 503 before
    reading the request, which nginx 1.22 mishandles on a retry; see
    docs/deploy.md, "A known problem".)
    """

    protocol_version = "HTTP/1.1"

    def do_GET(self):
        with self.server.lock:
            self.server.refused += 1
        body = b"busy\n"
        self.send_response(503)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_busy_instance(r, bin_dir, model):
    """An instance that answers 503: nginx asks the other one."""
    busy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Busy)
    busy.daemon_threads = True
    busy.lock = threading.Lock()
    busy.refused = 0
    t = threading.Thread(target=busy.serve_forever, daemon=True)
    t.start()
    try:
        with Server(os.path.join(bin_dir, model), WWW, ["--quiet"]) as a:
            ups = ["127.0.0.1:%d" % a.port,
                   "127.0.0.1:%d" % busy.server_address[1]]
            with Nginx(tempdir("busy-nginx"), ups) as ngx, \
                    Client(ngx.port) as c:
                for i in range(6):
                    status, _, _ = c.request(SMALL)
                    check(status == 200, "request %d through nginx: %d "
                          "(the busy instance's 503 reached the client)"
                          % (i + 1, status))
    finally:
        busy.shutdown()
        busy.server_close()
    check(busy.refused >= 1, "nginx never tried the busy instance")
    r.ok("an instance that answers 503: nginx retries on the other, "
         "6 of 6 requests 200 (the busy one refused %d)" % busy.refused)


def test_blocking_model(r, bin_dir):
    """
    01 behind nginx as docs/deploy.md says to run it: without the
    `keepalive` line, whose idle connections would each hold 01 (or a
    thread of 04) while other requests wait behind them.
    """
    with open(NGINX_CONF) as f:
        text = f.read()
    check("keepalive 64;" in text, "no `keepalive 64;` line to remove")
    d = tempdir("blocking")
    template = os.path.join(d, "nginx.conf.in")
    with open(template, "w") as f:  # sed '/keepalive 64;/d'
        f.write("".join(line for line in text.splitlines(True)
                        if "keepalive 64;" not in line))
    errors = []

    def client():
        try:
            for _ in range(5):
                with Client(ngx.port, timeout=5) as c:
                    status, _, _ = c.request(SMALL)
                if status != 200:
                    errors.append("status %d" % status)
        except (OSError, TestFailure) as e:
            errors.append(str(e) or type(e).__name__)

    with Server(os.path.join(bin_dir, "01_blocking"), WWW, ["--quiet"]) \
            as one, Nginx(tempdir("blocking-nginx"),
                          ["127.0.0.1:%d" % one.port], template) as ngx:
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    check(not errors, "4 clients at once through nginx to 01: %s"
          % "; ".join(errors))
    r.ok("01 behind nginx without `keepalive`: 4 clients at once, 20 "
         "requests, all 200 within 5 s each")


# ---- slowloris -------------------------------------------------------------------

class Slowloris:
    """
    n connections that each send a request line, then one more header line
    every second, and never the blank line that ends the header.
    """

    def __init__(self, port, n=20):
        self.socks = []
        for i in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(b"GET " + SMALL.encode() + b" HTTP/1.1\r\n"
                      b"Host: deploy.test\r\n")
            self.socks.append(s)
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._drip, daemon=True)
        self.thread.start()

    def _drip(self):
        n = 0
        while not self.stopping.wait(1.0):
            n += 1
            for s in self.socks:
                try:
                    s.sendall(b"X-Slow-%d: 1\r\n" % n)
                except OSError:
                    pass  # the server gave up on this one: fine

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


HEADER_TIMEOUT = 3  # 01's --header-timeout: how long one slow client holds it


def test_slowloris(r, bin_dir):
    """nginx reads whole requests first: slow clients never reach 01."""
    binary = os.path.join(bin_dir, "01_blocking")
    args = ["--quiet", "--header-timeout", str(HEADER_TIMEOUT)]

    # The control: 01 alone is frozen by 20 slow clients.
    with Server(binary, WWW, args) as alone:
        with Slowloris(alone.port) as attack:
            # Connected after the 20, so queued behind them: 01 takes them
            # one at a time, HEADER_TIMEOUT s each.
            c = Client(alone.port, timeout=10)
            c.sock.sendall(b"GET " + SMALL.encode() +
                           b" HTTP/1.1\r\nHost: deploy.test\r\n\r\n")
            ready, _, _ = select.select([c.sock], [], [],
                                        HEADER_TIMEOUT - 1)
            check(not ready, "01 alone answered under slowloris: the "
                  "control shows no freeze")
        # The attack is over (its sockets closed): 01 comes back.
        status, _, _ = c.response()
        c.close()
        check(status == 200, "01 after the attack: %d" % status)
    r.ok("control: 01 alone, 20 slowloris clients: a normal request gets "
         "no answer in %d s (01 is frozen), then 200 once they leave"
         % (HEADER_TIMEOUT - 1))

    # The same attack on nginx in front of 01.
    with Server(binary, WWW, args) as behind:
        with Nginx(tempdir("slowloris-nginx"),
                   ["127.0.0.1:%d" % behind.port]) as ngx, \
                Slowloris(ngx.port):
            start = time.monotonic()
            with Client(ngx.port, timeout=HEADER_TIMEOUT + 2) as c:
                try:
                    status, _, body = c.request(SMALL)
                except socket.timeout:
                    raise TestFailure("no answer through nginx in %d s"
                                      % (HEADER_TIMEOUT + 2))
            took = time.monotonic() - start
            check(status == 200 and len(body) == SMALL_SIZE,
                  "through nginx: %d" % status)
        # nginx is gone, and with it its connection to 01: 01 is free.
        with Client(behind.port) as c:
            status, _, body = c.request("/api/stats")
        conns = json.loads(body)["total_connections"]
        check(conns <= 2, "01 saw %d connections, not nginx's one and "
              "ours" % conns)
    r.ok("01 behind nginx, the same 20 slowloris clients: answered in "
         "%.2f s; 01 saw one connection from nginx" % took)


def main():
    need_nginx()
    bin_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "bin")
    model = sys.argv[2] if len(sys.argv) > 2 else "06_epoll_async"
    r = Report()
    r.run("headers", test_headers)
    r.run("trust proxy", test_trust_proxy, bin_dir, model)
    r.run("failover", test_failover, bin_dir, model)
    r.run("busy instance", test_busy_instance, bin_dir, model)
    r.run("blocking model", test_blocking_model, bin_dir)
    r.run("slowloris", test_slowloris, bin_dir)
    return r.close()


if __name__ == "__main__":
    sys.exit(main())
