#!/usr/bin/env python3
"""packaging/digitalocean: the App Platform spec pushes with remote_write (no
extra worker), its health check requires collectors the image's config has, each
replica gets its own instance label, every ${VAR} of the config is an env var of
the spec, and the droplet cloud-init shows both pull and push.
usage: digitalocean_spec_test.py SOURCE_DIR"""
import os
import re
import sys

import yaml

src = sys.argv[1]
do = os.path.join(src, "packaging", "digitalocean")
problems = []


def load(name):
    with open(os.path.join(do, name)) as f:
        return f.read()


app = yaml.safe_load(load("app.yaml"))
config_text = load("botwatch.yaml")
config = yaml.safe_load(config_text)
entrypoint = load("entrypoint.sh")
cloud_init_text = load("cloud-init.yaml")
cloud_init = yaml.safe_load(cloud_init_text)

# Push from the bot's own component: one service, no worker to build and pay for.
services = app.get("services", [])
if len(services) != 1:
    problems.append(f"app.yaml: {len(services)} services, want only the bot")
for kind in ("workers", "jobs"):
    if app.get(kind):
        problems.append(f"app.yaml: has {kind}; botwatch pushes itself")
bot = services[0] if services else {}

# Health check: /-/healthy/NAME,... (the path form of ?require=, as App
# Platform's http_path is a path) on botwatch's internal port, naming the
# supervised child and collectors that the image's config defines.
check = bot.get("health_check", {})
path = check.get("http_path", "")
m = re.fullmatch(r"/-/healthy/([\w.,-]+)", path)
if not m:
    problems.append(f"app.yaml: health check path {path!r} is not /-/healthy/NAME,...")
else:
    known = {"supervised"} | {c["name"] for c in config.get("collectors", [])}
    for name in m.group(1).split(","):
        if name not in known:
            problems.append(f"app.yaml: health check requires {name!r}, not a collector of botwatch.yaml")
    if "supervised" not in m.group(1).split(","):
        problems.append("app.yaml: health check does not require the supervised bot")
if check.get("port") not in bot.get("internal_ports", []):
    problems.append(f"app.yaml: health check port {check.get('port')} is not botwatch's internal port")

# remote_write in the image's config, the shape of issue 14.
remotes = config.get("remote_write") or []
if len(remotes) != 1:
    problems.append(f"botwatch.yaml: {len(remotes)} remote_write entries, want 1")
for rw in remotes:
    for key in ("url", "interval", "external_labels", "basic_auth"):
        if key not in rw:
            problems.append(f"botwatch.yaml: remote_write has no {key}")
    if (rw.get("external_labels") or {}).get("instance") != "${HOSTNAME}":
        problems.append("botwatch.yaml: remote_write instance label is not ${HOSTNAME} (unique per replica)")
    auth = rw.get("basic_auth") or {}
    if "password" in auth:
        problems.append("botwatch.yaml: remote_write password inline; use password_file")
    pw_file = auth.get("password_file", "")
    default = re.search(r"REMOTE_WRITE_PASSWORD_FILE:-([^}]+)\}", entrypoint)
    if not default or default.group(1) != pw_file:
        problems.append(f"botwatch.yaml: password_file {pw_file!r} is not where entrypoint.sh writes the password")

# Every variable the config expands is declared on the component (HOSTNAME comes
# from the container runtime), and the password is a secret.
envs = {e["key"]: e for e in bot.get("envs", [])}
def strings(node):
    if isinstance(node, dict):
        for v in node.values():
            yield from strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from strings(v)
    elif isinstance(node, str):
        yield node


for var in sorted({v for s in strings(config) for v in re.findall(r"\$\{(\w+)\}", s)}):
    if var != "HOSTNAME" and var not in envs:
        problems.append(f"botwatch.yaml uses ${{{var}}}, not an env var of app.yaml")
    elif var in envs and envs[var].get("scope") != "RUN_TIME":
        problems.append(f"app.yaml: {var} is not RUN_TIME")
if envs.get("REMOTE_WRITE_PASSWORD", {}).get("type") != "SECRET":
    problems.append("app.yaml: REMOTE_WRITE_PASSWORD is not a SECRET")
if "HOSTNAME" not in entrypoint:
    problems.append("entrypoint.sh does not make sure HOSTNAME is exported")

# Droplet: pull (basic auth on the scraped port) and push (remote_write appended
# to the installed config, password in a file).
files = {f["path"]: f for f in cloud_init.get("write_files", [])}
web = yaml.safe_load(files.get("/etc/botwatch/web.yml", {}).get("content", "") or "{}")
if not web.get("basic_auth_users"):
    problems.append("cloud-init.yaml: no web config with basic_auth_users (pull)")
pushed = [yaml.safe_load(f.get("content", "")) for path, f in files.items() if path.endswith((".yaml", ".yml"))]
pushed = [p for p in pushed if isinstance(p, dict) and p.get("remote_write")]
if not pushed:
    problems.append("cloud-init.yaml: no remote_write section (push)")
else:
    rw = pushed[0]["remote_write"][0]
    pw_file = (rw.get("basic_auth") or {}).get("password_file")
    if pw_file not in files:
        problems.append(f"cloud-init.yaml: password_file {pw_file} is not written")
    if "url" not in rw or "interval" not in rw:
        problems.append("cloud-init.yaml: remote_write without url or interval")
if not re.search(r">> /etc/botwatch/botwatch.yaml", cloud_init_text):
    problems.append("cloud-init.yaml: the remote_write section is not added to botwatch.yaml")

for p in problems:
    print(p)
if problems:
    sys.exit(1)
print("digitalocean spec OK")
