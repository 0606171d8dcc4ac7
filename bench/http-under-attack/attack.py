#!/usr/bin/env python3
"""botwatch and node_exporter under the same HTTP attacks, one line per shape.

For each shape, each server is started fresh (same config for both: basic auth
with one bcrypt cost-10 user unless the shape says otherwise), the attack is
set up from 127.0.0.2 and other 127.0.0.x addresses, and a legitimate client
(127.0.0.1) asks every 100 ms for, in turn, /metrics (kept-alive, as
Prometheus does) and /-/healthy on a fresh connection (as a container health
check does); 2 s without an answer is a failure. Shapes:

  classic         200 idle keep-alive + 100 slowloris + 8 wrong-password loops
  noauth-idle     no web config: 48 connections from 2 addresses, each one
                  successful request, then silent (kept alive)
  slow-body       48 POSTs with Content-Length: 1000 sending 1 byte a second,
                  from 2 addresses
  tls-stall       TLS: 120 connections sending 5 bytes of a ClientHello, then
                  silent, from 4 addresses
  many-addresses  5000 idle TCP connections over 248 addresses (each reopened
                  1 s after it is closed), the server under the common 1024
                  fd hard limit
  internal-port   60 idle connections to every port the server listens on
                  besides its own (civetweb's relay had one; none now)

Every loop is bounded by the phase's duration (default 10 s per shape and
server; 5000 connections at most).

usage: attack.py BOTWATCH_BINARY [SECONDS] [SHAPE ...]
"""
import asyncio, base64, crypt, multiprocessing, os, random, resource, shutil, signal, socket, ssl, subprocess, sys, tempfile, time
import warnings

warnings.filterwarnings("ignore")
BOTWATCH = sys.argv[1] if len(sys.argv) > 1 else "build/botwatch"
SECONDS = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
SHAPES = sys.argv[3:] or ["classic", "noauth-idle", "slow-body", "tls-stall", "many-addresses", "internal-port"]
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


TLS = None  # an ssl.SSLContext for the legitimate client when the shape serves TLS
TLS_CA = None


async def open_conn(port, source, tls=False):
    ctx = TLS if tls else None
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0), ssl=ctx), 5)


CONNECTION_ERRORS = (OSError, asyncio.TimeoutError, ConnectionError)
RESPONSE_ERRORS = (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError, IndexError)


async def reconnecting(port, stop, source, attack, pause, errors=CONNECTION_ERRORS):
    """Runs `attack(r, w)` on a fresh connection from `source` until `stop`,
    closing it after and connecting again `pause` seconds later."""
    while not stop.is_set():
        try:
            r, w = await open_conn(port, source)
            await attack(r, w)
            w.close()
        except errors:
            pass
        await asyncio.sleep(pause)


async def hold_until_closed(r, stop):
    while not stop.is_set() and await r.read(4096):
        pass


