#!/usr/bin/env python3
"""Renders the mixin into the committed files (needs the `jsonnet` program).

    python3 mixin/build.py          # rewrite alerts/botwatch.rules.yml and dashboards/*.json
    python3 mixin/build.py --check  # exit 1, naming the files, if a committed file differs

The rendered files stay in the repository for people without jsonnet;
`make test` runs the --check form, so they never drift from the mixin.
"""

import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

RULES_HEADER = """\
# Prometheus alerting rules for a chatbot watched by botwatch.
# GENERATED from mixin/ by `python3 mixin/build.py`: edit mixin/alerts/alerts.libsonnet
# (thresholds, job selector, runbook URL: mixin/config.libsonnet), not this file.
#
# Load: add this file to `rule_files:` in prometheus.yml (see
# packaging/prometheus/prometheus.yml), then `promtool check rules` it and
# reload Prometheus (SIGHUP or POST /-/reload with --web.enable-lifecycle).
#
# Every alert carries:
#   labels:      severity (critical|warning), component (which part is affected),
#                mixin="botwatch" (alerts/alertmanager.yml routes and inhibits on it)
#   annotations: summary, description (with the measured value) and runbook_url
#                (a section of alerts/RUNBOOK.md: what to check, how to fix).
"""

# What the mixin renders: {path relative to the repo: value}. The text is formatted
# here, not with std.manifestYamlDoc/manifestJsonEx, which take half a minute in
# jsonnet 0.18.
RENDER = """
local m = import 'mixin/mixin.libsonnet';
{ 'alerts/botwatch.rules.yml': m.prometheusAlerts }
+ { ['dashboards/' + name]: m.grafanaDashboards[name] for name in std.objectFields(m.grafanaDashboards) }
"""


def yaml_scalar(v):
    if isinstance(v, str):
        # A JSON string is a valid YAML double-quoted scalar.
        return json.dumps(v, ensure_ascii=False)
    return json.dumps(v)


def to_yaml(v, indent=0):
    """Block-style YAML of JSON data: lists of objects as `- key: ...`,
    multi-line strings as literal blocks (the rules' expressions)."""
    pad = " " * indent
    lines = []
    if isinstance(v, dict):
        for k, x in v.items():
            if isinstance(x, str) and "\n" in x:
                lines.append(f"{pad}{k}: |" + ("" if x.endswith("\n") else "-"))
                lines += [f"{pad}  {l}" if l else "" for l in x.rstrip("\n").split("\n")]
            elif isinstance(x, (dict, list)) and x:
                lines.append(f"{pad}{k}:")
                lines += to_yaml(x, indent + 2)
            else:
                lines.append(f"{pad}{k}: {yaml_scalar(x) if not isinstance(x, (dict, list)) else json.dumps(x)}")
    else:
        for x in v:
            if isinstance(x, dict) and x:
                inner = to_yaml(x, indent + 2)
                lines.append(f"{pad}- {inner[0].lstrip()}")
                lines += inner[1:]
            else:
                lines.append(f"{pad}- {yaml_scalar(x)}")
    return lines


def render():
    """{path: text} of every rendered file."""
    out = subprocess.run(["jsonnet", "-J", REPO, "-e", RENDER], capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"jsonnet failed:\n{out.stderr}")
    files = json.loads(out.stdout)
    rendered = {path: json.dumps(d, indent=2, ensure_ascii=False) + "\n"
                for path, d in files.items() if path.startswith("dashboards/")}
    rendered["alerts/botwatch.rules.yml"] = RULES_HEADER + "\n".join(to_yaml(files["alerts/botwatch.rules.yml"])) + "\n"
    return rendered


def main(argv):
    check = "--check" in argv
    files = render()
    stale = []
    for path, text in files.items():
        full = os.path.join(REPO, path)
        if check:
            try:
                with open(full, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(path)
            except FileNotFoundError:
                stale.append(path)
        else:
            with open(full, "w", encoding="utf-8") as f:
                f.write(text)
    if check:
        rendered = {p for p in files if p.startswith("dashboards/")}
        committed = {"dashboards/" + n for n in os.listdir(os.path.join(REPO, "dashboards")) if n.endswith(".json")}
        stale += sorted(f"{p} (not rendered by the mixin)" for p in committed - rendered)
    if stale:
        print("out of date with mixin/ (run python3 mixin/build.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
