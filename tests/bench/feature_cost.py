#!/usr/bin/env python3
"""
feature_cost.py - what a feature costs a request: the server's CPU time
per request with the feature and without it, under the same wrk load.

    python3 tests/bench/feature_cost.py FEATURE [SERVER]

FEATURE is one of:
  ratelimit  SERVER with --rate-limit 1000000 against without it, on
             FILE (default /small.html, 1 KiB).  Every request comes
             from 127.0.0.1, so it is one bucket that is never empty:
             what is measured is the check itself (and, in 03 and 04,
             its stripe's lock, which every thread then wants);
  gzip       one SERVER, wrk sending Accept-Encoding: gzip against
             identity, on FILE (default /index.html, which is compressed
             once, into the file cache, and then sent from memory).

SERVER defaults to bin/06_epoll_async and runs with --quiet, pinned to
CPU 0 (taskset -c 0); wrk -t1 -cCONNS -dDURATIONs runs on CPU 1.  The two
servers (or the two headers) alternate, ROUNDS rounds each, so a change
in the machine's load falls on both.  The CPU time is utime + stime of
the server's /proc/PID/stat (every thread, in clock ticks) read before
and after each run, divided by the requests wrk counted.  Prints the
date, the machine and its load, and a Markdown table of medians (and the
range over the rounds).  Environment: ROUNDS (5), DURATION (5), CONNS
(50), FILE.  Needs wrk and taskset on a machine with two CPUs.

Not a test: it never fails on a number, only when a tool is missing or a
run has errors (a response that is not 2xx or 3xx, as a 429 would be).
"""

import os
import re
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "lib"))
from servers import load, machine  # noqa: E402

TOP = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
ROUNDS = int(os.environ.get("ROUNDS", "5"))
DURATION = int(os.environ.get("DURATION", "5"))
CONNS = int(os.environ.get("CONNS", "50"))
TICK = os.sysconf("SC_CLK_TCK")

# name: (default file, [(label, server options, wrk header or None)])
FEATURES = {
    "ratelimit": ("/small.html", [
        ("without --rate-limit", [], None),
        ("--rate-limit 1000000", ["--rate-limit", "1000000"], None),
    ]),
    "gzip": ("/index.html", [
        ("Accept-Encoding: identity", [], "Accept-Encoding: identity"),
        ("Accept-Encoding: gzip", [], "Accept-Encoding: gzip"),
    ]),
}


class Server:
    """A server pinned to CPU 0 on an ephemeral port, stopped on exit."""

    def __init__(self, binary, options):
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0", binary, "--port", "0", "--quiet",
             "--root", os.path.join(TOP, "www")] + options,
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r":(\d+)\s*$", line)
        if m is None:
            self.stop()
            sys.exit("feature_cost: %s did not start: %r" % (binary, line))
        self.port = int(m.group(1))

    def cpu_s(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)


def wrk(port, path, header):
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c%d" % CONNS,
           "-d%ds" % DURATION]
    if header is not None:
        cmd += ["-H", header]
    out = subprocess.run(cmd + ["http://127.0.0.1:%d%s" % (port, path)],
                         capture_output=True, text=True).stdout
    m = re.search(r"(\d+) requests in", out)
    if m is None or re.search(r"Non-2xx|Socket errors", out):
        sys.exit("feature_cost: the wrk run had errors:\n" + out)
    return int(m.group(1))


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in FEATURES:
        sys.exit("usage: feature_cost.py %s [SERVER]"
                 % "|".join(FEATURES))
    path, variants = FEATURES[sys.argv[1]]
    path = os.environ.get("FILE", path)
    binary = sys.argv[2] if len(sys.argv) > 2 else \
        os.path.join(TOP, "bin", "06_epoll_async")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit("feature_cost: %s not found" % tool)
    load_before = load()
    servers = [Server(binary, opts) for _, opts, _ in variants]
    results = [[] for _ in variants]
    try:
        for r in range(ROUNDS):
            for i, (label, _, header) in enumerate(variants):
                srv = servers[i]
                before = srv.cpu_s()
                n = wrk(srv.port, path, header)
                used = srv.cpu_s() - before
                results[i].append((1e6 * used / n, n / DURATION))
                print("# round %d, %s: %d requests, %.2f s CPU"
                      % (r + 1, label, n, used), file=sys.stderr,
                      flush=True)
    finally:
        for srv in servers:
            srv.stop()
    print("Measured %s UTC on %s; load average %s before, %s after."
          % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()), machine(),
             load_before, load()))
    print("%s pinned to CPU 0, wrk -t1 -c%d -d%ds on CPU 1, %s, "
          "median of %d alternating rounds (range):"
          % (os.path.basename(binary), CONNS, DURATION, path, ROUNDS))
    print()
    print("| | server CPU us/request | req/s |")
    print("|---|---|---|")
    for (label, _, _), runs in zip(variants, results):
        us = [x[0] for x in runs]
        rps = [x[1] for x in runs]
        print("| %s | %.2f (%.2f-%.2f) | %.0f (%.0f-%.0f) |"
              % (label, statistics.median(us), min(us), max(us),
                 statistics.median(rps), min(rps), max(rps)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
