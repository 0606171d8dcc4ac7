#!/usr/bin/env python3
"""botwatch and node_exporter under the same HTTP attack, one after the other.

The attacker (source address 127.0.0.2) holds 200 idle keep-alive connections
(one GET /-/healthy, then silence; reopened 1 s after the server closes one),
100 slowloris connections (one header line every 2 s, never finishing) and 8
connections sending wrong passwords as fast as they are answered. Meanwhile a
legitimate client (127.0.0.1) asks every 100 ms for, in turn, /metrics with the
right password (kept-alive, as Prometheus does) and /-/healthy on a fresh
connection (as a container health check does); 2 s without an answer is a
failure. Both servers use basic auth with one bcrypt cost-10 user.
Every loop is bounded by the phase's duration (default 20 s).

usage: attack.py BOTWATCH_BINARY [SECONDS]
"""
import asyncio, base64, crypt, os, random, shutil, signal, socket, subprocess, sys, tempfile, time, warnings

warnings.filterwarnings("ignore")
BOTWATCH = sys.argv[1] if len(sys.argv) > 1 else "build/botwatch"
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 20.0
ATTACKER = "127.0.0.2"
PASSWORD = "s3cret-pw"
AUTH = "Basic " + base64.b64encode(f"prom:{PASSWORD}".encode()).decode()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


async def open_conn(port, source):
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), 5)


async def idle_keepalive(port, stop):
    while not stop.is_set():
        try:
            r, w = await open_conn(port, ATTACKER)
            w.write(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
            await w.drain()
            while not stop.is_set() and await r.read(4096):  # hold until the server closes
                pass
            w.close()
        except (OSError, asyncio.TimeoutError):
            pass
        await asyncio.sleep(1)


async def slowloris(port, stop):
    while not stop.is_set():
        try:
            r, w = await open_conn(port, ATTACKER)
            w.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
            await w.drain()
            while not stop.is_set():
                await asyncio.sleep(2)
                w.write(b"X-Slow: %d\r\n" % random.randrange(1 << 30))
                await w.drain()
                if r.at_eof():
                    break
            w.close()
        except (OSError, asyncio.TimeoutError, ConnectionError):
            pass
        await asyncio.sleep(1)


async def read_response(r):
    head = await r.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    await r.readexactly(length)
    return status, b"connection: close" in head.lower()


async def wrong_passwords(port, stop, counts):
    while not stop.is_set():
        try:
            r, w = await open_conn(port, ATTACKER)
            while not stop.is_set():
                cred = base64.b64encode(f"prom:guess{random.randrange(1 << 40)}".encode()).decode()
                w.write(f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {cred}\r\n\r\n".encode())
                await w.drain()
                status, closing = await asyncio.wait_for(read_response(r), 30)
                counts[status] = counts.get(status, 0) + 1
                if closing:
                    break
            w.close()
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            await asyncio.sleep(0.05)


async def legit(port, stop, results):
    conn = None
    i = 0
    while not stop.is_set():
        i += 1
        t0 = time.monotonic()
        ok = False
        try:
            if i % 2:
                if conn is None:
                    conn = await open_conn(port, "127.0.0.1")
                r, w = conn
                w.write(f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n\r\n".encode())
                await w.drain()
                status, closing = await asyncio.wait_for(read_response(r), 2)
                if closing:
                    w.close()
                    conn = None
            else:
                r, w = await asyncio.wait_for(open_conn(port, "127.0.0.1"), 2)
                w.write(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                await w.drain()
                status, _ = await asyncio.wait_for(read_response(r), 2)
                w.close()
            ok = status == 200
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError):
            if conn:
                conn[1].close()
            conn = None
        results.append((time.monotonic() - t0, ok, "metrics" if i % 2 else "healthy"))
        await asyncio.sleep(max(0, 0.1 - (time.monotonic() - t0)))


async def run_attack(port, pid):
    stop = asyncio.Event()
    counts, results = {}, []
    # Warm up: the legitimate credentials are checked once before the attack.
    r, w = await open_conn(port, "127.0.0.1")
    w.write(f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\nConnection: close\r\n\r\n".encode())
    await w.drain()
    await read_response(r)
    w.close()
    tasks = [asyncio.create_task(idle_keepalive(port, stop)) for _ in range(200)]
    tasks += [asyncio.create_task(slowloris(port, stop)) for _ in range(100)]
    tasks += [asyncio.create_task(wrong_passwords(port, stop, counts)) for _ in range(8)]
    await asyncio.sleep(3)  # let the attack settle in
    c0, t0 = cpu_ticks(pid), time.monotonic()
    lt = asyncio.create_task(legit(port, stop, results))
    await asyncio.sleep(SECONDS)
    cpu = (cpu_ticks(pid) - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)
    stop.set()
    for t in tasks + [lt]:
        t.cancel()
    await asyncio.gather(*tasks, lt, return_exceptions=True)
    return results, counts, cpu


def summarize(name, results, counts, cpu):
    lat = sorted(d for d, ok, _ in results)
    fails = sum(1 for _, ok, _ in results if not ok)
    p50 = lat[len(lat) // 2] * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    per = {}
    for d, ok, kind in results:
        per.setdefault(kind, []).append(d)
    kinds = "  ".join(f"{k} p99 {sorted(v)[min(len(v)-1, int(len(v)*0.99))]*1000:.1f} ms" for k, v in sorted(per.items()))
    print(f"{name:14s} requests {len(results):4d}  failures {fails:3d}  p50 {p50:7.1f} ms  p99 {p99:7.1f} ms  "
          f"({kinds})  cpu {cpu:.2f} core  attacker answers {dict(sorted(counts.items()))}")
    worst = max(sorted(v)[min(len(v) - 1, int(len(v) * 0.99))] for v in per.values()) * 1000
    return max(p99, worst), fails, cpu


def wait_port(port, proc, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"port {port} never opened")


def main():
    work = tempfile.mkdtemp(prefix="http-attack.")
    h = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024))
    with open(f"{work}/web.yml", "w") as f:
        f.write(f"basic_auth_users:\n  prom: {h}\n")
    with open(f"{work}/bw.yaml", "w") as f:
        f.write("collectors:\n  - {name: me, type: process, process_name: botwatch}\n")
    servers = []
    port = free_port()
    servers.append(("botwatch", port, [BOTWATCH, f"--config.file={work}/bw.yaml", f"--web.config.file={work}/web.yml",
                                        f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]))
    ne = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if ne and not os.environ.get("ATTACK_ONLY_BOTWATCH"):
        port = free_port()
        servers.append(("node_exporter", port, [ne, f"--web.config.file={work}/web.yml",
                                                 f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"]))
    else:
        print("prometheus-node-exporter is not installed (packaging/install-deps.sh): botwatch only")
    out = {}
    for name, port, argv in servers:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(f"{work}/{name}.log", "w"))
        try:
            wait_port(port, proc)
            out[name] = summarize(name, *asyncio.run(run_attack(port, proc.pid)))
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    if len(out) == 2:
        b, n = out["botwatch"], out["node_exporter"]
        print(f"ratio botwatch/node_exporter: p99 {b[0] / max(n[0], 1e-9):.2f}x  cpu {b[2] / max(n[2], 1e-9):.2f}x  "
              f"failures {b[1]} vs {n[1]}")
    b = out["botwatch"]
    goal = b[0] < 100 and b[1] == 0 and b[2] < 0.25
    print("goal (p99 of each endpoint < 100 ms, 0 failures, cpu < 0.25 core):", "met" if goal else "NOT met")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if goal else 1


if __name__ == "__main__":
    sys.exit(main())
