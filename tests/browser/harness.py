"""
harness.py - what the browser tests share: a server on --port 0 (the one
in tests/lib/servers.py, with --quiet and get_json), headless Chromium
driven through the DevTools protocol, and a load generator.

Python's standard library has no WebSocket client, so DevTools speaks the
few parts of RFC 6455 that the protocol needs: the upgrade handshake,
masked text frames out, text frames (possibly fragmented) in, ping/pong
and close.  Every wait has a deadline; every process started here is
stopped by stop() or by leaving its `with` block.
"""

import base64
import hashlib
import http.client
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lib"))

import servers  # noqa: E402
# The scripts import TestFailure, check and wait_until from here.
from servers import (TestFailure, check, stop_process,  # noqa: E402
                     wait_until)

WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# ---- the server ------------------------------------------------------------

class Server(servers.Server):
    """A model binary on 127.0.0.1 and an ephemeral port, --quiet."""

    def __init__(self, binary, root, extra=(), timeout=15, log_path=None):
        super().__init__(binary, ["--root", root, "--quiet"] + list(extra),
                         log_path or os.devnull, timeout)

    def get_json(self, path, timeout=5):
        conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                          timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            body = resp.read()
            check(resp.status == 200, "%s answered %d" % (path, resp.status))
            return json.loads(body)
        finally:
            conn.close()


# ---- load ------------------------------------------------------------------

class Load:
    """
    Client threads, each on one keep-alive connection doing GET path in a
    loop (a new connection when the server closes one), with pause seconds
    between requests.  add() starts more; stop() ends them all.  Every
    thread ends by itself after max_seconds.
    """

    def __init__(self, port, path="/small.html", pause=0.0, max_seconds=120):
        self.port = port
        self.path = path
        self.pause = pause
        self.stopping = threading.Event()
        self.deadline = time.monotonic() + max_seconds
        self.threads = []
        self.lock = threading.Lock()
        self.statuses = {}
        self.failures = 0

    def _count(self, status):
        with self.lock:
            if status is None:
                self.failures += 1
            else:
                self.statuses[status] = self.statuses.get(status, 0) + 1

    def _run(self):
        conn = None
        while not self.stopping.is_set() and time.monotonic() < self.deadline:
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", self.port,
                                                      timeout=5)
                conn.request("GET", self.path)
                resp = conn.getresponse()
                resp.read()
                self._count(resp.status)
                if resp.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                self._count(None)
                if conn is not None:
                    conn.close()
                conn = None
                self.stopping.wait(0.05)  # no busy loop on a refusal
                continue
            if self.pause:
                self.stopping.wait(self.pause)
        if conn is not None:
            conn.close()

    def add(self, n):
        for _ in range(n):
            t = threading.Thread(target=self._run, daemon=True)
            t.start()
            self.threads.append(t)

    def ok(self):
        with self.lock:
            return self.statuses.get(200, 0)

    def stop(self, timeout=15):
        self.stopping.set()
        end = time.monotonic() + timeout
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# ---- Chromium and the DevTools protocol ------------------------------------

def find_chromium():
    """The Chromium to use: $CHROMIUM, or the first one on PATH, or None."""
    env = os.environ.get("CHROMIUM")
    if env:
        return env
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


