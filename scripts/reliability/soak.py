#!/usr/bin/env python3
"""Load and soak for `make reliability` (docs/RELIABILITY.md).

For SOAK_MINUTES (default 10): wrk scrapes /metrics at SOAK_SCRAPES_PER_S
(default 50), a writer appends SOAK_LINES_PER_S log lines (default 20 000,
rotated by rename every 500 000 lines), and every collector type probes a
loopback peer at 1 s intervals: http, tcp, process, facebook, gemini and
socketio against stand-ins served by this script, postgres (with a custom
query) against a real PostgreSQL started here (tests/e2e/peers.py), and exec
running a small check script that prints Prometheus text. RSS and open fds
of botwatch are sampled every 10 s.

Passes when: no scrape failed, RSS grew less than 5 % after the warm-up
(SOAK_WARMUP_SECONDS, default 60: max of later samples vs the first sample
after it), the fd count did not grow, every line written was counted, and
every collector was up at the end. Prints one JSON object with the figures.
"""

import atexit
import http.server
import json
import os
import re
import shutil
import signal
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "e2e"))
from peers import Postgres  # noqa: E402  (a throwaway cluster on 127.0.0.1, as in the e2e test)

BINARY = sys.argv[1] if len(sys.argv) > 1 else "build/botwatch"
MINUTES = float(os.environ.get("SOAK_MINUTES", "10"))
SCRAPES = float(os.environ.get("SOAK_SCRAPES_PER_S", "50"))
LINES = int(os.environ.get("SOAK_LINES_PER_S", "20000"))
WARMUP = float(os.environ.get("SOAK_WARMUP_SECONDS", "60"))
SAMPLE_EVERY = 10.0

MODEL = ('{"name":"models/gemini-2.0-flash","version":"2.0","displayName":"Gemini 2.0 Flash",'
         '"inputTokenLimit":1048576,"outputTokenLimit":8192,"supportedGenerationMethods":["generateContent"]}')
DEBUG_TOKEN = ('{"data":{"app_id":"4242","type":"PAGE","application":"Bot App","expires_at":0,"is_valid":true,'
               '"issued_at":1700000000,"profile_id":"1234567890","scopes":["pages_messaging"],"user_id":"99"}}')
SUBSCRIBED = '{"data":[{"name":"Bot App","id":"4242","subscribed_fields":["messages","messaging_postbacks"]}]}'
OPEN = '0{"sid":"soak","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}'


class Peer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, body, ctype="application/json"):
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.startswith("/socket.io/"):
            self.answer(OPEN, "text/plain; charset=UTF-8")
        elif path == "/v21.0/debug_token":
            self.answer(DEBUG_TOKEN)
        elif path == "/v21.0/me":
            self.answer('{"id":"1234567890"}')
        elif path.endswith("/subscribed_apps"):
            self.answer(SUBSCRIBED)
        elif path.startswith("/v1beta/models/"):
            self.answer(MODEL)
        else:
            self.answer("ok", "text/plain")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.answer("ok", "text/plain; charset=UTF-8")


class ThreadedServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        return r.read().decode()


