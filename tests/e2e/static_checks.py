#!/usr/bin/env python3
"""Checks of the shipped monitoring files, each a CTest test (tests/CMakeLists.txt).

    static_checks.py rules            promtool check rules alerts/botwatch.rules.yml
    static_checks.py rule-tests       promtool test rules alerts/tests/*.yml
    static_checks.py alert-coverage   every alert: complete annotations, a runbook section,
                                      a unit test that fires it and one that does not
    static_checks.py alertmanager     amtool check-config alerts/alertmanager.yml; the fragment
                                      alerts/alertmanager-botwatch.yml merged into someone else's
                                      config routes and inhibits only botwatch's alerts
    static_checks.py prometheus       promtool check config on packaging/prometheus/ as installed,
                                      every botwatch job sends basic auth with a password_file,
                                      and the file_sd example yields its targets
    static_checks.py dashboards       dashboards are importable, every panel has a description and
                                      its runbook link resolves, and every PromQL expression parses
                                      in a real Prometheus
    static_checks.py mixin            alerts/botwatch.rules.yml and dashboards/*.json are what
                                      mixin/ renders, and _config overrides reach the output
    static_checks.py families         every family the collectors, the agent and the shipped preset
                                      can export is in a dashboard query, an alert, or the list of
                                      families kept for ad-hoc queries in mixin/README.md

Exit 0 when the check passes, 1 with the reasons when it does not.
"""

import glob
import json
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from peers import REPO, Failure, Prometheus, Workdir, log, run  # noqa: E402

RULES = os.path.join(REPO, "alerts", "botwatch.rules.yml")
RUNBOOK = os.path.join(REPO, "alerts", "RUNBOOK.md")
RULE_TESTS = sorted(glob.glob(os.path.join(REPO, "alerts", "tests", "*.yml")))
DASHBOARDS = sorted(glob.glob(os.path.join(REPO, "dashboards", "*.json")))
RUNBOOK_BASE = "https://github.com/botwatch/botwatch/blob/main/alerts/RUNBOOK.md#"


def check_rules():
    _, out = run(["promtool", "check", "rules", RULES])
    log(out.strip())


def check_rule_tests():
    if not RULE_TESTS:
        raise Failure("no alerts/tests/*.yml")
    _, out = run(["promtool", "test", "rules", *RULE_TESTS], timeout=300)
    log(out.strip())


def alert_blocks(text):
    """(alertname, block text) for each rule of the rules file, in order."""
    parts = re.split(r"^\s+- alert: ", text, flags=re.M)[1:]
    out = []
    for p in parts:
        name, _, rest = p.partition("\n")
        rest = re.split(r"^\s+- (?:alert|record): |^  - name: ", rest, flags=re.M)[0]
        out.append((name.strip().strip('"'), rest))
    return out


def github_anchor(heading):
    a = heading.strip().lower()
    a = re.sub(r"[^\w\- ]", "", a)
    return a.replace(" ", "-")


def alert_coverage_problems(rules_text, runbook_text, tests_text):
    """(alert names, problems): annotations, runbook sections and unit tests of each alert."""
    blocks = alert_blocks(rules_text)
    anchors = {github_anchor(h) for h in re.findall(r"^#{1,3} (.+)$", runbook_text, flags=re.M)}
    problems = []
    names = []
    for name, body in blocks:
        names.append(name)
        for key in ("severity:", "summary:", "description:", "runbook_url:"):
            if key not in body:
                problems.append(f"{name}: no {key[:-1]}")
        m = re.search(r"severity: \"?([^\s\"]+)", body)
        if m and m.group(1) not in ("critical", "warning"):
            problems.append(f"{name}: severity {m.group(1)} is neither critical nor warning")
        m = re.search(r"description: \"([^\n]*)\"", body)
        if m and "$value" not in m.group(1):
            problems.append(f"{name}: the description does not show the value ($value)")
        m = re.search(r'runbook_url: "([^"]+)"', body)
        if m:
            url = m.group(1)
            if not url.startswith(RUNBOOK_BASE):
                problems.append(f"{name}: runbook_url {url} is not in alerts/RUNBOOK.md")
            elif url[len(RUNBOOK_BASE):] not in anchors:
                problems.append(f"{name}: alerts/RUNBOOK.md has no section #{url[len(RUNBOOK_BASE):]}")
    for name in sorted(set(names)):
        # A test case that expects the alert; promtool fails when an unexpected alert
        # fires, so the non-firing series of that case are checked too.
        if not re.search(rf"alertname: {name}\n\s+exp_alerts:\n\s+- exp_labels", tests_text):
            problems.append(f"{name}: no unit test in alerts/tests/ expects it to fire")
        if not re.search(rf"- name: [^\n]*\b{name}\b", tests_text):
            problems.append(f"{name}: no unit test named after it (\"- name: {name} ...\")")
    return sorted(set(names)), problems


def check_alert_coverage():
    def read(path):
        with open(path, encoding="utf-8") as f:
            return f.read()
    rules_text = read(RULES)
    names, problems = alert_coverage_problems(rules_text, read(RUNBOOK), "".join(read(p) for p in RULE_TESTS))
    if "offset 1w" not in dict(alert_blocks(rules_text)).get("BotMessageVolumeDropped", ""):
        problems.append("BotMessageVolumeDropped does not compare with `offset 1w`")
    missing = sorted(set(ISSUE_ALERTS) - set(names))
    if missing:
        problems.append(f"alerts the issue asks for are missing: {missing}")
    if problems:
        raise Failure("\n".join(problems))
    log(f"{len(names)} alerts: annotations complete, runbook sections exist, unit tests fire each one")


