#!/usr/bin/env python3
"""
unit_test.py - the systemd unit, deploy/install.sh and the logrotate file.

    python3 tests/deploy/unit_test.py [BIN_DIR]

What it checks:
  - deploy/install.sh with DESTDIR puts every file where the unit, the
    docs and logrotate expect it (BIN_DIR's servers, default bin);
  - the unit has the lines docs/deploy.md promises (sandbox, stop, reload,
    logs), and TimeoutStopSec is above the servers' grace (SERVER_GRACE_MS
    in common/server.h);
  - the unit's ExecStart is a command line the servers accept: run as
    written (paths moved into the staging directory), the server starts,
    answers and writes its access log, and SIGTERM stops it with status 0;
  - `systemd-analyze verify` passes for every model's instance, and
    `systemd-analyze security --offline=true` rates the sandbox's exposure
    at most 2.0 ("OK").  systemd-analyze checks that ExecStart's program
    exists, so it reads a copy of the unit whose ExecStart points into the
    staging directory: the only change to the unit.  Skipped, with a
    message, without systemd-analyze (Debian package systemd);
  - logrotate accepts deploy/logrotate.conf (skipped without logrotate),
    and when the servers reopen their log on SIGHUP (their --help says so)
    a real rotation, with `kill -HUP` for the postrotate command: the old
    lines stay in MODEL.log.1, the new ones go to a new MODEL.log.

Exit status 1 when a check fails.  A few seconds.
"""

import glob
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from deploylib import (TOP, Client, Report, Server, check,  # noqa: E402
                       tempdir, wait_until)

UNIT = os.path.join(TOP, "deploy", "concurrency-server@.service")
LOGROTATE = os.path.join(TOP, "deploy", "logrotate.conf")
LIB = "/usr/local/lib/concurrency-server"
SHARE = "/usr/local/share/concurrency-server"
LOG_DIR = "/var/log/concurrency-server"
MODEL = "06_epoll_async"

# What the unit must say (docs/deploy.md explains each).
REQUIRED = [
    "DynamicUser=yes", "ProtectSystem=strict", "ProtectHome=yes",
    "PrivateTmp=yes", "NoNewPrivileges=yes", "CapabilityBoundingSet=",
    "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
    "LimitNOFILE=65536", "KillSignal=SIGTERM", "Restart=on-failure",
    "LogsDirectory=concurrency-server",
    "ExecReload=/bin/kill -HUP $MAINPID",
]


def unit_lines(text):
    """The unit's settings, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", text)
    return [line.strip() for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def install(r, bin_dir):
    stage = tempdir("stage")
    env = dict(os.environ, DESTDIR=stage, BIN_DIR=os.path.abspath(bin_dir))
    p = subprocess.run(["sh", os.path.join(TOP, "deploy", "install.sh")],
                       env=env, capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "install.sh: %s" % p.stderr.strip())
    models = sorted(os.path.basename(f) for f in
                    glob.glob(os.path.join(bin_dir, "[0-9][0-9]_*")))
    want = [LIB + "/" + m for m in models] + [
        SHARE + "/www/index.html", SHARE + "/nginx.conf",
        SHARE + "/docs/deploy.md",
        "/etc/systemd/system/concurrency-server@.service",
        "/etc/logrotate.d/concurrency-server"]
    for path in want:
        check(os.path.isfile(stage + path), "install.sh left out " + path)
    for m in models:
        check(os.access(stage + LIB + "/" + m, os.X_OK),
              "%s/%s is not executable" % (LIB, m))
    check(os.path.isdir(stage + "/etc/concurrency-server"),
          "no /etc/concurrency-server/")
    r.ok("install.sh (DESTDIR): %d servers, the site, the unit, logrotate, "
         "nginx.conf and the docs where they belong" % len(models))
    return stage, models


def lines_of_unit(r):
    with open(UNIT) as f:
        lines = unit_lines(f.read())
    for want in REQUIRED:
        check(want in lines, "the unit lacks %r" % want)
    with open(os.path.join(TOP, "common", "server.h")) as f:
        grace_ms = int(re.search(r"#define SERVER_GRACE_MS (\d+)",
                                 f.read()).group(1))
    stop = [line for line in lines if line.startswith("TimeoutStopSec=")]
    check(len(stop) == 1, "no TimeoutStopSec=")
    m = re.fullmatch(r"TimeoutStopSec=(\d+)s?", stop[0])
    check(m and int(m.group(1)) * 1000 > grace_ms,
          "%s is not above the servers' grace (%d ms)" % (stop[0], grace_ms))
    r.ok("the unit has the sandbox, stop, reload and log lines; %s > "
         "SERVER_GRACE_MS %d" % (stop[0], grace_ms))


def exec_start(stage, model, port, log):
    """The unit's ExecStart as argv, as systemd would run it, but staged."""
    with open(UNIT) as f:
        lines = unit_lines(f.read())
    line = [x for x in lines if x.startswith("ExecStart=")][0]
    env = {"HOST": "127.0.0.1", "PORT": str(port), "ARGS": ""}
    argv = []
    for word in line[len("ExecStart="):].split():
        word = word.replace("%i", model)
        word = word.replace(LIB, stage + LIB).replace(SHARE, stage + SHARE)
        word = word.replace(LOG_DIR, os.path.dirname(log))
        if word.startswith("$") and not word.startswith("${"):
            argv += env[word[1:]].split()  # $ARGS: split into words
            continue
        argv.append(re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], word))
    return argv