def value(text, series):
    m = re.search("^" + re.escape(series) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def proc_figures(pid):
    rss = None
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
    return rss, len(os.listdir(f"/proc/{pid}/fd"))


def main():
    work = tempfile.mkdtemp(prefix="botwatch-soak.")
    peer = ThreadedServer(("127.0.0.1", 0), Peer)
    threading.Thread(target=peer.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{peer.server_address[1]}"
    os.chmod(work, 0o755)  # the cluster runs as the postgres user when we are root
    pg = Postgres(work)
    pg.start()
    atexit.register(pg.stop)  # also when a step below fails
    check = os.path.join(work, "check.sh")
    with open(check, "w") as f:
        f.write("#!/bin/sh\necho '# TYPE soak_check_ok gauge'\necho 'soak_check_ok{target=\"db\"} 1'\n")
    os.chmod(check, 0o755)
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    port = free_port()
    common = "interval: 1s, timeout: 800ms"
    with open(os.path.join(work, "botwatch.yaml"), "w") as f:
        f.write(f"""collectors:
  - {{name: me, type: process, {common}, process_name: botwatch}}
  - {{name: web, type: http, {common}, url: '{base}/health'}}
  - {{name: port, type: tcp, {common}, address: '127.0.0.1:{peer.server_address[1]}'}}
  - {{name: fb, type: facebook, {common}, base_url: '{base}', page_token: EAAG-soak-page-token, app_id: '4242', app_secret: soak-app-secret}}
  - {{name: ai, type: gemini, {common}, base_url: '{base}', api_key: AIza-soak-key, model: gemini-2.0-flash}}
  - {{name: admin, type: socketio, {common}, url: '{base}', connect: false}}
  - name: db
    type: postgres
    interval: 1s
    timeout: 800ms
    dsn: '{pg.dsn()}'
    queries:
      - {{name: tables, sql: 'SELECT count(*) AS n FROM pg_class', metrics: [{{column: n, help: Relations.}}]}}
  - {{name: check, type: exec, {common}, command: '{check}', output: prometheus}}
logs:
  - name: app
    path: '{logs}/app.log'
    start_at: beginning
    identifiers: [user]
    rules:
      - {{metric: soak_lines_total, type: counter, label_fields: {{level: level}}}}
      - {{metric: soak_ms, type: histogram, value_field: ms, scale: 0.001, buckets: [0.1, 0.5, 1]}}
      - {{metric: soak_users, type: distinct, value_field: user, windows: [30m]}}
""")
    log = open(os.path.join(work, "botwatch.log"), "ab")
    bw = subprocess.Popen([BINARY, f"--config.file={work}/botwatch.yaml", f"--web.listen-address=127.0.0.1:{port}"],
                          stdout=log, stderr=log)
    deadline = time.monotonic() + 10
    while True:
        try:
            scrape(port)
            break
        except OSError:
            if time.monotonic() > deadline or bw.poll() is not None:
                raise SystemExit("botwatch did not start")
            time.sleep(0.05)

    duration = MINUTES * 60
    stop = threading.Event()
    written = [0]

    def writer():
        levels = ["info", "info", "info", "warn", "error"]
        blocks = []
        for b in range(50):
            blocks.append("".join(
                '{"level":"%s","message":"message processed","user":"u%d","ms":%d}\n'
                % (levels[i % 5], b * 200 + i, (i * 37) % 1500) for i in range(200)).encode())
        path = os.path.join(logs, "app.log")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        batch = 200
        start = time.monotonic()
        since_rotation = 0
        b = 0
        while not stop.is_set():
            os.write(fd, blocks[b % 50])
            b += 1
            written[0] += batch
            since_rotation += batch
            if since_rotation >= 500000:  # rename; the previous rotated file is deleted
                os.close(fd)
                if os.path.exists(path + ".1"):
                    os.unlink(path + ".1")
                os.rename(path, path + ".1")
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                since_rotation = 0
            ahead = start + written[0] / LINES - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        os.close(fd)

    samples = []

    def sampler():
        t0 = time.monotonic()
        while not stop.is_set():
            rss, fds = proc_figures(bw.pid)
            samples.append({"t": round(time.monotonic() - t0), "rss_kib": rss, "fds": fds})
            stop.wait(SAMPLE_EVERY)

    threads = [threading.Thread(target=writer), threading.Thread(target=sampler)]
    for t in threads:
        t.start()
    # wrk has no rate option: each connection waits delay() ms between requests.
    # The delay comes on top of each request's own time and wrk's timer
    # granularity, hence the small correction; more connections pace worse (measured).
    connections = 2
    lua = os.path.join(work, "pace.lua")
    with open(lua, "w") as f:
        f.write("function delay()\n  return %d\nend\n" % max(1, int(1000 * connections / SCRAPES) - 2))
    wrk = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{int(duration)}s", "--latency", "--timeout", "5s",
                          "-s", lua, f"http://127.0.0.1:{port}/metrics"], capture_output=True, text=True,
                         timeout=duration + 120)
    stop.set()
    for t in threads:
        t.join()
    rss, fds = proc_figures(bw.pid)
    samples.append({"t": round(duration), "rss_kib": rss, "fds": fds})

    out = wrk.stdout
    made = int(re.search(r"(\d+) requests in", out).group(1))
    failed = 0
    for pattern in (r"Non-2xx or 3xx responses: (\d+)", r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)"):
        m = re.search(pattern, out)
        if m:
            failed += sum(int(g) for g in m.groups())

    def ms(label):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\s*$" % label, out, re.M)
        if not m:
            return None
        return round(float(m.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[m.group(2)], 3)

    # Counted: wait for the pipeline to drain what the writer wrote last.
    deadline = time.monotonic() + 60
    counted = 0
    while time.monotonic() < deadline:
        text = scrape(port)
        counted = value(text, 'botwatch_log_lines_total{source="app"}') or 0
        if counted >= written[0]:
            break
        time.sleep(0.2)
    text = scrape(port)
    up = {c: value(text, 'botwatch_collector_up{collector="%s",type="%s"}' % (c, t))
          for c, t in [("me", "process"), ("web", "http"), ("port", "tcp"), ("fb", "facebook"),
                       ("ai", "gemini"), ("admin", "socketio"), ("db", "postgres"), ("check", "exec")]}
    errors = sum(float(v) for v in re.findall(r"^botwatch_collector_errors_total\{[^}]*\} (\S+)$", text, re.M))
    bw.send_signal(signal.SIGTERM)
    exit_code = bw.wait(10)
    peer.shutdown()
    pg.stop()  # before its directory may be removed below

    after = [s for s in samples if s["t"] >= WARMUP]
    base_rss = after[0]["rss_kib"] if after else samples[0]["rss_kib"]
    base_fds = after[0]["fds"] if after else samples[0]["fds"]
    growth = (max(s["rss_kib"] for s in after) - base_rss) / base_rss if after else 0.0
    result = {
        "minutes": MINUTES, "scrapes_per_s_target": SCRAPES, "lines_per_s_target": LINES,
        "scrapes_made": made, "scrapes_failed": failed, "scrapes_per_s": round(made / duration, 1),
        "scrape_ms_p50": ms("50"), "scrape_ms_p90": ms("90"), "scrape_ms_p99": ms("99"),
        "lines_written": written[0], "lines_counted": int(counted),
        "rss_kib_min": min(s["rss_kib"] for s in samples), "rss_kib_max": max(s["rss_kib"] for s in samples),
        "rss_kib_after_warmup": base_rss, "rss_growth_after_warmup_pct": round(100 * growth, 2),
        "fds_min": min(s["fds"] for s in samples), "fds_max": max(s["fds"] for s in samples),
        "fds_after_warmup": base_fds, "fds_end": samples[-1]["fds"],
        "collectors_up_at_end": up, "collector_errors_total": errors, "exit_code": exit_code,
        "samples": samples,
    }
    result["pass"] = (failed == 0 and made > 0 and growth < 0.05 and samples[-1]["fds"] <= base_fds
                      and int(counted) == written[0] and all(v == 1 for v in up.values()) and exit_code == 0)
    print(json.dumps(result))
    if result["pass"]:
        shutil.rmtree(work)
    else:
        print(wrk.stdout, file=sys.stderr)
        print(f"work dir kept: {work}", file=sys.stderr)
    return 0 if result["pass"] else 1


if __name__ == "__main__":
    sys.exit(main())