# The alerts issue 5 lists; the rules may have more.
ISSUE_ALERTS = [
    "BotwatchTargetDown", "BotProcessDown", "BotHighMemory", "BotRestarting", "BotDatabaseDown", "BotDatabaseSlow",
    "BotDatabaseConnectionsNearLimit", "BotFacebookTokenInvalid", "BotFacebookTokenExpiringSoon", "BotFacebookRateLimitHigh",
    "BotGeminiDown", "BotGeminiQuotaExhausted", "BotSocketIODown", "BotHighErrorRate", "BotLowTemplateCacheHitRatio",
    "BotHumanInterventionsPending", "BotResponseTimeP95High", "BotMessageVolumeDropped", "BotLogsSilent",
    "BotFacebookPageUnsubscribed", "BotGeminiTokenBudget", "BotLogPipelineStalled", "BotwatchConfigReloadFailed",
]


def sections(text):
    """Top-level YAML sections of a file: {key: [lines of its body]} (comments dropped)."""
    out, key = {}, None
    for line in text.split("\n"):
        m = re.match(r"^(\w+):\s*$", line)
        if m:
            key = m.group(1); out[key] = []; continue
        if key and line.startswith(" "):
            out[key].append(line)
        elif line and not line.startswith("#"):
            key = None
    return out

def merge_alertmanager(base, fragment):
    """`base` with the fragment merged the way alerts/alertmanager-botwatch.yml says."""
    frag = sections(fragment)
    routes = frag["route"][1:]  # under "  routes:"
    lines = base.rstrip("\n").split("\n")
    def insert_after(pattern, items, section):
        for i, l in enumerate(lines):
            if re.match(pattern, l):
                lines[i + 1:i + 1] = items
                return
        lines.extend(["", section + ":"] + items)
    insert_after(r"^templates:\s*$", frag["templates"], "templates")
    insert_after(r"^inhibit_rules:\s*$", frag["inhibit_rules"], "inhibit_rules")
    insert_after(r"^receivers:\s*$", frag["receivers"], "receivers")
    for i, l in enumerate(lines):
        if l == "  routes:":
            lines[i + 1:i + 1] = routes
            break
    else:
        raise ValueError("the base file has no top-level route with `  routes:`")
    return "\n".join(lines) + "\n"


# An operator's existing Alertmanager file, into which the fragment is merged.
FOREIGN_ALERTMANAGER = """\
global:
  resolve_timeout: 5m
  slack_api_url_file: /etc/alertmanager/secrets/ops_slack_url
  smtp_smarthost: mail.ops.example:587
  smtp_from: alerts@ops.example
route:
  receiver: ops
  group_by: [alertname]
  routes:
    - receiver: ops-pager
      matchers: ['severity="page"']
inhibit_rules:
  - source_matchers: ['alertname="NodeDown"']
    target_matchers: ['job="node"']
    equal: [instance]
receivers:
  - name: ops
  - name: ops-pager
"""


def alertmanager_fragment_problems(fragment, example):
    """The fragment scopes every inhibit rule to botwatch's alerts, and the worked
    example holds each of its sections unchanged."""
    problems = []
    frag = sections(fragment)
    for key in ("templates", "route", "inhibit_rules", "receivers"):
        if key not in frag:
            problems.append(f"the fragment has no {key}: section")
    for rule in re.split(r"^  - ", "\n".join(frag.get("inhibit_rules", [])), flags=re.M)[1:]:
        for side in ("source_matchers", "target_matchers"):
            m = re.search(side + r": \[(.*)\]", rule)
            if not m or "'mixin=\"botwatch\"'" not in m.group(1):
                problems.append(f"inhibit rule {rule.splitlines()[0]!r}: {side} not limited to mixin=\"botwatch\"")
    if not any(l.strip() == "- matchers: ['mixin=\"botwatch\"']" for l in frag.get("route", [])):
        problems.append("the fragment's route does not match mixin=\"botwatch\"")
    flat = "\n".join(l for l in example.split("\n") if l.strip())
    for key, lines in frag.items():
        block = "\n".join(l for l in lines if l.strip())
        if key != "route" and block not in flat:
            problems.append(f"alertmanager.yml does not hold the fragment's {key} as they are")
    if "\n".join(frag.get("route", [])[1:]) not in flat:
        problems.append("alertmanager.yml does not hold the fragment's route as it is")
    return problems


