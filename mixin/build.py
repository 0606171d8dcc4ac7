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

# What the mixin renders, as jsonnet producing {path relative to the repo: text}.
RENDER = """
local m = import 'mixin/mixin.libsonnet';
{
  'alerts/botwatch.rules.yml': std.manifestYamlDoc(m.prometheusAlerts, indent_array_in_object=true, quote_keys=false),
} + {
  ['dashboards/' + name]: std.manifestJsonEx(m.grafanaDashboards[name], '  ')
  for name in std.objectFields(m.grafanaDashboards)
}
"""


def render():
    """{path: text} of every rendered file."""
    out = subprocess.run(["jsonnet", "-J", REPO, "-e", RENDER], capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(f"jsonnet failed:\n{out.stderr}")
    files = json.loads(out.stdout)
    files["alerts/botwatch.rules.yml"] = RULES_HEADER + files["alerts/botwatch.rules.yml"]
    return {path: text if text.endswith("\n") else text + "\n" for path, text in files.items()}


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
