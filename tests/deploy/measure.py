#!/usr/bin/env python3
"""
measure.py - what nginx in front costs a request: the same server, direct
and through the shipped deploy/nginx.conf, under the same wrk load.

    python3 tests/deploy/measure.py [SERVER]        (make deploy-measure)

SERVER defaults to bin/06_epoll_async.  It runs with --access-log to a
file, as under the systemd unit; nginx logs too, as shipped.  Each round
runs `wrk -t1 -cCONNS -dDURATIONs --latency` (keep-alive) on FILE direct,
then through nginx; ROUNDS rounds, interleaved so that a change in the
machine's load hits both.  Prints a Markdown table of medians (and the
range over the rounds), with the date, the machine and its load, for
docs/deploy.md.  Environment: ROUNDS (3), DURATION (5), CONNS (50),
FILE (/small.html, 1 KiB).  Needs wrk and nginx (make deps-bench).

Not a test: it never fails on a number, only when a tool is missing or a
run has errors.
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from deploylib import NGINX, TOP, Nginx, Server, tempdir  # noqa: E402
from servers import load, machine  # noqa: E402

ROUNDS = int(os.environ.get("ROUNDS", "3"))
DURATION = int(os.environ.get("DURATION", "5"))
CONNS = int(os.environ.get("CONNS", "50"))
FILE = os.environ.get("FILE", "/small.html")


def to_ms(text):
    """wrk's "812.00us", "1.20ms", "2.01s" in milliseconds."""
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}
    return float(m.group(1)) * scale[m.group(2)]


def wrk(port):
    out = subprocess.run(
        ["wrk", "-t1", "-c%d" % CONNS, "-d%ds" % DURATION, "--latency",
         "http://127.0.0.1:%d%s" % (port, FILE)],
        capture_output=True, text=True, timeout=DURATION + 60).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = to_ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))
    p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    if bad or errs:
        sys.exit("measure: wrk saw errors:\n" + out)
    return rps, p50, p99


def row(name, runs):
    rps = [x[0] for x in runs]
    p50 = [x[1] for x in runs]
    p99 = [x[2] for x in runs]
    return ("| %s | %.0f (%.0f-%.0f) | %.2f (%.2f-%.2f) | %.2f (%.2f-%.2f) |"
            % (name, statistics.median(rps), min(rps), max(rps),
               statistics.median(p50), min(p50), max(p50),
               statistics.median(p99), min(p99), max(p99)))


def main():
    server = sys.argv[1] if len(sys.argv) > 1 else \
        os.path.join(TOP, "bin", "06_epoll_async")
    for tool, pkg in (("wrk", "wrk"), (NGINX, "nginx")):
        if shutil.which(tool) is None:
            sys.exit("measure: %s not found (apt-get install %s, or "
                     "make deps-bench)" % (tool, pkg))
    model = os.path.basename(server)
    version = subprocess.run([NGINX, "-v"], capture_output=True,
                             text=True).stderr.strip().split("/")[-1]
    d = tempdir("measure")
    load_before = load()
    direct, proxied = [], []
    with Server(server, os.path.join(TOP, "www"),
                ["--access-log", os.path.join(d, "server.log")]) as srv, \
            Nginx(tempdir("measure-nginx"),
                  ["127.0.0.1:%d" % srv.port]) as ngx:
        for i in range(ROUNDS):
            print("# round %d of %d" % (i + 1, ROUNDS), file=sys.stderr,
                  flush=True)
            direct.append(wrk(srv.port))
            proxied.append(wrk(ngx.port))
    load_after = load()

    print("Measured %s UTC on %s; load average %s before, %s after."
          % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()), machine(),
             load_before, load_after))
    print("%s, nginx %s (deploy/nginx.conf, one upstream), wrk -t1 -c%d "
          "-d%ds keep-alive on %s, median of %d rounds (range):"
          % (model, version, CONNS, DURATION, FILE, ROUNDS))
    print()
    print("| path | req/s | p50 ms | p99 ms |")
    print("|---|---|---|---|")
    print(row("direct", direct))
    print(row("through nginx", proxied))
    a = statistics.median(x[0] for x in direct)
    b = statistics.median(x[0] for x in proxied)
    print()
    print("nginx in front: %.0f%% of the direct rate; %.1f us more of the "
          "machine per request (1/%.0f - 1/%.0f)."
          % (100 * b / a, 1e6 / b - 1e6 / a, b, a))
    return 0


if __name__ == "__main__":
    sys.exit(main())