def check_alertmanager():
    with open(os.path.join(REPO, "alerts", "alertmanager-botwatch.yml"), encoding="utf-8") as f:
        fragment = f.read()
    with open(os.path.join(REPO, "alerts", "alertmanager.yml"), encoding="utf-8") as f:
        example = f.read()
    problems = alertmanager_fragment_problems(fragment, example)
    # Merged into someone else's file: valid, botwatch's alerts reach botwatch's
    # receivers, everybody else's stay on their own routes.
    w = Workdir("botwatch-am.")
    try:
        merged = w.file("alertmanager.yml", merge_alertmanager(FOREIGN_ALERTMANAGER, fragment))
        os.makedirs(os.path.join(w.path, "templates"))
        shutil.copy(os.path.join(REPO, "alerts", "templates", "botwatch.tmpl"), os.path.join(w.path, "templates"))
        _, out = run(["amtool", "check-config", merged])
        inhibits = fragment.count("- source_matchers:") + FOREIGN_ALERTMANAGER.count("- source_matchers:")
        if "1 templates" not in out or f"{inhibits} inhibit rules" not in out:
            problems.append(f"the merged file lost the template or inhibit rules:\n{out}")
        for labels, want in (
                (["mixin=botwatch", "alertname=BotDatabaseDown", "severity=critical"], "botwatch-webhook,botwatch-critical"),
                (["mixin=botwatch", "alertname=BotHighMemory", "severity=warning"], "botwatch-webhook,botwatch-warning"),
                (["alertname=NodeFilesystemAlmostFull", "job=node", "severity=critical"], "ops"),
                (["alertname=NodeDown", "job=node", "severity=page"], "ops-pager")):
            _, got = run(["amtool", "config", "routes", "test", f"--config.file={merged}", *labels], merge_stderr=False)
            if got.strip() != want:
                problems.append(f"merged config routes {labels} to {got.strip()!r}, expected {want!r}")
        log("fragment merged into a foreign config: valid, botwatch alerts to botwatch-*, others untouched")
    finally:
        w.remove()
    _, out = run(["amtool", "check-config", os.path.join(REPO, "alerts", "alertmanager.yml")])
    log(out.strip())
    if "1 templates" not in out or "SUCCESS" not in out:
        raise Failure("the templates were not loaded")
    problems += pager_problems(example)
    text = example
    for needle in ("slack_api_url_file:", "smtp_auth_password_file:", "group_by: [alertname, instance]",
                   "repeat_interval: 30m"):
        if needle not in text:
            problems.append(f"alertmanager.yml lacks {needle}")
    for secret in ("smtp_auth_password:", "api_url: http", "hooks.slack.com"):
        if secret in text:
            problems.append(f"alertmanager.yml holds a secret inline ({secret})")
    if problems:
        raise Failure("\n".join(problems))
    log("alertmanager.yml is the fragment merged; every inhibit rule is limited to mixin=\"botwatch\"")


def pager_problems(example):
    """alerts/alertmanager-pager.yml: valid, critical alerts page (and still reach Slack
    and email), warnings never do, the key is read from a file, and it holds
    alertmanager.yml's inhibit rules and receivers unchanged."""
    path = os.path.join(REPO, "alerts", "alertmanager-pager.yml")
    with open(path, encoding="utf-8") as f:
        pager = f.read()
    problems = []
    _, out = run(["amtool", "check-config", path])
    if "SUCCESS" not in out or "1 templates" not in out:
        problems.append(f"alertmanager-pager.yml does not check:\n{out}")
    for labels, want in (
            (["mixin=botwatch", "alertname=BotDatabaseDown", "severity=critical"],
             "botwatch-webhook,botwatch-pager,botwatch-critical"),
            (["mixin=botwatch", "alertname=BotHighMemory", "severity=warning"], "botwatch-webhook,botwatch-warning"),
            (["alertname=NodeDown", "severity=critical"], "default")):
        _, got = run(["amtool", "config", "routes", "test", f"--config.file={path}", *labels], merge_stderr=False)
        if got.strip() != want:
            problems.append(f"alertmanager-pager.yml routes {labels} to {got.strip()!r}, expected {want!r}")
    if "routing_key_file: /etc/alertmanager/secrets/" not in pager or re.search(r"^\s*routing_key:", pager, flags=re.M):
        problems.append("alertmanager-pager.yml must read the PagerDuty key from a file")
    ex, pg = sections(example), sections(pager)
    for key in ("inhibit_rules", "templates", "global"):
        if ex.get(key) != pg.get(key):
            problems.append(f"alertmanager-pager.yml's {key} differ from alertmanager.yml's")
    flat = "\n".join(pg.get("receivers", []))
    if "\n".join(ex.get("receivers", [])).strip() not in flat.replace("\n".join(
            pg["receivers"][pg["receivers"].index("  - name: botwatch-pager"):
                            pg["receivers"].index("  - name: botwatch-critical")]) + "\n", ""):
        problems.append("alertmanager-pager.yml's receivers are not alertmanager.yml's plus botwatch-pager")
    log("alertmanager-pager.yml: critical -> PagerDuty, Slack and email; warnings never page")
    return problems


def check_prometheus_config():
    """Installs packaging/prometheus/ the way its header says, then checks it."""
    w = Workdir("botwatch-promcfg.")
    try:
        etc = os.path.join(w.path, "etc-prometheus")
        shutil.copytree(os.path.join(REPO, "packaging", "prometheus"), etc)
        os.makedirs(os.path.join(etc, "rules"))
        shutil.copy(RULES, os.path.join(etc, "rules", "botwatch.rules.yml"))
        os.makedirs(os.path.join(etc, "secrets"))
        with open(os.path.join(etc, "secrets", "digitalocean_token"), "w") as f:
            f.write("dop_v1_example\n")
        with open(os.path.join(etc, "prometheus.yml"), encoding="utf-8") as f:
            problems = scrape_auth_problems(f.read(), etc)
        if problems:
            raise Failure("\n".join(problems))
        with open(os.path.join(etc, "secrets", "botwatch_password"), "w") as f:
            f.write("example-password")
        _, out = run(["promtool", "check", "config", os.path.join(etc, "prometheus.yml")])
        log(out.strip())
        if "WARNING" in out:
            raise Failure("promtool check config warned")
        if "SUCCESS: 1 rule files found" not in out or not re.search(r"SUCCESS: \d+ rules found", out):
            raise Failure("the rule file was not found through rule_files")
        _, sd = run(["promtool", "check", "service-discovery", "--timeout=2s",
                     os.path.join(etc, "prometheus.yml"), "botwatch-fleet"], timeout=30, merge_stderr=False)
        targets = json.loads(sd[:sd.rindex("]") + 1])
        instances = sorted(t["labels"]["instance"] for t in targets)
        log(f"file_sd job botwatch-fleet: {instances}")
        expected = ["bot-1.example.com:10117", "bot-2.example.com:10117", "staging-bot.example.com:10117"]
        if instances != expected:
            raise Failure(f"file_sd example yields {instances}, expected {expected}")
        check_droplet_relabeling(w, os.path.join(etc, "prometheus.yml"))
    finally:
        w.remove()


