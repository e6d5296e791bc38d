#!/usr/bin/env python3
"""
live_page.py - www/index.html's live figures, in a real browser.

Starts a server (default bin/04_threadpool: threads and a queue) on
--port 0 with --root www, loads it with keep-alive GETs from a few threads,
opens the page in headless Chromium through the DevTools protocol, waits
for the page's own updates (never a fixed sleep) and checks that what it
shows matches /api/stats and moves with the load.  Then it reloads the page
with JavaScript off and checks the page still says what it is, and that
the server stops with status 0 (a sanitizer build reports in
build/browser/server.log).  Screenshots go to build/browser/live.png and
build/browser/live-nojs.png.

    python3 tests/browser/live_page.py [SERVER]

Only the standard library and Chromium ($CHROMIUM, or chromium on PATH).
Without Chromium it prints "chromium not found: live page test skipped"
and exits 0.  Exit status 1 when a check fails.
"""

import os
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (Browser, Load, Server, TestFailure, check,  # noqa: E402
                     find_chromium, wait_until)

THREADS = 8
QUEUE = 32
CLIENTS = 4
OUT = "build/browser"

passed = []


def ok(what):
    passed.append(what)
    print("ok %d - %s" % (len(passed), what), flush=True)


def number(text):
    """A figure as the page prints it ("12,345", "3.5") as a float."""
    return float(text.replace(",", ""))


def updates(b):
    return int(b.evaluate(
        "document.getElementById('live').getAttribute('data-updates')"))


def wait_updates(b, n, timeout=30):
    """Waits until the page has drawn n answers of /api/stats in all."""
    wait_until("%d updates of the page" % n, timeout, 0.1,
               lambda: updates(b) >= n)


def figures(b):
    return b.evaluate("""(function () {
        function t(id) { return document.getElementById(id).textContent; }
        return { model: t('model'), rps: t('rps'), conns: t('conns'),
                 threads: t('threads'), procs: t('procs'), queue: t('queue'),
                 cap: t('queue-cap'), requests: t('requests'),
                 p99: t('p99'), status: t('status'),
                 line: document.querySelector('#chart path.rps')
                               .getAttribute('d') };
    })()""")


def check_live(b, srv, model):
    wait_updates(b, 3)
    fig = figures(b)
    check(fig["model"] == model,
          "the page names %r, the server is %s" % (fig["model"], model))
    ok("the header names the model that answered: " + model)

    # What the test asks now, the page must show at least by its next
    # question but one (the next may already have been on its way).
    before = srv.get_json("/api/stats")
    seen = updates(b)
    wait_updates(b, seen + 2)
    fig = figures(b)
    check(number(fig["requests"]) >= before["requests"],
          "the page shows %s requests, /api/stats said %d before" %
          (fig["requests"], before["requests"]))
    ok("requests shown (%s) >= /api/stats just before (%d)" %
       (fig["requests"], before["requests"]))
    check(number(fig["threads"]) == before["threads"],
          "threads: page %s, /api/stats %d" % (fig["threads"],
                                                before["threads"]))
    check(number(fig["procs"]) == before["processes"],
          "processes: page %s, /api/stats %d" % (fig["procs"],
                                                  before["processes"]))
    ok("threads (%s) and processes (%s) match /api/stats" %
       (fig["threads"], fig["procs"]))
    check(fig["cap"] == "of %d" % before["queue_capacity"],
          "queue capacity: page %r, /api/stats %d" %
          (fig["cap"], before["queue_capacity"]))
    check(before["queue_capacity"] == QUEUE, "/api/stats queue_capacity")
    check(0 <= number(fig["queue"]) <= QUEUE,
          "queue depth shown: %r" % fig["queue"])
    ok("queue depth shown (%s %s) with the capacity of --queue" %
       (fig["queue"], fig["cap"]))
    check(number(fig["conns"]) >= CLIENTS,
          "open connections shown %s, the load holds %d" %
          (fig["conns"], CLIENTS))
    ok("open connections (%s) count the load's %d" % (fig["conns"], CLIENTS))

    # The figures move with the load.
    first = number(fig["requests"])
    wait_updates(b, updates(b) + 2)
    fig = figures(b)
    check(number(fig["requests"]) > first,
          "requests shown did not grow: %s" % fig["requests"])
    check(number(fig["rps"]) > 0, "requests / s shown: %r" % fig["rps"])
    check(len(fig["line"]) > 0, "the chart has no line")
    check(fig["status"] == "live, updated every second",
          "status: %r" % fig["status"])
    ok("the figures move: %s requests, %s / s, a line in the chart" %
       (fig["requests"], fig["rps"]))


def check_without_js(b, url):
    b.call("Emulation.setScriptExecutionDisabled", value=True)
    b.open(url)
    state = b.evaluate("""(function () {
        function shown(sel) {
            var e = document.querySelector(sel);
            return e !== null && getComputedStyle(e).display !== 'none';
        }
        return { js: document.documentElement.classList.contains('js'),
                 nojs: shown('.nojs'), cards: shown('.cards'),
                 text: document.querySelector('.nojs').textContent,
                 h1: document.querySelector('h1').textContent };
    })()""")
    check(not state["js"], "no script ran, yet <html> is marked js")
    check(state["nojs"] and not state["cards"],
          "without JavaScript the page must explain, not show empty cards")
    check("need JavaScript" in state["text"] and "/api/model" in
          state["text"], "the no-JavaScript text: %r" % state["text"])
    ok("without JavaScript: %r and a pointer to /api/model and /api/stats" %
       state["h1"])
    b.screenshot(os.path.join(OUT, "live-nojs.png"))
    b.call("Emulation.setScriptExecutionDisabled", value=False)


def main():
    server = sys.argv[1] if len(sys.argv) > 1 else "bin/04_threadpool"
    model = os.path.basename(server)
    chromium = find_chromium()
    if chromium is None:
        print("chromium not found: live page test skipped")
        return 0
    os.makedirs(OUT, exist_ok=True)
    try:
        server_log = os.path.join(OUT, "server.log")
        with Server(server, "www", ["--threads", str(THREADS),
                                    "--queue", str(QUEUE)],
                    log_path=server_log) as srv, \
                Load(srv.port, pause=0.002) as load, \
                Browser(chromium,
                        log_path=os.path.join(OUT, "chromium.log")) as b:
            load.add(CLIENTS)
            url = "http://127.0.0.1:%d/" % srv.port
            b.open(url)
            check_live(b, srv, model)
            b.screenshot(os.path.join(OUT, "live.png"))
            ok("screenshot in %s/live.png" % OUT)
            check(load.ok() > 0, "the load got no 200 at all")
            check_without_js(b, url)
        # SIGTERM is a clean stop: 0, unless a sanitizer found something.
        check(srv.proc.returncode == 0, "the server exited with status %s "
              "(see %s)" % (srv.proc.returncode, server_log))
        ok("the server stopped cleanly")
    except TestFailure as e:
        print("not ok - %s" % e, flush=True)
        print("%d passed, 1 failed" % len(passed))
        return 1
    print("%d passed, 0 failed" % len(passed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
