#!/usr/bin/env python3
"""End-to-end, the App Platform shape (push only): botwatch started by the image's
entrypoint (packaging/digitalocean/entrypoint.sh) with the shipped App Platform
config (packaging/digitalocean/botwatch.yaml), supervising the demo bot, pushing
to a real Prometheus (--web.enable-remote-write-receiver) that loads the shipped
rules and notifies a real Alertmanager (the shipped config) with a webhook.

    app_platform_e2e_test.py --botwatch build/botwatch

What the test changes, and nothing else: the env vars app.yaml declares (from
the test: the receiver's URL, DATABASE_URL of a throwaway PostgreSQL with
pg_stat_statements, the keys),
the bot's port (3000 in App Platform, a free one here), every 15s/1m interval to
1s (and the 3s timeouts to 900ms), the Graph and Gemini base URLs (loopback stand-ins), the paths under /tmp
(this run's own directory), and, through the mixin's _config, the dead-man's
silence and `for` (rendered with jsonnet, as an operator overrides _config).
It appends four collectors App Platform has no place for (an https probe, Redis
with real BullMQ jobs, an exec check, a textfile), so every dashboard panel has
its series on the push as well.

It shows:
1. every pushed series carries job="botwatch", and the bot's own prom-client
   series ride along (type: scrape);
2. every query of every dashboard returns data on the pushed series (the check
   the pull e2e makes): the count of panels with data is printed;
3. a frozen bot (SIGSTOP) makes the platform's health path (app.yaml's
   http_path) answer 503, and 200 again after SIGCONT;
4. killing botwatch (SIGKILL) brings BotwatchSilent, the dead-man, to the
   webhook: the time from kill to webhook is printed.
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import (REPO, Alertmanager, Failure, Postgres, Process, Prometheus,  # noqa: E402
                   eventually, free_port, http_get, log, run)
from static_checks import dashboard_targets, substitute  # noqa: E402
from harness import REDIS_PASSWORD, Run, check, start_redis_with_jobs, write_backup_textfile  # noqa: E402
import harness  # noqa: E402
import e2e_test as pull  # noqa: E402  (its stand-ins, sinks and history)

DEADLINE = 150  # seconds for the whole run; a healthy run takes about 60 s
BOT_RATE = 8
BOT_SECRET = "e2e-internal-secret"
DEAD_MAN_SILENCE = 5  # seconds; shipped: 120
DEAD_MAN_FOR = "1s"   # shipped: 3m
NOTIFY_BOUND = 30     # seconds from the kill to the webhook


def rewrite(text, old, new, count=1):
    """Replaces `old`, which must occur exactly `count` times, so a change of the
    shipped file cannot silently bypass the test."""
    if text.count(old) != count:
        raise Failure(f"packaging/digitalocean/botwatch.yaml: expected {count} x {old!r} to rewrite, "
                      f"found {text.count(old)}")
    return text.replace(old, new)


def render_rules(w):
    """The shipped rules, rendered from the mixin with the dead-man shortened
    through _config (JSON is YAML to Prometheus)."""
    expr = ("local m = (import 'mixin/mixin.libsonnet') + { _config+:: { "
            f"deadManSilenceSeconds: {DEAD_MAN_SILENCE}, deadManFor: '{DEAD_MAN_FOR}' }} }}; m.prometheusAlerts")
    _, out = run(["jsonnet", "-J", REPO, "-e", expr], timeout=60, merge_stderr=False)
    rules = json.loads(out)
    silent = [r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "BotwatchSilent"]
    check(len(silent) == 1 and silent[0]["for"] == DEAD_MAN_FOR and f"> {DEAD_MAN_SILENCE}" in silent[0]["expr"],
          f"the mixin's _config shortens BotwatchSilent: {silent}")
    return w.file("botwatch.rules.json", json.dumps(rules))


class AppPlatformE2E(Run):
    def __init__(self, botwatch):
        super().__init__(botwatch, "botwatch-e2e-app.", "App Platform e2e", DEADLINE)
        self.inbox = pull.Inbox()
        self.instance = f"bot-e2e-{os.getpid()}"  # HOSTNAME of the "container"
        self.bot_port = free_port()
        self.bw_port = free_port()

    def setup(self):
        # History for the panels that compare with a day or a week ago, on this
        # instance and job="botwatch", written before Prometheus opens its data.
        t = time.monotonic()
        history = self.w.file("history.om.txt", pull.history_openmetrics(self.instance, time.time(), BOT_RATE))
        backfill = subprocess.Popen(["promtool", "tsdb", "create-blocks-from", "openmetrics", "--quiet", history,
                                     os.path.join(self.w.path, "prom-data")],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        # pg_stat_statements for the slowest-statements panel (DO's managed PostgreSQL has it).
        self.pg = Postgres(self.w.path, settings={"shared_preload_libraries": "pg_stat_statements"})
        self.pg.start()
        self.pg.sql("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        log(f"postgres up on :{self.pg.port}")
        self.redis_port = start_redis_with_jobs(self, pull.bullmq_peer(self.botwatch_bin))
        tls_server, self.tls_url, self.tls_cert = pull.start_tls_server(self.w)
        self.textfiles = write_backup_textfile(self.w)
        webhook = pull.start_http_sink(self.inbox, "webhook")
        slack = pull.start_http_sink(self.inbox, "slack")
        smtp = pull.SmtpSink(self.inbox)
        self.graph, self.gemini = pull.FacebookGraph(), pull.GeminiAPI()
        self.servers = [webhook, slack, smtp, self.graph.server, self.gemini.server, tls_server]

        with open(os.path.join(REPO, "alerts", "alertmanager.yml"), encoding="utf-8") as f:
            am_config = pull.e2e_alertmanager(
                f.read(), self.w, f"http://127.0.0.1:{slack.server_address[1]}/services/T000/B000/e2e",
                f"http://127.0.0.1:{webhook.server_address[1]}/alerts", smtp.server_address[1])
        self.am = Alertmanager(self.w.path, am_config)
        self.procs.append(self.am)
        rules = render_rules(self.w)
        out, _ = backfill.communicate(timeout=120)
        if backfill.returncode != 0:
            raise Failure(f"promtool tsdb create-blocks-from failed:\n{out.decode(errors='replace')}")
        log(f"history backfilled ({time.monotonic() - t:.1f}s)")
        self.am.wait_ready()
        # No scrape_configs: everything arrives by remote write.
        self.prom = Prometheus(self.w.path, (
            "global: {evaluation_interval: 1s}\n"
            f"rule_files: ['{rules}']\n"
            "alerting:\n  alertmanagers:\n"
            f"    - static_configs: [{{targets: ['127.0.0.1:{self.am.port}']}}]\n"),
            extra_args=["--web.enable-remote-write-receiver"])
        self.procs.append(self.prom)
        self.prom.wait_ready(timeout=60)
        self.start_container()

    def container_config(self):
        """The shipped config in a copy of the image's /etc/botwatch (presets beside it)."""
        with open(os.path.join(REPO, "packaging", "digitalocean", "botwatch.yaml"), encoding="utf-8") as f:
            text = f.read()
        text = rewrite(text, "127.0.0.1:3000", f"127.0.0.1:{self.bot_port}", count=4)  # 3 collectors, 1 comment
        text = rewrite(text, "interval: 15s", "interval: 1s", count=5)
        text = rewrite(text, "interval: 1m", "interval: 1s", count=2)
        text = rewrite(text, "timeout: 3s", "timeout: 900ms", count=2)
        text = rewrite(text, "    type: facebook\n", f"    type: facebook\n    base_url: '{self.graph.url}'\n"
                                                   "    interval: 1s\n")
        text = rewrite(text, "    type: gemini\n", f"    type: gemini\n    base_url: '{self.gemini.url}'\n")
        text = rewrite(text, "state_dir: /tmp/botwatch/state", f"state_dir: {self.w.path}/run/state")
        self.password_file = os.path.join(self.w.path, "rw-password")
        text = rewrite(text, "password_file: /tmp/botwatch-remote-write-password", f"password_file: {self.password_file}")
        # What App Platform has no place for, appended so that every dashboard panel
        # has its series on the push too (the panels' selectors are what is tested):
        # an https probe (certificate panels), Redis with BullMQ jobs, an exec check
        # and a textfile.
        extra = (
            f"  - {{name: webhook-cert, type: http, url: '{self.tls_url}', ca_file: '{self.tls_cert}', interval: 1s}}\n"
            f"  - {{name: redis, type: redis, address: '127.0.0.1:{self.redis_port}', password: '{REDIS_PASSWORD}',"
            " interval: 1s}\n"
            "  - {name: backup-check, type: exec, command: /bin/true, interval: 1s}\n"
            f"  - {{name: cron, type: textfile, directory: '{self.textfiles}', interval: 1s}}\n")
        text = rewrite(text, "\n# The bot's stdout (Winston/pino JSON)",
                       "  # Appended by the test (not shipped):\n" + extra + "\n# The bot's stdout (Winston/pino JSON)")
        etc = os.path.join(self.w.path, "etc")
        os.makedirs(etc)
        shutil.copytree(os.path.join(REPO, "config", "presets"), os.path.join(etc, "presets"))
        return self.w.file("etc/botwatch.yaml", text)

    def start_container(self):
        """The image's ENTRYPOINT and CMD: entrypoint.sh -> botwatch run -- node (the demo bot)."""
        check(os.path.isdir(os.path.join(pull.DEMO_BOT, "node_modules", "prom-client")),
              f"the demo bot's packages are installed (cd {pull.DEMO_BOT} && npm ci; ctest runs it as a fixture)")
        bindir = os.path.join(self.w.path, "bin")
        os.makedirs(bindir, exist_ok=True)
        if not os.path.exists(os.path.join(bindir, "botwatch")):
            os.symlink(self.botwatch_bin, os.path.join(bindir, "botwatch"))
        env = {k: v for k, v in os.environ.items() if not k.startswith(("BOTWATCH_", "REMOTE_WRITE_"))}
        env.update({
            "PATH": bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
            "HOSTNAME": self.instance,
            "BOTWATCH_CONFIG_FILE": self.container_config(),
            "BOTWATCH_RUN_DIR": os.path.join(self.w.path, "run"),
            "BOTWATCH_OPTS": f"--web.listen-address=127.0.0.1:{self.bw_port}",
            "REMOTE_WRITE_URL": f"{self.prom.url}/api/v1/write",
            "REMOTE_WRITE_USERNAME": "messenger-bot",
            "REMOTE_WRITE_PASSWORD": "e2e-rw-password",
            "REMOTE_WRITE_PASSWORD_FILE": self.password_file,
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{self.pg.port}/postgres",
            "FB_PAGE_TOKEN": pull.FB_PAGE_TOKEN, "FB_APP_ID": pull.FB_APP_ID, "FB_APP_SECRET": pull.FB_APP_SECRET,
            "GEMINI_API_KEY": pull.GEMINI_KEY,
            "INTERNAL_SECRET": BOT_SECRET,
            "BOT_METRICS_URL": f"http://127.0.0.1:{self.bot_port}/metrics",
        })
        argv = [os.path.join(REPO, "packaging", "digitalocean", "entrypoint.sh"), "node",
                os.path.join(pull.DEMO_BOT, "src", "index.js"), f"--port={self.bot_port}", f"--rate={BOT_RATE}",
                "--seed=7"]
        self.bw = Process("container", argv, self.w.path, env=env)  # exec'd: its pid is botwatch's
        self.procs.append(self.bw)
        eventually(lambda: http_get(f"http://127.0.0.1:{self.bw_port}/-/healthy")[0] == 200 or self._alive(),
                   20, what="botwatch to serve")
        log(f"container up: botwatch on :{self.bw_port}, the demo bot on :{self.bot_port}, pushing as "
            f"instance={self.instance} ({time.monotonic() - self.start:.1f}s)")

    def _alive(self):
        if not self.bw.alive():
            raise Failure("botwatch exited")
        return False

    def q(self, expr):
        return self.prom.query(expr).get("data", {}).get("result", [])

    # ---------------------------------------------------------------- 1
    def pushed(self):
        sel = f'job="botwatch", instance="{self.instance}"'
        collectors = {"supervised", "bot-health", "container-disk", "bot-port", "database", "facebook", "gemini",
                      "bot-socketio", "bot-metrics", "webhook-cert", "redis", "backup-check", "cron"}

        def all_up():
            r = self.q(f"botwatch_collector_up{{{sel}}} == 1")
            return {x["metric"]["collector"] for x in r} >= collectors
        try:
            eventually(all_up, min(40, self.remaining()), step=0.3, what="every collector up in the pushed series")
        except Failure:
            got = {x["metric"]["collector"]: x["value"][1] for x in self.q(f"botwatch_collector_up{{{sel}}}")}
            raise Failure(f"collectors pushed: {got}, want all of {sorted(collectors)} up")
        check(not self.q('count({__name__=~"botwatch_.+", job!="botwatch"})'),
              "every pushed series carries job=\"botwatch\"")
        lag = self.q(f'nodejs_eventloop_lag_seconds{{{sel}, collector="bot-metrics"}}')
        turns = self.q(f'demo_bot_turns_total{{{sel}, collector="bot-metrics", direction="inbound"}}')
        check(lag and turns, "the bot's prom-client series are carried and pushed")
        log(f"pushed: all {len(collectors)} collectors up with job=\"botwatch\"; the bot's prom-client "
            f"series ride along (demo_bot_turns_total inbound = {turns[0]['value'][1]})")

    def gemini_quota(self):
        """A quota refusal, for the panel that counts them: the Gemini stand-in
        answers 429 RESOURCE_EXHAUSTED until one is pushed, then recovers."""
        self.gemini.set_exhausted(True)
        try:
            eventually(lambda: self.q(f'botwatch_collector_errors_total{{job="botwatch", instance="{self.instance}", '
                                      'reason="quota_exhausted"}'), min(20, self.remaining()), step=0.3,
                       what="a pushed quota_exhausted error")
        finally:
            self.gemini.set_exhausted(False)

    # ---------------------------------------------------------------- 2
    def dashboards(self):
        instance = re.escape(self.instance).replace("\\", "\\\\")
        queries, panels = [], {}
        for path in sorted(glob.glob(os.path.join(REPO, "dashboards", "*.json"))):
            with open(path, encoding="utf-8") as f:
                d = json.load(f)
            for p, t in dashboard_targets(d):
                where = (os.path.basename(path), p["title"])
                panels.setdefault(where, [])
                queries.append((where, t["refId"], substitute(t["expr"], job="botwatch", instance=instance)))
        check(len(queries) > 50, f"the dashboards have their queries ({len(queries)})")
        empty = list(queries)
        end = time.monotonic() + min(45, self.remaining())
        while True:
            still = []
            for where, ref, expr in empty:
                answer = self.prom.query(expr)
                check(answer.get("status") == "success", f"{where}: {answer.get('error')}")
                if not answer["data"]["result"]:
                    still.append((where, ref, expr))
            empty = still
            if not empty or time.monotonic() >= end:
                break
            time.sleep(1)
        with_data = {where for where in panels} - {where for where, _, _ in empty}
        log(f"dashboards under push: {len(with_data)} of {len(panels)} panels, {len(queries) - len(empty)} of "
            f"{len(queries)} queries return data")
        if empty:
            raise Failure(f"{len(empty)} of {len(queries)} dashboard queries return no data on the pushed series:\n  "
                          + "\n  ".join(f"{w[0]} / {w[1]} / {r}: {e}" for w, r, e in empty))

    # ---------------------------------------------------------------- 3
    def frozen_bot(self):
        with open(os.path.join(REPO, "packaging", "digitalocean", "app.yaml"), encoding="utf-8") as f:
            path = re.search(r"^\s+http_path: (\S+)$", f.read(), flags=re.M).group(1)
        url = f"http://127.0.0.1:{self.bw_port}{path}"
        check(http_get(url)[0] == 200, f"the health path {path} answers 200 while the bot runs")
        bot = self.child_pid()
        os.kill(bot, signal.SIGSTOP)
        t = time.monotonic()
        try:
            answer = eventually(lambda: (lambda a: a if a[0] == 503 else None)(http_get(url)), 10, step=0.1,
                                what=f"{path} to answer 503 for a frozen bot")
            check("supervised: down (frozen)" in answer[1], f"the 503 says why: {answer[1]!r}")
            log(f"frozen bot: {path} answered 503 after {time.monotonic() - t:.2f}s ({answer[1].strip()!r})")
        finally:
            os.kill(bot, signal.SIGCONT)
        eventually(lambda: http_get(url)[0] == 200, 20, step=0.2, what=f"{path} to answer 200 after SIGCONT")

    def child_pid(self):
        """The supervised bot: the child of botwatch (the entrypoint exec'd botwatch)."""
        bw = self.bw.proc.pid
        for stat in glob.glob("/proc/[0-9]*/stat"):
            try:
                with open(stat) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == bw:
                return int(stat.split("/")[2])
        raise Failure("the supervised bot process was not found")

    # ---------------------------------------------------------------- 4
    def dead_man(self):
        bot = self.child_pid()
        os.kill(self.bw.proc.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        self.bw.proc.wait(5)
        os.kill(bot, signal.SIGKILL)  # the orphaned bot; App Platform would replace the container
        log("fault: SIGKILL to botwatch (the container's PID 1 in App Platform)")
        pred = pull.webhook_has("BotwatchSilent", "firing", instance=self.instance, job="botwatch")
        try:
            got = eventually(lambda: self.inbox.find("webhook", pred, since=killed_at),
                             min(NOTIFY_BOUND, self.remaining()), step=0.1, what="BotwatchSilent at the webhook")
        except Failure:
            alerts = self.q('ALERTS{alertname="BotwatchSilent"}')
            raise Failure(f"BotwatchSilent did not reach the webhook within {NOTIFY_BOUND}s of the kill; "
                          f"ALERTS: {alerts}")
        took = got[0] - killed_at
        alert = next(a for a in got[1]["json"]["alerts"] if a["labels"]["alertname"] == "BotwatchSilent")
        check(alert["annotations"]["runbook_url"].endswith("RUNBOOK.md#botwatchsilent"), f"runbook link: {alert}")
        log(f"BotwatchSilent: kill -> webhook in {took:.1f} s (silence {DEAD_MAN_SILENCE} s + for {DEAD_MAN_FOR} "
            f"through _config; bound {NOTIFY_BOUND} s)")

    def stop_process(self, p):
        p.stop()
        try:
            os.killpg(p.proc.pid, signal.SIGKILL)  # the container's session: the bot too
        except (ProcessLookupError, PermissionError):
            pass


def own_log_tail(t):
    """botwatch's own lines, not the bot's passed-through output."""
    if not hasattr(t, "bw"):
        return ""
    own = [line for line in t.bw.output().splitlines() if line.startswith(("ts=", "botwatch-entrypoint"))]
    return "\n".join(own[-30:])


def main():
    return harness.main(AppPlatformE2E, ["setup", "pushed", "gemini_quota", "dashboards", "frozen_bot", "dead_man"],
                        own_log_tail)


if __name__ == "__main__":
    sys.exit(main())