def scrape_jobs(config_text):
    """{job name: job text} of a Prometheus config's scrape_configs (2-space indented list)."""
    jobs = {}
    for block in re.split(r"^  - job_name: ", config_text, flags=re.M)[1:]:
        name, _, body = block.partition("\n")
        jobs[name.strip().strip("'\"")] = re.split(r"^\S", body, flags=re.M)[0]
    return jobs


def scrape_auth_problems(config_text, config_dir):
    """Each botwatch job must send basic auth (cloud-init.yaml turns it on) with the
    password read from a file, which the installed layout must provide a place for."""
    problems = []
    jobs = {n: b for n, b in scrape_jobs(config_text).items() if n.startswith("botwatch")}
    if not jobs:
        problems.append("no botwatch scrape job")
    for name, body in jobs.items():
        auth = re.search(r"^    basic_auth:\n((?:      .*\n)+)", body, flags=re.M)
        if not auth:
            problems.append(f"job {name}: no basic_auth")
            continue
        fields = dict(re.findall(r"^      (\w+): *(.*)$", auth.group(1), flags=re.M))
        if not fields.get("username"):
            problems.append(f"job {name}: basic_auth has no username")
        if "password" in fields:
            problems.append(f"job {name}: basic_auth holds the password inline; use password_file")
        if not fields.get("password_file"):
            problems.append(f"job {name}: basic_auth has no password_file")
        elif not os.path.isdir(os.path.dirname(os.path.join(config_dir, fields["password_file"]))):
            problems.append(f"job {name}: password_file {fields['password_file']} is not in the installed layout")
    return problems


# What digitalocean_sd_configs hands to relabeling (the meta labels of its docs),
# for a tagged droplet, an untagged one, and a tagged one without a private address.
DROPLETS = [
    {"targets": ["203.0.113.10:10117"], "labels": {
        "__meta_digitalocean_tags": ",web,botwatch,", "__meta_digitalocean_private_ipv4": "10.110.0.5",
        "__meta_digitalocean_droplet_name": "bot-fra1-1", "__meta_digitalocean_region": "fra1",
        "__meta_digitalocean_droplet_id": "101"}},
    {"targets": ["203.0.113.11:10117"], "labels": {
        "__meta_digitalocean_tags": ",web,", "__meta_digitalocean_private_ipv4": "10.110.0.6",
        "__meta_digitalocean_droplet_name": "web-1", "__meta_digitalocean_region": "fra1",
        "__meta_digitalocean_droplet_id": "102"}},
    {"targets": ["203.0.113.12:10117"], "labels": {
        "__meta_digitalocean_tags": ",botwatch,", "__meta_digitalocean_private_ipv4": "",
        "__meta_digitalocean_droplet_name": "old-bot", "__meta_digitalocean_region": "nyc1",
        "__meta_digitalocean_droplet_id": "103"}},
]


def check_droplet_relabeling(w, shipped_config):
    """Runs the shipped droplet job's relabel_configs on droplet meta labels (fed
    through file_sd, since the DigitalOcean API is not reachable from a test)."""
    with open(shipped_config, encoding="utf-8") as f:
        text = f.read()
    job = text[text.index("job_name: botwatch-droplets"):]
    relabel = job[job.index("    relabel_configs:"):]
    relabel = re.split(r"^  - job_name:", relabel, flags=re.M)[0]
    w.file("do/droplets.json", json.dumps(DROPLETS))
    config = w.file("do/prometheus.yml", "scrape_configs:\n  - job_name: botwatch-droplets\n"
                    "    file_sd_configs: [{files: [droplets.json]}]\n" + relabel)
    _, sd = run(["promtool", "check", "service-discovery", "--timeout=2s", config, "botwatch-droplets"],
                timeout=30, merge_stderr=False)
    kept = [t["labels"] for t in json.loads(sd[:sd.rindex("]") + 1]) if t["labels"]]
    got = [(k["instance"], k["__address__"], k.get("region"), k.get("droplet_id")) for k in kept]
    log(f"droplet relabeling: {got}")
    if got != [("bot-fra1-1", "10.110.0.5:10117", "fra1", "101")]:
        raise Failure(f"droplet relabeling keeps {got}; expected only bot-fra1-1 on 10.110.0.5:10117")


