#!/usr/bin/env python3
"""Rotation chaos for `make reliability` (docs/RELIABILITY.md).

Writes LINES log lines (default 1 000 000), paced to fit in about
CHAOS_SECONDS (default 100), while rotating the log at random moments by
rename, copytruncate and delete+recreate, and killing botwatch with SIGKILL at
random moments (then restarting it after a random pause). At the end,
botwatch's counters must equal the lines written, exactly.

What "exactly" can promise, and so what the chaos does:
- rename: any moment, botwatch alive or dead. Renamed files stay inside the
  glob (app.log.N, never deleted), recognised by device+inode.
- copytruncate and delete+recreate destroy the lines botwatch has not read
  yet, by design of those rotations (the copy is outside the glob; a deleted
  file is gone once nobody holds it open). A logrotate that runs while the
  reader is down loses lines with any reader. So those two run only while
  botwatch is up, once it has read everything written and had time to save
  its state (3 state intervals); SIGKILL may still land right after them.

Prints one JSON object with the figures; exit status 1 if the counts differ.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

BINARY = sys.argv[1] if len(sys.argv) > 1 else "build/botwatch"
LINES = int(os.environ.get("CHAOS_LINES", "1000000"))
SECONDS = float(os.environ.get("CHAOS_SECONDS", "100"))
SEED = int(os.environ.get("CHAOS_SEED", str(int(time.time()))))
STATE_INTERVAL = 0.1

rng = random.Random(SEED)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port, timeout=2.0):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=timeout) as r:
        text = r.read().decode()
    values = {}
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    return values


class Daemon:
    def __init__(self, work):
        self.work = work
        self.port = free_port()
        self.proc = None
        self.starts = 0
        self.log = open(os.path.join(work, "botwatch.log"), "ab")

    def start(self):
        for _ in range(50):  # the port may linger briefly after a SIGKILL
            self.proc = subprocess.Popen(
                [BINARY, f"--config.file={self.work}/botwatch.yaml", f"--web.listen-address=127.0.0.1:{self.port}"],
                stdout=self.log, stderr=self.log)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    scrape(self.port, 0.5)
                    self.starts += 1
                    return
                except OSError:
                    time.sleep(0.02)
            if self.proc.poll() is None:
                raise SystemExit("botwatch did not answer within 10 s")
            time.sleep(0.1)
        raise SystemExit("botwatch could not start")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def lines(self):
        v = scrape(self.port)
        return v.get('botwatch_log_lines_total{source="app"}', 0), v.get("chaos_lines_total", 0)

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)


def main():
    work = tempfile.mkdtemp(prefix="botwatch-chaos.")
    logs = os.path.join(work, "logs")
    copies = os.path.join(work, "copies")
    os.makedirs(logs)
    os.makedirs(copies)
    os.makedirs(os.path.join(work, "state"))
    with open(os.path.join(work, "botwatch.yaml"), "w") as f:
        f.write(f"""state_dir: {work}/state
state_interval: {int(STATE_INTERVAL * 1000)}ms
logs:
  - name: app
    path: '{logs}/app.log*'
    start_at: beginning
    poll_interval: 50ms
    rules:
      - {{metric: chaos_lines_total, type: counter, match: {{field: message, equals: chaos}}}}
""")
    path = os.path.join(logs, "app.log")
    d = Daemon(work)
    d.start()

    written = 0
    renamed = 0
    rotations = {"rename": 0, "copytruncate": 0, "delete": 0}
    skipped = 0  # copytruncate/delete chosen while botwatch was down: done as rename instead
    kills = 0
    batch = 200
    interval = SECONDS / (LINES / batch)
    start = time.monotonic()
    next_rotation = start + rng.uniform(0.3, 3)
    next_kill = start + rng.uniform(1, 6)
    restart_at = None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def caught_up(timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines, _ = d.lines()
            if lines == written:
                return True
            time.sleep(0.01)
        return False

    while written < LINES:
        n = min(batch, LINES - written)
        os.write(fd, "".join('{"message":"chaos","seq":%d}\n' % (written + i) for i in range(n)).encode())
        written += n
        now = time.monotonic()
        if restart_at is not None and now >= restart_at:
            d.start()
            restart_at = None
        elif restart_at is None and now >= next_kill:
            d.kill()
            kills += 1
            restart_at = now + rng.uniform(0.05, 1.5)
            next_kill = now + rng.uniform(1, 8)
        if now >= next_rotation:
            kind = rng.choice(["rename", "copytruncate", "delete"])
            if kind != "rename" and not d.alive():
                kind = "rename"
                skipped += 1
            if kind == "rename":
                renamed += 1
                os.rename(path, f"{path}.{renamed}")
            else:
                if not caught_up():
                    raise SystemExit("botwatch did not catch up within 20 s before a %s" % kind)
                time.sleep(3 * STATE_INTERVAL)
                if kind == "copytruncate":
                    shutil.copyfile(path, os.path.join(copies, "app.log.%d" % rotations[kind]))
                    os.truncate(path, 0)
                else:
                    os.unlink(path)
            rotations[kind] += 1
            if kind != "copytruncate":
                os.close(fd)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            next_rotation = time.monotonic() + rng.uniform(0.3, 3)
        # Pace the writer to the planned rate.
        ahead = start + (written / batch) * interval - time.monotonic()
        if ahead > 0:
            time.sleep(ahead)
    os.close(fd)
    write_seconds = time.monotonic() - start
    if not d.alive():
        d.start()
    deadline = time.monotonic() + 60
    lines = counted = 0
    while time.monotonic() < deadline:
        lines, counted = d.lines()
        if lines >= written and counted >= written:
            break
        time.sleep(0.1)
    time.sleep(1)  # a late double count would show now
    lines, counted = d.lines()
    d.stop()
    result = {
        "seed": SEED, "lines_written": written, "lines_counted": int(counted), "lines_read": int(lines),
        "write_seconds": round(write_seconds, 1), "total_seconds": round(time.monotonic() - start, 1),
        "sigkills": kills, "starts": d.starts, "rotations": rotations,
        "copytruncate_or_delete_while_down_done_as_rename": skipped,
        "exact": int(counted) == written and int(lines) == written,
    }
    print(json.dumps(result))
    if result["exact"]:
        shutil.rmtree(work)
    else:
        print(f"work dir kept: {work}", file=sys.stderr)
    return 0 if result["exact"] else 1


if __name__ == "__main__":
    sys.exit(main())
