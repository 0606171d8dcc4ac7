"""Shared helpers for the monitoring tests (python3 stdlib only).

Starts the real programs (Prometheus, Alertmanager, PostgreSQL) on 127.0.0.1
with ephemeral ports and tears them down again; every wait is bounded.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


class Failure(Exception):
    """A check failed; the message says what and why."""


def log(msg):
    print(msg, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5.0):
    """(status, body) of a GET; status 0 when the connection fails."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


def eventually(predicate, timeout, step=0.05, what="condition"):
    """Polls `predicate` until it returns a truthy value; bounded by `timeout` seconds."""
    end = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= end:
            raise Failure(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(step)


class Workdir:
    """A temporary directory (0755 so the postgres user can enter it)."""

    def __init__(self, prefix):
        self.path = tempfile.mkdtemp(prefix=prefix)
        os.chmod(self.path, 0o755)

    def file(self, name, text, mode=0o644):
        path = os.path.join(self.path, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def remove(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Process:
    """A child process with its output in a log file; stopped with TERM, then KILL."""

    def __init__(self, name, argv, workdir, env=None):
        self.name = name
        self.log_path = os.path.join(workdir, f"{name}.log")
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=env, start_new_session=True)

    def alive(self):
        return self.proc.poll() is None

    def output(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, timeout=5.0):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()


class Prometheus(Process):
    def __init__(self, workdir, config_text, extra_args=()):
        self.port = free_port()
        config = os.path.join(workdir, "prometheus.yml")
        with open(config, "w", encoding="utf-8") as f:
            f.write(config_text)
        super().__init__("prometheus", [
            "prometheus", f"--config.file={config}", f"--storage.tsdb.path={workdir}/prom-data",
            f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn", *extra_args], workdir)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout=20):
        eventually(lambda: self.alive() and http_get(self.url + "/-/ready")[0] == 200 or self._check_alive(),
                   timeout, what="Prometheus /-/ready")

    def _check_alive(self):
        if not self.alive():
            raise Failure("prometheus exited:\n" + self.output()[-2000:])
        return False

    def query(self, expr, time_s=None):
        """The /api/v1/query answer as a dict (status success or error)."""
        params = {"query": expr}
        if time_s is not None:
            params["time"] = f"{time_s:.3f}"
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode(params)
        status, body = http_get(url)
        if status == 0:
            raise Failure(f"prometheus unreachable for query {expr}")
        return json.loads(body)


class Alertmanager(Process):
    def __init__(self, workdir, config_path):
        self.port = free_port()
        super().__init__("alertmanager", [
            "prometheus-alertmanager", f"--config.file={config_path}", f"--storage.path={workdir}/am-data",
            f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=warn"], workdir)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout=20):
        def ready():
            if not self.alive():
                raise Failure("alertmanager exited:\n" + self.output()[-2000:])
            return http_get(self.url + "/-/ready")[0] == 200
        eventually(ready, timeout, what="Alertmanager /-/ready")


def run(argv, timeout=60, check=True, input_text=None, user=None, merge_stderr=True):
    """Runs a command to completion; returns (exit code, output: stdout, plus stderr if merged)."""
    if user and os.geteuid() == 0:
        argv = ["runuser", "-u", user, "--"] + list(argv)
    p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
                       timeout=timeout, input=input_text.encode() if input_text is not None else None)
    out = p.stdout.decode("utf-8", "replace")
    if check and p.returncode != 0:
        err = "" if merge_stderr else p.stderr.decode("utf-8", "replace")
        raise Failure(f"{' '.join(argv)} exited {p.returncode}:\n{out}{err}")
    return p.returncode, out


class Postgres:
    """A throwaway PostgreSQL cluster (initdb in a temp dir, trust auth, TCP on 127.0.0.1)."""

    def __init__(self, workdir, settings=None):
        self.settings = dict(settings or {})  # extra server settings (-c name=value)
        bins = sorted((d for d in os.listdir("/usr/lib/postgresql") if d.isdigit()), key=int)
        if not bins:
            raise Failure("PostgreSQL server binaries not found under /usr/lib/postgresql")
        self.bin = f"/usr/lib/postgresql/{bins[-1]}/bin"
        self.dir = os.path.join(workdir, "pg")
        os.makedirs(self.dir)
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        run([f"{self.bin}/initdb", "-D", f"{self.dir}/data", "-U", "postgres", "-A", "trust", "-E", "UTF8",
             "--locale=C.UTF-8", "--no-sync"], user=self.user, timeout=60)

    def start(self):
        run([f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-l", f"{self.dir}/server.log", "-w", "-t", "30", "-o",
             f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.dir} -c fsync=off"
             + "".join(f" -c {k}={v}" for k, v in self.settings.items()),
             "start"], user=self.user, timeout=40)

    def stop(self):
        run([f"{self.bin}/pg_ctl", "-D", f"{self.dir}/data", "-m", "fast", "-w", "-t", "30", "stop"],
            user=self.user, timeout=40, check=False)

    def dsn(self):
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres connect_timeout=2"

    def sql(self, statement):
        """Runs one statement with psql as the superuser."""
        run([f"{self.bin}/psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
             "-v", "ON_ERROR_STOP=1", "-c", statement], timeout=30)