async def idle_keepalive(port, stop):
    async def attack(r, w):
        w.write(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n")
        await w.drain()
        await hold_until_closed(r, stop)

    await reconnecting(port, stop, ATTACKER, attack, 1, (OSError, asyncio.TimeoutError))


async def slowloris(port, stop):
    async def attack(r, w):
        w.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        await w.drain()
        while not stop.is_set():
            await asyncio.sleep(2)
            w.write(b"X-Slow: %d\r\n" % random.randrange(1 << 30))
            await w.drain()
            if r.at_eof():
                break

    await reconnecting(port, stop, ATTACKER, attack, 1)


async def read_response(r):
    head = await r.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    if b"transfer-encoding: chunked" in head.lower():  # Go's servers (node_exporter) send /metrics so
        while True:
            size = int((await r.readuntil(b"\r\n")).split(b";")[0], 16)
            await r.readexactly(size + 2)
            if size == 0:
                break
    else:
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
        except RESPONSE_ERRORS:
            await asyncio.sleep(0.05)


async def legit(port, stop, results, auth=True):
    conn = None
    i = 0
    while not stop.is_set():
        i += 1
        t0 = time.monotonic()
        ok = False
        try:
            if i % 2:
                if conn is None:
                    conn = await asyncio.wait_for(open_conn(port, "127.0.0.1", TLS is not None), 2)
                r, w = conn
                creds = f"Authorization: {AUTH}\r\n" if auth else ""
                w.write(f"GET /metrics HTTP/1.1\r\nHost: x\r\n{creds}\r\n".encode())
                await w.drain()
                status, closing = await asyncio.wait_for(read_response(r), 2)
                if closing:
                    w.close()
                    conn = None
            else:
                r, w = await asyncio.wait_for(open_conn(port, "127.0.0.1", TLS is not None), 2)
                w.write(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                await w.drain()
                status, _ = await asyncio.wait_for(read_response(r), 2)
                w.close()
            ok = status == 200
        except RESPONSE_ERRORS + (ssl.SSLError,):
            if conn:
                conn[1].close()
            conn = None
        results.append((time.monotonic() - t0, ok, "metrics" if i % 2 else "healthy"))
        await asyncio.sleep(max(0, 0.1 - (time.monotonic() - t0)))


async def noauth_idle(port, stop, source):
    """One successful request, then silence on the kept-alive connection."""
    async def attack(r, w):
        w.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        await w.drain()
        await asyncio.wait_for(read_response(r), 5)
        await hold_until_closed(r, stop)

    await reconnecting(port, stop, source, attack, 0.5, RESPONSE_ERRORS)


async def slow_body(port, stop, source):
    async def attack(r, w):
        w.write(f"POST /api/v1/logs HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\n"
                "Content-Type: application/x-ndjson\r\nContent-Length: 1000\r\n\r\n".encode())
        await w.drain()
        while not stop.is_set() and not r.at_eof():
            await asyncio.sleep(1)
            w.write(b"x")
            await w.drain()

    await reconnecting(port, stop, source, attack, 0.5)


async def tls_stall(port, stop, source):
    async def attack(r, w):
        w.write(b"\x16\x03\x01\x02\x00")  # a ClientHello's record header, then nothing
        await w.drain()
        await hold_until_closed(r, stop)

    await reconnecting(port, stop, source, attack, 0.5)


async def idle_once(port, stop, source, opened):
    """A plain idle TCP connection, reopened 1 s after the server closes it."""
    async def attack(r, w):
        opened[0] += 1
        await hold_until_closed(r, stop)

    await reconnecting(port, stop, source, attack, 1)


def listening_ports(pid):
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            t = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if t.startswith("socket:["):
            inodes.add(t[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                p = line.split()
                if p[3] == "0A" and p[9] in inodes:
                    ports.add(int(p[1].rsplit(":", 1)[1], 16))
    return ports


async def run_attack(shape, port, pid):
    stop = asyncio.Event()
    counts, results, note = {}, [], ""
    auth = shape != "noauth-idle"
    if auth:
        # Warm up: the legitimate credentials are checked once before the attack.
        r, w = await open_conn(port, "127.0.0.1", TLS is not None)
        w.write(f"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: {AUTH}\r\nConnection: close\r\n\r\n".encode())
        await w.drain()
        await read_response(r)
        w.close()
    tasks = []
    if shape == "classic":
        tasks = [asyncio.create_task(idle_keepalive(port, stop)) for _ in range(200)]
        tasks += [asyncio.create_task(slowloris(port, stop)) for _ in range(100)]
        tasks += [asyncio.create_task(wrong_passwords(port, stop, counts)) for _ in range(8)]
    elif shape == "noauth-idle":
        tasks = [asyncio.create_task(noauth_idle(port, stop, f"127.0.0.{2 + i % 2}")) for i in range(48)]
    elif shape == "slow-body":
        tasks = [asyncio.create_task(slow_body(port, stop, f"127.0.0.{2 + i % 2}")) for i in range(48)]
    elif shape == "tls-stall":
        tasks = [asyncio.create_task(tls_stall(port, stop, f"127.0.0.{2 + i % 4}")) for i in range(120)]
    elif shape == "many-addresses":
        opened = [0]
        for i in range(5000):
            tasks.append(asyncio.create_task(idle_once(port, stop, f"127.0.{1 + i // 248 % 4}.{2 + i % 248}", opened)))
            if i % 500 == 499:
                await asyncio.sleep(0.05)
        note = "opened"
    elif shape == "internal-port":
        others = sorted(listening_ports(pid) - {port})
        note = f"other listening ports {others or 'none'}"
        for p in others:
            tasks += [asyncio.create_task(idle_once(p, stop, "127.0.0.1", [0])) for _ in range(60)]
    await asyncio.sleep(3)  # let the attack settle in
    c0, t0 = cpu_ticks(pid), time.monotonic()
    # The legitimate client runs in a process of its own, so the attacker's
    # event loop never delays it.
    mp = multiprocessing.get_context("spawn")
    queue = mp.Queue()
    child = mp.Process(target=legit_process, args=(port, auth, TLS_CA, queue))
    child.start()
    while child.is_alive() and time.monotonic() - t0 < SECONDS + 10:
        await asyncio.sleep(0.2)
    try:
        results = queue.get(timeout=10)
    except Exception:
        results = []
    child.join(5)
    cpu = (cpu_ticks(pid) - c0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)
    if note == "opened":
        note = f"attacker connections opened {opened[0]}"
    stop.set()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return results, counts, cpu, note


def legit_process(port, auth, ca_file, queue):
    global TLS
    TLS = ssl.create_default_context(cafile=ca_file) if ca_file else None

    async def run():
        stop, results = asyncio.Event(), []
        task = asyncio.create_task(legit(port, stop, results, auth))
        await asyncio.sleep(SECONDS)
        stop.set()
        await asyncio.wait_for(asyncio.gather(task, return_exceptions=True), 5)
        return results

    queue.put(asyncio.run(run()))


def summarize(shape, name, results, counts, cpu, note):
    if not results:
        print(f"{shape:15s} {name:14s} no legitimate request completed", flush=True)
        return 1e9, 1, cpu
    lat = sorted(d for d, ok, _ in results)
    fails = sum(1 for _, ok, _ in results if not ok)
    p50 = lat[len(lat) // 2] * 1000
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000
    per = {}
    for d, ok, kind in results:
        per.setdefault(kind, []).append(d)
    kinds = "  ".join(f"{k} p99 {sorted(v)[min(len(v)-1, int(len(v)*0.99))]*1000:.1f} ms" for k, v in sorted(per.items()))
    extra = f"  attacker answers {dict(sorted(counts.items()))}" if counts else ""
    print(f"{shape:15s} {name:14s} requests {len(results):4d}  failures {fails:3d}  p50 {p50:7.1f} ms  "
          f"p99 {p99:7.1f} ms  ({kinds})  cpu {cpu:.2f} core{extra}{'  ' + note if note else ''}", flush=True)
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


def make_cert(work):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{work}/key.pem",
                    "-out", f"{work}/cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)


def main():
    global TLS, TLS_CA
    # The many-addresses shape holds 5000 connections: take the hard fd limit.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = tempfile.mkdtemp(prefix="http-attack.")
    h = crypt.crypt(PASSWORD, crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=1024))
    make_cert(work)
    with open(f"{work}/web.yml", "w") as f:
        f.write(f"basic_auth_users:\n  prom: {h}\n")
    with open(f"{work}/tls.yml", "w") as f:
        f.write(f"tls_server_config:\n  cert_file: {work}/cert.pem\n  key_file: {work}/key.pem\n"
                f"basic_auth_users:\n  prom: {h}\n")
    with open(f"{work}/bw.yaml", "w") as f:
        f.write("collectors:\n  - {name: me, type: process, process_name: botwatch}\n"
                "logs:\n  - name: remote\n    type: http\n"
                "    rules: [{metric: remote_lines_total, type: counter, help: Lines., match: {field: message, exists: true}}]\n")
    ne = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    if not ne or os.environ.get("ATTACK_ONLY_BOTWATCH"):
        print("prometheus-node-exporter is not installed (packaging/install-deps.sh): botwatch only")
        ne = None
    print(f"{SECONDS:.0f} s per shape and server; legitimate client on 127.0.0.1, attackers on other 127.0.x.y")
    goal_met = True
    for shape in SHAPES:
        web = {"noauth-idle": None, "tls-stall": f"{work}/tls.yml"}.get(shape, f"{work}/web.yml")
        TLS_CA = f"{work}/cert.pem" if shape == "tls-stall" else None
        TLS = ssl.create_default_context(cafile=TLS_CA) if TLS_CA else None
        out = {}
        for name in ["botwatch"] + (["node_exporter"] if ne else []):
            port = free_port()
            webflag = [f"--web.config.file={web}"] if web else []
            if name == "botwatch":
                argv = [BOTWATCH, f"--config.file={work}/bw.yaml", f"--web.listen-address=127.0.0.1:{port}",
                        "--log.level=warn"] + webflag
            else:
                argv = [ne, f"--web.listen-address=127.0.0.1:{port}", "--log.level=warn"] + webflag
            if shape == "many-addresses":
                argv = ["prlimit", "--nofile=1024:1024"] + argv  # the common default hard limit
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(f"{work}/{name}-{shape}.log", "w"))
            try:
                wait_port(port, proc)
                out[name] = summarize(shape, name, *asyncio.run(run_attack(shape, port, proc.pid)))
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        if len(out) == 2:
            b, n = out["botwatch"], out["node_exporter"]
            print(f"{shape:15s} ratio botwatch/node_exporter: p99 {b[0] / max(n[0], 1e-9):.2f}x  "
                  f"cpu {b[2] / max(n[2], 1e-9):.2f}x  failures {b[1]} vs {n[1]}", flush=True)
        b = out["botwatch"]
        goal_met = goal_met and b[0] < 100 and b[1] == 0 and b[2] < 0.25
    print("goal for botwatch in every shape (p99 of each endpoint < 100 ms, 0 failures, cpu < 0.25 core):",
          "met" if goal_met else "NOT met")
    shutil.rmtree(work, ignore_errors=True)
    return 0 if goal_met else 1


if __name__ == "__main__":
    sys.exit(main())
