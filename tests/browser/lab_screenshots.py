#!/usr/bin/env python3
"""
lab_screenshots.py - remakes docs/labs/img/live-01.png, live-03.png and
live-04.png: the live page under the load that shows each model's failure.

    python3 tests/browser/lab_screenshots.py [01] [03] [04]

  01  the page is live; its tab freezes for a moment (as a background tab
      may), its keep-alive connection times out, and a slow client that was
      waiting in the backlog gets the only thread.  The page's next question
      waits behind it: "no answer" until the header timeout sends the slow
      client a 408.
  03  keep-alive clients arrive ten at a time: a thread each, so the
      threads figure climbs with the connections.
  04  --threads 4 --queue 16, and forty keep-alive clients: three workers
      are taken (this page holds the fourth), sixteen connections wait in
      the queue, and the rest are answered 503 at once.

Not a test: it decides nothing, it only draws.  Needs `make` first (bin/)
and Chromium.  Every wait is bounded, every process stopped.
"""

import os
import socket
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Browser, Load, Server, find_chromium,  # noqa: E402
                     wait_until)

OUT = "docs/labs/img"


def updates(b):
    return int(b.evaluate(
        "document.getElementById('live').getAttribute('data-updates')"))


def wait_updates(b, n, timeout=60):
    wait_until("%d updates of the page" % n, timeout, 0.1,
               lambda: updates(b) >= n)


def seconds_without_answer(b):
    """N of the page's "no answer for N s", or 0."""
    text = b.evaluate("document.getElementById('status').textContent")
    if not text.startswith("no answer for "):
        return 0
    return int(text.split()[3])


class SlowClient:
    """
    One connection that sends a request a byte a second (slowloris), until
    the server answers or closes, or stop().  A thread; bounded by limit s.
    """

    def __init__(self, port, limit=60):
        self.stopping = threading.Event()
        self.answer = b""
        self.sock = socket.create_connection(("127.0.0.1", port), 5)
        self.thread = threading.Thread(target=self._run, args=(limit,),
                                       daemon=True)
        self.thread.start()

    def _run(self, limit):
        request = b"GET /small.html HTTP/1.1\r\nHost: lab\r\nX-Slow: " + \
            b"z" * 200 + b"\r\n\r\n"
        end = time.monotonic() + limit
        self.sock.settimeout(0.01)
        for byte in request:
            if self.stopping.is_set() or time.monotonic() > end:
                break
            try:
                self.sock.sendall(bytes([byte]))
                self.answer += self.sock.recv(4096)
                break  # an answer (a 408) or EOF: the server let go
            except socket.timeout:
                pass
            except OSError:
                break
            self.stopping.wait(1.0)
        self.sock.close()

    def stop(self):
        self.stopping.set()
        self.thread.join(5)


def shoot_01(chromium):
    with Server("bin/01_blocking", "www") as srv, Browser(chromium) as b:
        b.open("http://127.0.0.1:%d/" % srv.port)
        wait_updates(b, 20)
        slow = SlowClient(srv.port)  # waits in the backlog for now
        try:
            # A frozen tab asks nothing; after the 5 s keep-alive timeout
            # 01 closes the page's connection and accepts the next in
            # its backlog: the slow client.
            b.call("Page.setWebLifecycleState", state="frozen")
            time.sleep(6)
            b.call("Page.setWebLifecycleState", state="active")
            wait_until("the page to wait 12 s", 30, 0.2,
                       lambda: seconds_without_answer(b) >= 12)
            b.screenshot(os.path.join(OUT, "live-01.png"))
        finally:
            slow.stop()


def shoot_03(chromium):
    with Server("bin/03_threads", "www") as srv, \
            Browser(chromium) as b, \
            Load(srv.port, pause=0.2) as load:
        b.open("http://127.0.0.1:%d/" % srv.port)
        wait_updates(b, 8)
        for _ in range(15):
            load.add(10)
            time.sleep(2.5)
        wait_updates(b, updates(b) + 6)
        b.screenshot(os.path.join(OUT, "live-03.png"))


def shoot_04(chromium):
    with Server("bin/04_threadpool", "www",
                ["--threads", "4", "--queue", "16"]) as srv, \
            Browser(chromium) as b, \
            Load(srv.port, pause=0.2) as load:
        b.open("http://127.0.0.1:%d/" % srv.port)
        # Long enough for the browser's spare connections (made while
        # loading the page) to time out and give their workers back.
        wait_updates(b, 8)
        for _ in range(10):
            load.add(4)
            time.sleep(1.5)
        wait_updates(b, updates(b) + 15)
        b.screenshot(os.path.join(OUT, "live-04.png"))


def main():
    chromium = find_chromium()
    if chromium is None:
        print("chromium not found")
        return 1
    which = sys.argv[1:] or ["01", "03", "04"]
    os.makedirs(OUT, exist_ok=True)
    for name in which:
        print("live-%s.png" % name, flush=True)
        {"01": shoot_01, "03": shoot_03, "04": shoot_04}[name](chromium)
    return 0


if __name__ == "__main__":
    sys.exit(main())