def run_exec_start(r, stage):
    logs = tempdir("exec-logs")
    log = os.path.join(logs, MODEL + ".log")
    argv = exec_start(stage, MODEL, 0, log)
    check("--access-log" in argv, "ExecStart writes no access log")
    check("--trust-proxy" in argv, "ExecStart trusts no proxy")
    # Server() adds --port 0 --host --root; the unit's own come later and
    # win, so this runs what the unit says.
    with Server(argv[0], os.path.join(TOP, "www"), argv[1:]) as srv:
        with Client(srv.port) as c:
            status, _, _ = c.request("/small.html")
        check(status == 200, "the unit's server answered %d" % status)
        wait_until("a line in the access log", 5, 0.05,
                   lambda: os.path.exists(log) and os.path.getsize(log) > 0)
        srv.stop()
        check(srv.proc.returncode == 0,
              "SIGTERM: exit status %s" % srv.proc.returncode)
    r.ok("ExecStart as written: %s starts, answers, logs to %s/%s.log, "
         "and stops with 0 on SIGTERM" % (MODEL, LOG_DIR, MODEL))


def systemd_analyze(r, stage, models):
    tool = shutil.which("systemd-analyze")
    if tool is None:
        r.skip("systemd-analyze not found (Debian package systemd; "
               "sh tests/deps.sh test installs it): unit not verified")
        return
    units = tempdir("units")
    with open(UNIT) as f:
        text = f.read()
    # The one change: ExecStart's program, which verify wants to exist.
    with open(os.path.join(units, os.path.basename(UNIT)), "w") as f:
        f.write(text.replace(LIB + "/", stage + LIB + "/"))
    for m in models:
        name = "concurrency-server@%s.service" % m
        p = subprocess.run([tool, "verify", os.path.join(units, name)],
                           capture_output=True, text=True, timeout=60)
        # Warnings about our file (unknown keys, bad values) count too.
        ours = [line for line in (p.stdout + p.stderr).splitlines()
                if "concurrency-server" in line]
        check(p.returncode == 0 and not ours,
              "systemd-analyze verify %s: %s" % (name, " ".join(ours)))
    r.ok("systemd-analyze verify: no error, no warning, for %d instances"
         % len(models))
    name = "concurrency-server@%s.service" % MODEL
    p = subprocess.run([tool, "security", "--offline=true", "--threshold=20",
                        os.path.join(units, name)],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)",
                  p.stdout + p.stderr)
    check(m, "systemd-analyze security said: %s" % p.stderr.strip())
    check(p.returncode == 0, "exposure %s %s, above 2.0" % m.groups())
    r.ok("systemd-analyze security --offline: exposure %s %s" % m.groups())


def rotation(r, bin_dir):
    tool = shutil.which("logrotate") or "/usr/sbin/logrotate"
    if not os.access(tool, os.X_OK):
        r.skip("logrotate not found (Debian package logrotate): "
               "deploy/logrotate.conf not checked")
        return
    work = tempdir("logrotate")
    with open(LOGROTATE) as f:
        text = f.read().replace(LOG_DIR, work)
    conf = os.path.join(work, "rotate.conf")
    with open(conf, "w") as f:
        f.write(text)
    state = os.path.join(work, "state")
    p = subprocess.run([tool, "-d", "-s", state, conf],
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and "error" not in p.stderr.lower(),
          "logrotate -d: %s" % p.stderr.strip())
    r.ok("logrotate -d accepts deploy/logrotate.conf")

    binary = os.path.join(bin_dir, MODEL)
    helptext = subprocess.run([binary, "--help"], capture_output=True,
                              text=True, timeout=10).stdout
    if "HUP" not in helptext:
        r.skip("the servers do not reopen their log on SIGHUP yet (their "
               "--help says nothing of it): rotation not run")
        return
    log = os.path.join(work, MODEL + ".log")
    with Server(binary, os.path.join(TOP, "www"),
                ["--access-log", log]) as srv:
        with Client(srv.port) as c:
            c.request("/small.html?before")
            wait_until("the first line", 5, 0.05,
                       lambda: os.path.getsize(log) > 0)
            # The postrotate command, for this one server.
            with open(conf, "w") as f:
                f.write(re.sub(r"postrotate\n.*?\n(\s*)endscript",
                               r"postrotate\n\1kill -HUP %d\n\1endscript"
                               % srv.proc.pid, text, flags=re.S))
            p = subprocess.run([tool, "-f", "-s", state, conf],
                               capture_output=True, text=True, timeout=60)
            check(p.returncode == 0, "logrotate -f: %s" % p.stderr.strip())
            check(srv.proc.poll() is None, "SIGHUP stopped the server")
            c.request("/small.html?after")

        def reopened():
            try:
                with open(log) as f:
                    return "?after" in f.read()
            except FileNotFoundError:
                return False
        wait_until("a new %s.log with the next request" % MODEL, 5, 0.05,
                   reopened)
        with open(log + ".1") as f:
            old = f.read()
        check("?before" in old and "?after" not in old,
              "%s.log.1 holds %r" % (MODEL, old))
    r.ok("logrotate -f, then SIGHUP: old lines in %s.log.1, new ones in a "
         "new %s.log" % (MODEL, MODEL))


def main():
    bin_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(TOP, "bin")
    r = Report()
    stage = None
    try:
        stage, models = install(r, bin_dir)
    except Exception as e:  # noqa: BLE001 - one line, not a traceback
        r.fail("install.sh: %s" % e)
    r.run("unit lines", lines_of_unit)
    if stage is not None:
        r.run("ExecStart", run_exec_start, stage)
        r.run("systemd-analyze", systemd_analyze, stage, models)
    r.run("logrotate", rotation, bin_dir)
    return r.close()


if __name__ == "__main__":
    sys.exit(main())
