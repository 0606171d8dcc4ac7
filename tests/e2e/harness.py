"""What both end-to-end runs (e2e_test.py, app_platform_e2e_test.py) share: the
run's deadline and teardown, the Redis filled with BullMQ jobs, the textfile
of a backup check, and main()."""

import argparse
import os
import sys
import time

from peers import Failure, Process, Workdir, eventually, free_port, log, run

REDIS_PASSWORD = "e2e-redis-secret"


def check(condition, what):
    if not condition:
        raise Failure(f"check failed: {what}")


class Run:
    """One end-to-end run: its work dir, the processes and servers it started
    (stopped in reverse by teardown), and a deadline for the whole run."""

    def __init__(self, botwatch, workdir_prefix, name, deadline):
        self.botwatch_bin = botwatch
        self.w = Workdir(workdir_prefix)
        self.name = name
        self.deadline = deadline
        self.procs, self.servers = [], []
        self.pg = None
        self.start = time.monotonic()

    def remaining(self):
        left = self.deadline - (time.monotonic() - self.start)
        if left <= 0:
            raise Failure(f"the {self.name} run exceeded its {self.deadline}s bound")
        return left

    def stop_process(self, p):
        p.stop()

    def teardown(self):
        for p in reversed(self.procs):
            self.stop_process(p)
        for s in self.servers:
            s.shutdown()
            s.server_close()
        if self.pg:
            self.pg.stop()
        if os.environ.get("BOTWATCH_E2E_KEEP"):
            log(f"kept {self.w.path}")
        else:
            self.w.remove()


def start_redis_with_jobs(r, bullmq_peer):
    """Redis with a maxmemory (the memory panel's line), filled by BullMQ's own
    API (tests/peers/bullmq/jobs.js in `bullmq_peer`); its port."""
    t = time.monotonic()
    port = free_port()
    r.procs.append(Process("redis", [
        "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--maxmemory", "64mb", "--maxmemory-policy", "noeviction", "--requirepass", REDIS_PASSWORD], r.w.path))
    eventually(lambda: run(["node", os.path.join(bullmq_peer, "jobs.js"), str(port), REDIS_PASSWORD],
                           timeout=60, check=False)[0] == 0, 30, step=0.2, what="BullMQ jobs in Redis")
    log(f"redis up on :{port} with BullMQ jobs ({time.monotonic() - t:.1f}s)")
    return port


def write_backup_textfile(w):
    """A textfile directory holding a backup check's last success; its path."""
    directory = os.path.join(w.path, "textfile")
    os.makedirs(directory)
    w.file("textfile/backup.prom", "# HELP backup_last_success_timestamp_seconds Last good backup.\n"
           "# TYPE backup_last_success_timestamp_seconds gauge\n"
           f"backup_last_success_timestamp_seconds {int(time.time())}\n")
    return directory


def main(make_run, steps, botwatch_log_tail):
    """Runs `steps` (method names) of make_run(botwatch binary) in order; on a
    Failure prints it and botwatch_log_tail(run), and exits 1."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--botwatch", required=True)
    args = parser.parse_args()
    r = make_run(os.path.abspath(args.botwatch))
    try:
        for step in steps:
            getattr(r, step)()
    except Failure as e:
        print(f"FAIL: {e}", file=sys.stderr)
        tail = botwatch_log_tail(r)
        if tail:
            print("botwatch log (tail):\n" + tail, file=sys.stderr)
        return 1
    finally:
        r.teardown()
    log(f"PASS {r.name} in {time.monotonic() - r.start:.1f}s")
    return 0