def dashboard_problems(dashboards, runbook_anchors=None):
    """Structural checks of parsed dashboards: {file: dashboard} -> list of problems."""
    problems = []
    uids = {}
    for path, d in dashboards.items():
        name = os.path.basename(path)
        uid = d.get("uid", "")
        if not re.fullmatch(r"botwatch-[a-z0-9-]+", uid or ""):
            problems.append(f"{name}: uid {uid!r} is not a stable botwatch-* uid")
        if uid in uids:
            problems.append(f"{name}: uid {uid} also used by {uids[uid]}")
        uids[uid] = name
        if d.get("id") is not None:
            problems.append(f"{name}: id must be null for import")
        inputs = [i.get("name") for i in d.get("__inputs", []) if i.get("pluginId") == "prometheus"]
        if inputs != ["DS_PROMETHEUS"]:
            problems.append(f"{name}: __inputs must declare exactly DS_PROMETHEUS, has {inputs}")
        variables = {v.get("name"): v for v in d.get("templating", {}).get("list", [])}
        for var in ("DS_PROMETHEUS", "job", "instance"):
            if var not in variables:
                problems.append(f"{name}: no template variable {var}")
        if variables.get("DS_PROMETHEUS", {}).get("type") != "datasource":
            problems.append(f"{name}: DS_PROMETHEUS must be a datasource variable")
        ids = set()
        panels = [p for p in d.get("panels", [])]
        for p in list(panels):
            panels.extend(p.get("panels", []))
        for p in panels:
            title = f"{name}: panel {p.get('title')!r}"
            if p.get("id") in ids:
                problems.append(f"{title}: duplicate id {p.get('id')}")
            ids.add(p.get("id"))
            if p.get("type") == "row":
                continue
            if len(p.get("description", "")) < 20:
                problems.append(f"{title}: no description")
            for link in p.get("links", []):
                url = link.get("url", "")
                if not url.startswith(RUNBOOK_BASE):
                    problems.append(f"{title}: link {url} is not a section of alerts/RUNBOOK.md")
                elif runbook_anchors is not None and url[len(RUNBOOK_BASE):] not in runbook_anchors:
                    problems.append(f"{title}: alerts/RUNBOOK.md has no section #{url[len(RUNBOOK_BASE):]}")
            if p.get("datasource") != {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}:
                problems.append(f"{title}: datasource is {p.get('datasource')}, not the DS_PROMETHEUS variable")
            if not p.get("targets"):
                problems.append(f"{title}: no query")
            for t in p.get("targets", []):
                if t.get("datasource") != {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}:
                    problems.append(f"{title}: target {t.get('refId')} has datasource {t.get('datasource')}")
                expr = t.get("expr", "")
                if "$job" not in expr or "$instance" not in expr:
                    problems.append(f"{title}: query {t.get('refId')} does not filter on $job and $instance")
            g = p.get("gridPos", {})
            if not all(k in g for k in "xywh") or g["x"] + g["w"] > 24:
                problems.append(f"{title}: bad gridPos {g}")
        text = json.dumps(d)
        for uid_ref in re.findall(r'"uid": "([^"]*)"', text):
            if uid_ref not in ("${DS_PROMETHEUS}", "-- Grafana --", uid):
                problems.append(f"{name}: hard-coded datasource uid {uid_ref!r}")
    return problems


def substitute(expr, job="botwatch", instance=".*", rate_interval="5s", interval="1s", rng="1m"):
    """The query Grafana would send, with its template variables replaced."""
    out = (expr.replace("$__rate_interval", rate_interval).replace("$__interval", interval)
           .replace("$__range", rng).replace("$job", job).replace("$instance", instance))
    left = re.findall(r"\$\w+", out)
    if left:
        raise Failure(f"unknown template variable {left} in {expr}")
    return out


def dashboard_targets(d):
    panels = list(d.get("panels", []))
    for p in list(panels):
        panels.extend(p.get("panels", []))
    for p in panels:
        if p.get("type") == "row":
            continue
        for t in p.get("targets", []):
            yield p, t


def runbook_anchors():
    with open(RUNBOOK, encoding="utf-8") as f:
        return {github_anchor(h) for h in re.findall(r"^#{1,3} (.+)$", f.read(), flags=re.M)}


def check_dashboards():
    dashboards = {}
    for path in DASHBOARDS:
        with open(path, encoding="utf-8") as f:
            dashboards[path] = json.load(f)
    expected = {"overview.json", "dependencies.json", "business.json", "botwatch-agent.json"}
    missing = expected - {os.path.basename(p) for p in dashboards}
    problems = [f"missing dashboard {m}" for m in sorted(missing)]
    problems += dashboard_problems(dashboards, runbook_anchors())
    linked = sum(1 for d in dashboards.values() for p in d["panels"] if p.get("links"))
    if linked < 15:
        problems.append(f"only {linked} panels link to the runbook of their alert")

    # Every expression must parse: ask a real Prometheus (no targets needed).
    w = Workdir("botwatch-dash.")
    prom = Prometheus(w.path, "global: {scrape_interval: 15s}\n")
    count = 0
    try:
        prom.wait_ready()
        canary = prom.query('sum(rate(botwatch_collector_up{job=~"x"}[5m])')
        if canary.get("status") != "error" or "parse error" not in canary.get("error", ""):
            raise Failure(f"Prometheus accepted broken PromQL, so this check proves nothing: {canary}")
        for path, d in dashboards.items():
            for p, t in dashboard_targets(d):
                answer = prom.query(substitute(t["expr"]))
                count += 1
                if answer.get("status") != "success":
                    problems.append(f"{os.path.basename(path)}: panel {p['title']!r} {t['refId']}: "
                                    f"{answer.get('error')}: {t['expr']}")
            for v in d["templating"]["list"]:
                if v.get("type") == "query":
                    q = re.fullmatch(r"label_values\((.+), *(\w+)\)", v["definition"])
                    if not q:
                        problems.append(f"{os.path.basename(path)}: variable {v['name']}: unexpected query")
                        continue
                    answer = prom.query(substitute(q.group(1)))
                    if answer.get("status") != "success":
                        problems.append(f"{os.path.basename(path)}: variable {v['name']}: {answer.get('error')}")
    finally:
        prom.stop()
        w.remove()
    if problems:
        raise Failure("\n".join(problems))
    log(f"{len(dashboards)} dashboards, {count} queries, {linked} panels linking their alert's runbook: "
        "structure ok, every query parses in Prometheus")


def jsonnet_eval(code):
    _, out = run(["jsonnet", "-J", REPO, "-e", code], merge_stderr=False)
    return json.loads(out)