class WebSocket:
    """The client side of RFC 6455, text messages only."""

    def __init__(self, url, timeout):
        check(url.startswith("ws://"), "not a ws:// URL: " + url)
        hostport, _, path = url[5:].partition("/")
        host, _, port = hostport.rpartition(":")
        self.sock = socket.create_connection((host, int(port)), timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((
            "GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
            "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % (path, hostport, key)
        ).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self._recv_some()
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        want = base64.b64encode(
            hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        check(head.startswith(b"HTTP/1.1 101"),
              "no WebSocket upgrade: " + head.decode(errors="replace"))
        check(want.encode() in head, "bad Sec-WebSocket-Accept")

    def _recv_some(self):
        data = self.sock.recv(65536)
        check(data, "DevTools closed the connection")
        return data

    def _recv_exact(self, n):
        while len(self.buf) < n:
            self.buf += self._recv_some()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode, payload):
        n = len(payload)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
        mask = os.urandom(4)
        # A client must mask every frame (RFC 6455, 5.3).
        body = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def send(self, text):
        self._send_frame(0x1, text.encode())

    def recv(self):
        """The next text message (fragments joined)."""
        message = b""
        while True:
            b0, b1 = self._recv_exact(2)
            opcode, n = b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack("!H", self._recv_exact(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self._recv_exact(8))[0]
            mask = self._recv_exact(4) if b1 & 0x80 else None
            payload = self._recv_exact(n)
            if mask:
                payload = bytes(b ^ mask[i & 3] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise TestFailure("DevTools sent a close frame")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            message += payload
            if b0 & 0x80:
                return message.decode()

    def settimeout(self, seconds):
        self.sock.settimeout(max(seconds, 0.001))

    def close(self):
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class Browser:
    """Headless Chromium with one page target, driven over DevTools."""

    def __init__(self, chromium, width=1100, height=1300, timeout=60,
                 log_path=None):
        self.profile = tempfile.mkdtemp(prefix="live-page-chromium-")
        self.log = open(log_path or os.devnull, "wb")
        self.proc = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions",
             "--disable-dev-shm-usage", "--hide-scrollbars",
             "--user-data-dir=" + self.profile,
             "--remote-debugging-address=127.0.0.1",
             "--remote-debugging-port=0",
             "--window-size=%d,%d" % (width, height), "about:blank"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log,
            start_new_session=True)
        self.ws = None
        self.next_id = 0
        try:
            self._attach(timeout)
        except BaseException:
            self.stop()
            raise

    def _attach(self, timeout):
        # Chromium writes its port to DevToolsActivePort once it listens.
        port_file = os.path.join(self.profile, "DevToolsActivePort")

        def port():
            check(self.proc.poll() is None, "Chromium exited at start-up")
            try:
                with open(port_file) as f:
                    first = f.readline().strip()
                return int(first) if first else None
            except (OSError, ValueError):
                return None

        devtools_port = wait_until("Chromium's DevTools port", timeout, 0.1,
                                   port)

        def page_target():
            conn = http.client.HTTPConnection("127.0.0.1", devtools_port,
                                              timeout=5)
            try:
                conn.request("GET", "/json/list")
                targets = json.loads(conn.getresponse().read())
            except (OSError, ValueError, http.client.HTTPException):
                return None
            finally:
                conn.close()
            pages = [t for t in targets if t.get("type") == "page"]
            return pages[0]["webSocketDebuggerUrl"] if pages else None

        url = wait_until("a page target", timeout, 0.1, page_target)
        self.ws = WebSocket(url, timeout)

    def call(self, method, timeout=30, **params):
        """Sends one command and returns its result; events are skipped."""
        self.next_id += 1
        mine = self.next_id
        self.ws.settimeout(timeout)
        self.ws.send(json.dumps({"id": mine, "method": method,
                                 "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            check(left > 0, "no answer to " + method)
            self.ws.settimeout(left)
            try:
                msg = json.loads(self.ws.recv())
            except socket.timeout:
                raise TestFailure("no answer to " + method) from None
            if msg.get("id") != mine:
                continue
            if "error" in msg:
                raise TestFailure("%s: %s" % (method, msg["error"]))
            return msg.get("result", {})

    def evaluate(self, expression, timeout=30):
        """The value of a JavaScript expression in the page (JSON-able)."""
        res = self.call("Runtime.evaluate", timeout, expression=expression,
                        returnByValue=True)
        if "exceptionDetails" in res:
            raise TestFailure("page script failed: %s: %s" %
                              (expression, res["exceptionDetails"]))
        return res["result"].get("value")

    def open(self, url, timeout=30):
        self.call("Page.enable", timeout)
        self.call("Page.navigate", timeout, url=url)
        wait_until("the page to load", timeout, 0.1,
                   lambda: self.evaluate("document.readyState") == "complete")

    def screenshot(self, path, timeout=30):
        """A PNG of the whole page (its full height) into path."""
        metrics = self.call("Page.getLayoutMetrics", timeout)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        width = int(self.evaluate("window.innerWidth"))
        height = int(size["height"]) + 1
        self.call("Emulation.setDeviceMetricsOverride", timeout, width=width,
                  height=height, deviceScaleFactor=1, mobile=False)
        try:
            shot = self.call("Page.captureScreenshot", timeout, format="png")
        finally:
            self.call("Emulation.clearDeviceMetricsOverride", timeout)
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "wb") as f:
            f.write(base64.b64decode(shot["data"]))

    def stop(self):
        if self.ws is not None:
            self.ws.close()
            self.ws = None
        stop_process(self.proc)
        self.log.close()
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