def readme_mixin_example_problems():
    """The README's own-_config example, run as an operator would: the repository
    checked out as botwatch/, `jsonnet -m out/`, then promtool on the rules."""
    with open(os.path.join(REPO, "README.md"), encoding="utf-8") as f:
        m = re.search(r"```jsonnet\n(.*?)```", f.read(), flags=re.S)
    if not m:
        return ["README.md has no jsonnet example of a custom _config"]
    w = Workdir("botwatch-mixin.")
    try:
        os.symlink(REPO, os.path.join(w.path, "botwatch"))
        w.file("botwatch-mixin.jsonnet", m.group(1))
        os.makedirs(os.path.join(w.path, "out"))
        run(["jsonnet", "-J", w.path, "-m", os.path.join(w.path, "out"),
             os.path.join(w.path, "botwatch-mixin.jsonnet")])
        out = sorted(os.listdir(os.path.join(w.path, "out")))
        want = sorted(["botwatch.rules.yml"] + [os.path.basename(d) for d in DASHBOARDS])
        if out != want:
            return [f"the README example writes {out}, expected {want}"]
        _, checked = run(["promtool", "check", "rules", os.path.join(w.path, "out", "botwatch.rules.yml")])
        with open(os.path.join(w.path, "out", "overview.json"), encoding="utf-8") as f:
            overview = json.load(f)
        if "chatbots" not in json.dumps(overview["templating"]):
            return ["the README example's botwatchSelector does not reach the dashboards"]
        log(f"README example: {len(out)} files, {checked.strip().splitlines()[-1].strip()}")
        return []
    finally:
        w.remove()


def check_mixin():
    """The committed files are the mixin's rendering, and _config is what drives it."""
    code, out = run([sys.executable, os.path.join(REPO, "mixin", "build.py"), "--check"], check=False)
    if code != 0:
        raise Failure(out)
    m = jsonnet_eval("""
        local m = import 'mixin/mixin.libsonnet';
        { fields: std.objectFieldsAll(m), rules: m.prometheusRules, alerts: m.prometheusAlerts,
          dashboards: std.objectFields(m.grafanaDashboards) }""")
    problems = []
    for field in ("prometheusAlerts", "prometheusRules", "grafanaDashboards", "_config"):
        if field not in m["fields"]:
            problems.append(f"mixin.libsonnet has no {field}")
    names = [r["alert"] for g in m["alerts"]["groups"] for r in g["rules"]]
    problems += [f"alert {n} does not start with Bot" for n in sorted(set(names)) if not n.startswith("Bot")]
    problems += [f"alert {r['alert']} lacks the mixin=botwatch label" for g in m["alerts"]["groups"]
                 for r in g["rules"] if r["labels"].get("mixin") != "botwatch"]
    # An operator's own _config, as the README shows it, must reach every output.
    custom = jsonnet_eval("""
        local m = (import 'mixin/mixin.libsonnet') + { _config+:: {
          botwatchSelector: 'job="chatbots"', runbookURL: 'https://wiki.example.com/botwatch',
          botMemoryMiB: 1024, errorRatePercent: 5, pendingInterventions: 9 } };
        { alerts: m.prometheusAlerts, dashboards: m.grafanaDashboards }""")
    rules = {r["alert"]: r for g in custom["alerts"]["groups"] for r in g["rules"]}
    text = json.dumps(custom)
    for alert, needle in (("BotHighMemory", "> 1024 * 1024 * 1024"), ("BotHighErrorRate", "> 5 / 100"),
                          ("BotHumanInterventionsPending", "> 9"), ("BotwatchTargetDown", 'up{job="chatbots"}')):
        if needle not in rules[alert]["expr"]:
            problems.append(f"_config override does not reach {alert}: {rules[alert]['expr']}")
    if "above 1024 MiB" not in rules["BotHighMemory"]["annotations"]["description"]:
        problems.append("BotHighMemory's description does not follow botMemoryMiB")
    if any(not r["annotations"]["runbook_url"].startswith("https://wiki.example.com/botwatch#") for r in rules.values()):
        problems.append("runbookURL does not reach every alert")
    if ".*botwatch.*" in text or "github.com/botwatch" in text:
        problems.append("the default selector or runbook URL survives an override")
    if 'label_values(botwatch_build_info{job=\\"chatbots\\"}, job)' not in text:
        problems.append("the dashboards' job variable does not follow botwatchSelector")
    problems += readme_mixin_example_problems()
    if problems:
        raise Failure("\n".join(problems))
    log(f"mixin: committed files up to date; {len(names)} alerts named Bot*, {len(m['dashboards'])} dashboards; "
        "a custom _config reaches thresholds, selectors and runbook links")


def check_self_test():
    """The checkers above must catch what they claim to: feed them broken inputs."""
    problems = []

    def expect(found, needle, what):
        if not any(needle in f for f in found):
            problems.append(f"{what}: expected a problem containing {needle!r}, got {found}")

    rules = ("  - alert: A\n    expr: x\n    labels: {severity: page}\n    annotations:\n"
             "      summary: s\n      description: \"no value\"\n"
             f"      runbook_url: \"{RUNBOOK_BASE}a\"\n"
             "  - alert: B\n    expr: y\n    labels: {severity: warning}\n    annotations:\n"
             f"      summary: s\n      description: \"v {{{{ $value }}}}\"\n      runbook_url: \"{RUNBOOK_BASE}nowhere\"\n")
    tests = "  - name: A fires\n    alert_rule_test:\n      - alertname: A\n        exp_alerts:\n          - exp_labels: {}\n"
    _, found = alert_coverage_problems(rules, "# Runbook\n## A\n## B section\n", tests)
    expect(found, "A: severity page", "alert coverage: severity")
    expect(found, "A: the description does not show the value", "alert coverage: $value")
    expect(found, "B: alerts/RUNBOOK.md has no section #nowhere", "alert coverage: runbook anchor")
    expect(found, "B: no unit test in alerts/tests/ expects it to fire", "alert coverage: firing test")

    with open(DASHBOARDS[0], encoding="utf-8") as f:
        good = json.load(f)
    bad = json.loads(json.dumps(good))
    first = next(p for p in bad["panels"] if p["type"] != "row")
    first["datasource"] = {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
    first["targets"][0]["expr"] = "up"
    bad["templating"]["list"] = [v for v in bad["templating"]["list"] if v["name"] != "instance"]
    first["description"] = ""
    first["links"] = [{"url": RUNBOOK_BASE + "nowhere"}]
    found = dashboard_problems({"a.json": good, "b.json": bad}, {"bothighmemory"})
    expect(found, "hard-coded datasource uid 'P1809F7CD0C75ACF3'", "dashboards: hard-coded datasource")
    expect(found, "does not filter on $job and $instance", "dashboards: variables in queries")
    expect(found, "no template variable instance", "dashboards: template variables")
    expect(found, "also used by a.json", "dashboards: unique uids")
    expect(found, "no description", "dashboards: panel descriptions")
    expect(found, "has no section #nowhere", "dashboards: runbook links")
    if dashboard_problems({"a.json": good}):
        problems.append(f"a shipped dashboard alone has problems: {dashboard_problems({'a.json': good})}")

    found = scrape_auth_problems("scrape_configs:\n  - job_name: botwatch\n    static_configs: []\n"
                                 "  - job_name: botwatch-x\n    basic_auth:\n      username: p\n"
                                 "      password: s3cret\n  - job_name: node\n    static_configs: []\n", "/")
    expect(found, "job botwatch: no basic_auth", "prometheus: basic_auth")
    expect(found, "job botwatch-x: basic_auth holds the password inline", "prometheus: inline password")
    expect(found, "job botwatch-x: basic_auth has no password_file", "prometheus: password_file")
    if any("node" in f for f in found):
        problems.append(f"prometheus: a non-botwatch job was asked for basic auth: {found}")

    with open(os.path.join(REPO, "alerts", "alertmanager-botwatch.yml"), encoding="utf-8") as f:
        fragment = f.read()
    loose = fragment.replace("target_matchers: ['mixin=\"botwatch\"', 'alertname!=\"BotwatchTargetDown\"']",
                             "target_matchers: ['alertname!=\"BotwatchTargetDown\"']")
    found = alertmanager_fragment_problems(loose, merge_alertmanager(FOREIGN_ALERTMANAGER, loose).replace(
        "botwatch-warning", "botwatch-warn"))
    expect(found, "target_matchers not limited to mixin", "alertmanager: inhibit scope")
    expect(found, "does not hold the fragment's receivers", "alertmanager: worked example")
    if alertmanager_fragment_problems(fragment, merge_alertmanager(FOREIGN_ALERTMANAGER, fragment)):
        problems.append("the shipped fragment merged into a foreign file has problems: "
                        f"{alertmanager_fragment_problems(fragment, merge_alertmanager(FOREIGN_ALERTMANAGER, fragment))}")

    found = family_problems({"botwatch_a": "x.cc", "botwatch_b_seconds": "y.cc", "botwatch_c": "z.cc",
                             "botwatch_d": "w.cc"},
                            "rate(botwatch_b_seconds_bucket[5m]) + botwatch_d + botwatch_ab", {"botwatch_c", "botwatch_d", "gone"})
    expect(found, "botwatch_a (x.cc) is in no dashboard panel", "families: unused family")
    expect(found, "keeps gone for ad-hoc queries, but nothing exports it", "families: stale ad-hoc entry")
    expect(found, "keeps botwatch_d for ad-hoc queries, but a panel or an alert uses it", "families: ad-hoc yet used")
    if any("botwatch_b_seconds" in f or "botwatch_c " in f for f in found):
        problems.append(f"families: a histogram used through _bucket, or an ad-hoc family, was reported: {found}")
    if preset_families("rules:\n  - metric: w\n    type: duration\n  - metric: s\n    type: session\n"
                       "  - metric: c_total\n    type: counter\n") != {
            "w", "w_unmatched_total", "w_expired_total", "w_pending", "s_duration_seconds", "s_messages",
            "s_active", "s_evicted_total", "c_total"}:
        problems.append("families: preset_families misreads rule types")

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from e2e_test import e2e_rules  # noqa: E402
    shortened = e2e_rules("".join(f"    for: {d}\n" for d in ("1m", "5m", "2m", "10m", "15m", "30m", "1h",
                                                                 "1h30m", "30s", "1m")))
    want = "".join(f"    for: {d}\n" for d in ("1s", "5s", "2s", "10s", "15s", "30s", "60s", "90s", "1s", "1s"))
    if shortened != want:
        problems.append(f"e2e_rules shortens `for:` to\n{shortened}instead of\n{want}")
    if problems:
        raise Failure("\n".join(problems))
    log("the checkers catch a wrong severity, a missing $value, a dangling runbook link, an untested alert, "
        "a hard-coded datasource, unfiltered queries, a missing variable, a duplicate uid; `for:` is shortened")


# ------------------------------------------------------------------ families
SOURCE_DIRS = ("collectors", "collectors/lib", "agent", "logs", "push", "supervise")
# Families whose names the source builds from pieces: (name, the pieces that must
# still be in that file, so the entry goes away with the code).
CONSTRUCTED = [
    ("botwatch_socketio_ping_interval_seconds", "collectors/socketio.cc", ['"botwatch_socketio_"', '"ping_interval"']),
    ("botwatch_socketio_ping_timeout_seconds", "collectors/socketio.cc", ['"botwatch_socketio_"', '"ping_timeout"']),
]
# What each rule type of a log preset exports, from its `metric:` name.
RULE_FAMILIES = {
    "duration": ["{m}", "{m}_unmatched_total", "{m}_expired_total", "{m}_pending"],
    "session": ["{m}_duration_seconds", "{m}_messages", "{m}_active", "{m}_evicted_total"],
}
PRESET = os.path.join(REPO, "config", "presets", "messenger-bot.yaml")
MIXIN_README = os.path.join(REPO, "mixin", "README.md")


def source_families(repo=REPO):
    """{family: file} of every family name the C++ sources spell out."""
    out = {}
    for d in SOURCE_DIRS:
        for path in sorted(glob.glob(os.path.join(repo, d, "*.cc"))):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            rel = os.path.relpath(path, repo)
            # botwatch_* anywhere; process_* only as the agent's own standard families.
            pattern = r'"((?:botwatch|process)_[a-z0-9_]*[a-z0-9])"' if d == "agent" else r'"(botwatch_[a-z0-9_]*[a-z0-9])"'
            for name in re.findall(pattern, text):
                out.setdefault(name, rel)
    for name, rel, pieces in CONSTRUCTED:
        with open(os.path.join(repo, rel), encoding="utf-8") as f:
            text = f.read()
        if all(p in text for p in pieces):
            out.setdefault(name, rel)
    return out


def preset_families(text):
    """Families a log preset's rules export."""
    out = set()
    for metric, body in re.findall(r"^  - metric: (\S+)\n((?:    .*\n?)*)", text, flags=re.M):
        kind = re.search(r"^    type: (\w+)", body, flags=re.M)
        for pattern in RULE_FAMILIES.get(kind.group(1) if kind else "", ["{m}"]):
            out.add(pattern.format(m=metric))
    return out


def adhoc_families(readme_text):
    """The families mixin/README.md keeps for ad-hoc queries: the names in backquotes
    on the `- ` lines of its "Families kept for ad-hoc queries" section."""
    m = re.search(r"^## Families kept for ad-hoc queries\n(.*?)(?=^## |\Z)", readme_text, flags=re.M | re.S)
    if not m:
        return None
    return {name for line in re.findall(r"^- (.*)$", m.group(1), flags=re.M)
            for name in re.findall(r"`([a-zA-Z_:][a-zA-Z0-9_:]*)`", line)}


def used_in(name, exprs):
    """Whether a PromQL text uses family `name` (a histogram through its _bucket,
    _sum or _count series)."""
    return re.search(rf"(?<![a-zA-Z0-9_:]){re.escape(name)}(?:_bucket|_sum|_count)?(?![a-zA-Z0-9_:])", exprs) is not None


def family_problems(families, exprs, adhoc):
    """Problems: a family in no query and not kept for ad-hoc use, an ad-hoc entry
    that a query uses anyway or that nothing exports."""
    problems = []
    for name in sorted(families):
        if not used_in(name, exprs) and name not in adhoc:
            problems.append(f"{name} ({families[name]}) is in no dashboard panel and no alert, and not in "
                            "mixin/README.md's families kept for ad-hoc queries")
    for name in sorted(adhoc):
        if name not in families:
            problems.append(f"mixin/README.md keeps {name} for ad-hoc queries, but nothing exports it")
        elif used_in(name, exprs):
            problems.append(f"mixin/README.md keeps {name} for ad-hoc queries, but a panel or an alert uses it")
    return problems


def shipped_exprs():
    """Every dashboard query and alert expression, as one text."""
    parts = []
    for path in DASHBOARDS:
        with open(path, encoding="utf-8") as f:
            parts += [t.get("expr", "") for _, t in dashboard_targets(json.load(f))]
    with open(RULES, encoding="utf-8") as f:
        parts += [body for _, body in alert_blocks(f.read())]
    return "\n".join(parts)


def check_families():
    families = source_families()
    with open(PRESET, encoding="utf-8") as f:
        for name in preset_families(f.read()):
            families.setdefault(name, "config/presets/messenger-bot.yaml")
    with open(MIXIN_README, encoding="utf-8") as f:
        adhoc = adhoc_families(f.read())
    if adhoc is None:
        raise Failure("mixin/README.md has no section \"## Families kept for ad-hoc queries\"")
    if len(families) < 100:
        raise Failure(f"only {len(families)} families found in the sources: the scan is broken")
    problems = family_problems(families, shipped_exprs(), adhoc)
    if problems:
        raise Failure("\n".join(problems))
    log(f"{len(families)} families: {len(families) - len(adhoc)} in a panel or an alert, "
        f"{len(adhoc)} kept for ad-hoc queries (mixin/README.md)")


CHECKS = {"self-test": check_self_test, "families": check_families, "rules": check_rules, "rule-tests": check_rule_tests, "alert-coverage": check_alert_coverage,
          "alertmanager": check_alertmanager, "prometheus": check_prometheus_config,
          "dashboards": check_dashboards, "mixin": check_mixin}


def main(argv):
    if len(argv) != 1 or argv[0] not in CHECKS:
        print(f"usage: static_checks.py {{{'|'.join(CHECKS)}}}", file=sys.stderr)
        return 2
    try:
        CHECKS[argv[0]]()
    except Failure as e:
        print(f"FAIL {argv[0]}:\n{e}", file=sys.stderr)
        return 1
    log(f"PASS {argv[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
