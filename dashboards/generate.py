#!/usr/bin/env python3
"""Generates the Grafana dashboards in this directory (python3 stdlib only).

The JSON files are committed and importable as they are; this script is their
source. Edit the panels here, then run

    python3 dashboards/generate.py          # rewrite dashboards/*.json
    python3 dashboards/generate.py --check  # exit 1 if a committed file differs

`make test` runs the --check form, so the JSON never drifts from this file.

Conventions every dashboard follows (checked by tests/e2e/check_dashboards.py):
- `__inputs` declares DS_PROMETHEUS, and a datasource template variable of the
  same name exists, so the JSON works both through the import UI and through
  file provisioning. Every panel and target uses {"uid": "${DS_PROMETHEUS}"}.
- `job` and `instance` template variables; every query filters on both.
- Stable uids (botwatch-*), so links and provisioning survive re-imports.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
SEL = 'job=~"$job", instance=~"$instance"'
# Extra matchers (f-strings of python 3.11 cannot hold backslashes).
INBOUND = 'direction="inbound"'
POSTGRES = 'type="postgres"'
SOCKETIO = 'type="socketio"'
GEMINI = 'type="gemini"'
GEMINI_QUOTA = 'type="gemini", reason="quota_exhausted"'
CACHE_HIT = 'result="hit"'
WINDOW_24H = 'window="24h"'


def sel(extra=""):
    """Label matchers for the selected job and instance, plus `extra`."""
    return "{" + SEL + (", " + extra if extra else "") + "}"


class Layout:
    """Places panels left to right on Grafana's 24-column grid."""

    def __init__(self):
        self.x = 0
        self.y = 0
        self.row_h = 0
        self.next_id = 1

    def place(self, w, h):
        if self.x + w > 24:
            self.x = 0
            self.y += self.row_h
            self.row_h = 0
        pos = {"x": self.x, "y": self.y, "w": w, "h": h}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def row(self, title):
        if self.x:
            self.y += self.row_h
        self.x, self.row_h = 0, 0
        panel = {"type": "row", "title": title, "id": self.take_id(), "collapsed": False,
                 "gridPos": {"x": 0, "y": self.y, "w": 24, "h": 1}, "panels": []}
        self.y += 1
        return panel

    def take_id(self):
        i = self.next_id
        self.next_id += 1
        return i


def target(expr, legend="", ref="A", instant=False, interval=None):
    t = {"datasource": DS, "expr": expr, "refId": ref, "legendFormat": legend or "__auto",
         "range": not instant, "instant": instant, "editorMode": "code"}
    if interval:
        t["interval"] = interval
    return t


def refs(targets):
    out = []
    for i, t in enumerate(targets):
        t = dict(t)
        t["refId"] = chr(ord("A") + i) if i < 26 else "A" + chr(ord("A") + i - 26)
        out.append(t)
    return out


def panel(lay, kind, title, targets, w=8, h=8, unit=None, description="", options=None,
          defaults=None, overrides=None, **extra):
    fc_defaults = {"color": {"mode": "palette-classic"}}
    if unit:
        fc_defaults["unit"] = unit
    if defaults:
        fc_defaults.update(defaults)
    p = {"type": kind, "title": title, "id": lay.take_id(), "datasource": DS,
         "gridPos": lay.place(w, h), "targets": refs(targets),
         "fieldConfig": {"defaults": fc_defaults, "overrides": overrides or []},
         "options": options or {}}
    if description:
        p["description"] = description
    p.update(extra)
    return p


def timeseries(lay, title, targets, **kw):
    opts = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"}}
    return panel(lay, "timeseries", title, targets, options=opts, **kw)


UP_DOWN = {
    "mappings": [{"type": "value", "options": {
        "0": {"text": "DOWN", "color": "red", "index": 0},
        "1": {"text": "UP", "color": "green", "index": 1}}}],
    "thresholds": {"mode": "absolute", "steps": [
        {"color": "red", "value": None}, {"color": "green", "value": 1}]},
    "color": {"mode": "thresholds"},
}


def stat(lay, title, targets, thresholds=None, mappings=None, color_mode="background", **kw):
    defaults = kw.pop("defaults", {})
    if thresholds is not None:
        defaults["thresholds"] = {"mode": "absolute", "steps": thresholds}
        defaults["color"] = {"mode": "thresholds"}
    if mappings is not None:
        defaults["mappings"] = mappings
    opts = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": color_mode, "graphMode": "none", "justifyMode": "auto",
            "orientation": "auto", "textMode": "value_and_name", "wideLayout": True}
    return panel(lay, "stat", title, targets, options=opts, defaults=defaults, **kw)


def updown(lay, title, targets, **kw):
    d = json.loads(json.dumps(UP_DOWN))
    return stat(lay, title, targets, thresholds=d["thresholds"]["steps"], mappings=d["mappings"], **kw)


def variables():
    def query_var(name, label, query):
        return {"type": "query", "name": name, "label": label, "datasource": DS,
                # The plain-string form: Grafana 10 and 11 both read it (and migrate it).
                "query": query,
                "definition": query, "refresh": 2, "includeAll": True, "multi": True,
                "allValue": ".*", "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                "sort": 1, "options": [], "hide": 0}
    return {"list": [
        {"type": "datasource", "name": "DS_PROMETHEUS", "label": "Prometheus", "query": "prometheus",
         "current": {}, "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1,
         "regex": ""},
        query_var("job", "Job", "label_values(botwatch_build_info, job)"),
        query_var("instance", "Instance", 'label_values(botwatch_build_info{job=~"$job"}, instance)'),
    ]}


def dashboard(uid, title, description, panels, lay_panels_types):
    requires = [{"type": "grafana", "id": "grafana", "name": "Grafana", "version": "10.0.0"},
                {"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}]
    for t in sorted(lay_panels_types):
        requires.append({"type": "panel", "id": t, "name": t, "version": ""})
    return {
        "__inputs": [{"name": "DS_PROMETHEUS", "label": "Prometheus", "description": "Prometheus that scrapes botwatch",
                      "type": "datasource", "pluginId": "prometheus", "pluginName": "Prometheus"}],
        "__elements": {},
        "__requires": requires,
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["botwatch"],
        "editable": True,
        "graphTooltip": 1,
        "id": None,
        "links": [{"type": "dashboards", "tags": ["botwatch"], "asDropdown": True, "title": "botwatch",
                   "includeVars": True, "keepTime": True, "icon": "external link", "targetBlank": False,
                   "tooltip": "", "url": ""}],
        "panels": panels,
        "refresh": "30s",
        "schemaVersion": 38,
        "templating": variables(),
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "browser",
        "version": 1,
        "weekStart": "",
        "annotations": {"list": [{"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                                  "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
                                  "name": "Annotations & Alerts", "type": "dashboard"}]},
    }


def finish(uid, title, description, panels):
    kinds = {p["type"] for p in panels if p["type"] != "row"}
    return dashboard(uid, title, description, panels, kinds)


# ---------------------------------------------------------------- overview
def overview():
    lay = Layout()
    ps = [lay.row("Health")]
    ps.append(updown(lay, "botwatch scrape", [target(f"up{sel()}", "{{instance}}")], w=4, h=4,
                     description="Whether Prometheus can scrape botwatch (up)."))
    ps.append(updown(lay, "Dependencies", [target(f"botwatch_collector_up{sel()}", "{{collector}}")], w=20, h=4,
                     description="Last probe of each collector: UP (green) or DOWN (red)."))
    ps.append(lay.row("Traffic"))
    inbound = f'bot_messages_total{sel()}'
    ps.append(timeseries(lay, "Messages per minute (dashed: same time yesterday)", [
        target(f"sum by (direction) (rate({inbound}[$__rate_interval])) * 60", "{{direction}}"),
        target(f"sum by (direction) (rate({inbound}[$__rate_interval] offset 1d)) * 60", "{{direction}} yesterday"),
    ], w=12, unit="short", overrides=[{
        "matcher": {"id": "byRegexp", "options": ".* yesterday"},
        "properties": [{"id": "custom.lineStyle", "value": {"dash": [10, 10], "fill": "dash"}},
                       {"id": "custom.lineWidth", "value": 1}]}]))
    ps.append(stat(lay, "Active users", [
        target(f"max by (window) (bot_active_users{sel()})", "{{window}}")],
        w=6, h=8, color_mode="none", unit="short",
        description="Distinct users seen in the last 30 minutes, 24 hours and 7 days."))
    ps.append(stat(lay, "Human interventions pending", [
        target(f"sum(bot_human_interventions_pending{sel()})", "pending")],
        w=6, h=8, thresholds=[{"color": "green", "value": None}, {"color": "orange", "value": 3},
                               {"color": "red", "value": 6}],
        description="Conversations handed to a human and still waiting (alert above 5)."))
    ps.append(timeseries(lay, "Response time", [
        target(f"histogram_quantile({q}, sum by (le) (rate(bot_response_time_seconds_bucket{sel()}[$__rate_interval])))",
               name)
        for q, name in ((0.5, "p50"), (0.95, "p95"), (0.99, "p99"))], w=12, unit="s"))
    ps.append(timeseries(lay, "Error rate (errors per inbound message)", [
        target(f"sum(rate(bot_errors_total{sel()}[$__rate_interval])) / "
               f"sum(rate(bot_messages_total{sel(INBOUND)}[$__rate_interval]))", "error rate")],
        w=6, unit="percentunit", defaults={"max": 1, "min": 0}))
    ps.append(timeseries(lay, "Errors per minute by type", [
        target(f"sum by (type) (rate(bot_errors_total{sel()}[$__rate_interval])) * 60", "{{type}}")],
        w=6, unit="short"))
    # Evaluated at each midnight (1d steps), the series for hour h looks back
    # (23 - h) hours further: it is the count of hour h of the day that just ended.
    heat = [target(f"sum(increase(bot_messages_total{sel(INBOUND)}[1h]" + (f" offset {23 - h}h" if h < 23 else "") + "))",
                   f"{h:02d}:00", interval="1d") for h in range(24)]
    ps.append(panel(lay, "heatmap", "Inbound messages: day × hour of day (last 7 days)", heat, w=16, h=10,
                    description="Each column is a day, each row an hour of that day; colour = inbound messages in that hour.",
                    options={"calculate": False, "cellGap": 1, "color": {"mode": "scheme", "scheme": "Oranges",
                                                                         "fill": "dark-orange", "scale": "exponential",
                                                                         "exponent": 0.5, "steps": 64, "reverse": False},
                             "yAxis": {"axisPlacement": "left", "reverse": True},
                             "rowsFrame": {"layout": "auto"}, "legend": {"show": True},
                             "tooltip": {"show": True, "yHistogram": False},
                             "cellValues": {"unit": "short"}, "showValue": "auto",
                             "filterValues": {"le": 1e-9}, "exemplars": {"color": "rgba(255,0,255,0.7)"}},
                    timeFrom="7d", interval="1d", maxDataPoints=8))
    ps.append(lay.row("Bot process"))
    ps.append(timeseries(lay, "Bot memory (RSS)", [
        target(f"botwatch_process_resident_memory_bytes{sel()}", "{{collector}}")],
        w=12, unit="bytes", defaults={"custom": {"thresholdsStyle": {"mode": "line"}},
                                      "thresholds": {"mode": "absolute", "steps": [
                                          {"color": "green", "value": None}, {"color": "red", "value": 734003200}]}}))
    ps.append(timeseries(lay, "Bot CPU (cores)", [
        target(f"rate(botwatch_process_cpu_seconds_total{sel()}[$__rate_interval])", "{{collector}}")],
        w=12, unit="short"))
    return finish("botwatch-overview", "Bot overview",
                  "Health of the bot and its dependencies, traffic, users, response time and errors.", ps)


# ------------------------------------------------------------ dependencies
def dependencies():
    lay = Layout()
    ps = [lay.row("Probes")]
    ps.append(timeseries(lay, "Probe latency per collector", [
        target(f"botwatch_collector_duration_seconds{sel()}", "{{collector}} ({{type}})")], w=12, unit="s"))
    ps.append(timeseries(lay, "Probe failures per minute by reason", [
        target(f"sum by (collector, reason) (rate(botwatch_collector_errors_total{sel()}[$__rate_interval])) * 60",
               "{{collector}}: {{reason}}")], w=12, unit="short"))
    ps.append(timeseries(lay, "HTTP probe phases", [
        target(f"botwatch_http_phase_seconds{sel()}", "{{collector}} {{phase}}")], w=8, unit="s",
        defaults={"custom": {"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 30}}))
    ps.append(stat(lay, "HTTP status codes", [
        target(f"botwatch_http_status_code{sel()}", "{{collector}}")], w=8, h=8,
        thresholds=[{"color": "red", "value": None}, {"color": "green", "value": 200},
                    {"color": "orange", "value": 300}, {"color": "red", "value": 400}]))
    ps.append(timeseries(lay, "TCP connect time", [
        target(f"botwatch_tcp_connect_seconds{sel()}", "{{collector}}")], w=8, unit="s"))

    ps.append(lay.row("Facebook"))
    ps.append(updown(lay, "Page token valid", [
        target(f"botwatch_facebook_token_valid{sel()}", "{{collector}}")], w=4, h=6))
    ps.append(stat(lay, "Token expires in", [
        target(f"botwatch_facebook_token_expiry_timestamp_seconds{sel()} - time()", "{{collector}}")],
        w=6, h=6, unit="dtdurations",
        thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 604800},
                    {"color": "green", "value": 1209600}],
        description="Countdown to the page token's expiry (never-expiring tokens show a negative age: expiry 0)."))
    ps.append(timeseries(lay, "App rate-limit usage (X-App-Usage)", [
        target(f"botwatch_facebook_app_usage_ratio{sel()}", "{{kind}}")], w=8, h=6, unit="percentunit",
        defaults={"min": 0, "max": 1, "custom": {"thresholdsStyle": {"mode": "line"}},
                  "thresholds": {"mode": "absolute", "steps": [{"color": "green", "value": None},
                                                               {"color": "red", "value": 0.8}]}}))
    ps.append(updown(lay, "Webhook fields subscribed", [
        target(f"botwatch_facebook_webhook_subscribed{sel()}", "{{field}}")], w=6, h=6))

    ps.append(lay.row("Database"))
    ps.append(timeseries(lay, "Connections by state (line: max_connections)", [
        target(f"sum by (state) (botwatch_postgres_connections{sel()})", "{{state}}"),
        target(f"max(botwatch_postgres_max_connections{sel()})", "max_connections")], w=8, unit="short",
        defaults={"custom": {"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 20}},
        overrides=[{"matcher": {"id": "byName", "options": "max_connections"},
                    "properties": [{"id": "custom.stacking", "value": {"mode": "none", "group": "A"}},
                                   {"id": "custom.fillOpacity", "value": 0},
                                   {"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}]}]))
    ps.append(timeseries(lay, "Cache hit ratio", [
        target(f"botwatch_postgres_buffer_cache_hit_ratio{sel()}", "{{collector}} {{datname}}")], w=8,
        unit="percentunit", defaults={"min": 0, "max": 1}))
    ps.append(timeseries(lay, "Longest running query", [
        target(f"botwatch_postgres_longest_query_seconds{sel()}", "{{collector}}")], w=8, unit="s"))
    ps.append(timeseries(lay, "Database probe round trip", [
        target(f'botwatch_collector_duration_seconds{sel(POSTGRES)}', "{{collector}}")],
        w=12, unit="s"))

    ps.append(lay.row("Socket.IO and Gemini"))
    ps.append(timeseries(lay, "Socket.IO round trip (handshake + echo)", [
        target(f'botwatch_collector_duration_seconds{sel(SOCKETIO)}', "{{collector}}")],
        w=12, unit="s"))
    ps.append(timeseries(lay, "Gemini probe latency", [
        target(f'botwatch_collector_duration_seconds{sel(GEMINI)}', "{{collector}}")], w=12, unit="s"))
    ps.append(timeseries(lay, "Gemini quota errors per minute", [
        target(f'sum by (collector) (rate(botwatch_collector_errors_total{sel(GEMINI_QUOTA)}'
               f'[$__rate_interval])) * 60', "{{collector}}")], w=12, unit="short"))
    return finish("botwatch-dependencies", "Bot dependencies",
                  "Probe latency and failures of every collector; Facebook token and rate limits; database; "
                  "Socket.IO; Gemini.", ps)


# ---------------------------------------------------------------- business
def business():
    lay = Layout()
    ps = [lay.row("Outcomes over the selected range")]
    ps.append(stat(lay, "Appointments booked", [
        target(f"sum(increase(bot_appointments_booked_total{sel()}[$__range]))", "booked", instant=True)],
        w=6, h=6, color_mode="none", unit="short", defaults={"decimals": 0}))
    ps.append(stat(lay, "Product inquiries", [
        target(f"sum(increase(bot_product_inquiries_total{sel()}[$__range]))", "inquiries", instant=True)],
        w=6, h=6, color_mode="none", unit="short", defaults={"decimals": 0}))
    ps.append(stat(lay, "Template cache hit ratio", [
        target(f'sum(rate(bot_template_cache_requests_total{sel(CACHE_HIT)}[$__range])) / '
               f"sum(rate(bot_template_cache_requests_total{sel()}[$__range]))", "hit ratio", instant=True)],
        w=6, h=6, unit="percentunit",
        thresholds=[{"color": "red", "value": None}, {"color": "orange", "value": 0.8},
                    {"color": "green", "value": 0.9}]))
    ps.append(stat(lay, "Gemini tokens", [
        target(f"sum(increase(bot_gemini_tokens_total{sel()}[$__range]))", "tokens", instant=True)],
        w=6, h=6, color_mode="none", unit="short"))
    ps.append(panel(lay, "bargauge", "Conversion funnel (SQL business metrics)", [
        target(f"sort_desc(max by (step) (botwatch_postgres_query_funnel_users{sel()}))", "{{step}}", instant=True)],
        w=8, h=9, unit="short", defaults={"decimals": 0},
        description="Users reaching each step of the funnel, from the bot's own tables: the postgres collector's "
                    "custom query named funnel, with a users column and a step label "
                    "(botwatch_postgres_query_funnel_users{step}; see config/botwatch.yaml). "
                    "Steps are sorted by users, so the widest comes first.",
        options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True,
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "valueMode": "color", "namePlacement": "auto", "sizing": "auto", "minVizHeight": 16,
                 "minVizWidth": 8, "maxVizHeight": 300}))
    ps.append(panel(lay, "bargauge", "From messages to bookings (logs)", [
        target(f'max(bot_active_users{sel(WINDOW_24H)})', "1. users (24h)", instant=True),
        target(f'sum(increase(bot_messages_total{sel(INBOUND)}[$__range]))',
               "2. inbound messages", instant=True),
        target(f"sum(increase(bot_product_inquiries_total{sel()}[$__range]))", "3. product inquiries", instant=True),
        target(f"sum(increase(bot_human_interventions_total{sel()}[$__range]))", "4. handed to a human",
               instant=True),
        target(f"sum(increase(bot_appointments_booked_total{sel()}[$__range]))", "5. appointments booked",
               instant=True)],
        w=8, h=9, unit="short",
        description="The same path from the bot's log events over the selected range "
                    "(users: distinct in the last 24 h).",
        options={"orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True,
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "valueMode": "color", "namePlacement": "auto", "sizing": "auto", "minVizHeight": 16,
                 "minVizWidth": 8, "maxVizHeight": 300}))
    ps.append(panel(lay, "bargauge", "Product inquiries by category", [
        target(f"sort_desc(sum by (category) (increase(bot_product_inquiries_total{sel()}[$__range])))",
               "{{category}}", instant=True)],
        w=8, h=9, unit="short",
        options={"orientation": "horizontal", "displayMode": "basic", "showUnfilled": True,
                 "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                 "valueMode": "color", "namePlacement": "auto", "sizing": "auto", "minVizHeight": 16,
                 "minVizWidth": 8, "maxVizHeight": 300}))
    ps.append(lay.row("Over time"))
    ps.append(timeseries(lay, "Appointments booked per hour", [
        target(f"sum(increase(bot_appointments_booked_total{sel()}[1h]))", "booked")], w=12, unit="short"))
    ps.append(timeseries(lay, "Product inquiries per hour by category", [
        target(f"sum by (category) (increase(bot_product_inquiries_total{sel()}[1h]))", "{{category}}")],
        w=12, unit="short", defaults={"custom": {"stacking": {"mode": "normal", "group": "A"}, "fillOpacity": 30}}))
    ps.append(timeseries(lay, "Template cache hit ratio", [
        target(f'sum(rate(bot_template_cache_requests_total{sel(CACHE_HIT)}[$__rate_interval])) / '
               f"sum(rate(bot_template_cache_requests_total{sel()}[$__rate_interval]))", "hit ratio")],
        w=12, unit="percentunit", defaults={"min": 0, "max": 1, "custom": {"thresholdsStyle": {"mode": "line"}},
                                            "thresholds": {"mode": "absolute", "steps": [
                                                {"color": "red", "value": None}, {"color": "green", "value": 0.8}]}}))
    ps.append(timeseries(lay, "Gemini tokens per hour", [
        target(f"sum(increase(bot_gemini_tokens_total{sel()}[1h]))", "tokens")], w=12, unit="short"))
    return finish("botwatch-business", "Bot business",
                  "Appointments, product inquiries, the conversion funnel, template cache and Gemini tokens.", ps)


# ------------------------------------------------------------------- agent
def agent():
    lay = Layout()
    ps = [lay.row("Agent")]
    version = stat(lay, "Version", [target(f"botwatch_build_info{sel()}", "{{instance}}: {{version}} ({{revision}})")],
                   w=8, h=4, color_mode="none")
    version["options"]["textMode"] = "name"  # the version is in the label, the value is always 1
    ps.append(version)
    ps.append(updown(lay, "Last config reload", [
        target(f"botwatch_config_last_reload_successful{sel()}", "{{instance}}")], w=4, h=4,
        description="1 (UP): the last reload succeeded; 0 (DOWN): botwatch runs on its previous config."))
    ps.append(stat(lay, "Uptime", [target(f"time() - process_start_time_seconds{sel()}", "{{instance}}")],
                   w=6, h=4, color_mode="none", unit="dtdurations"))
    ps.append(stat(lay, "Series exported", [target(f"scrape_samples_scraped{sel()}", "{{instance}}")],
                   w=6, h=4, color_mode="none", unit="short"))
    ps.append(lay.row("Collectors"))
    ps.append(timeseries(lay, "Collector probe duration", [
        target(f"botwatch_collector_duration_seconds{sel()}", "{{collector}} ({{type}})")], w=12, unit="s"))
    ps.append(timeseries(lay, "Collector errors per minute by reason", [
        target(f"sum by (collector, reason) (rate(botwatch_collector_errors_total{sel()}[$__rate_interval])) * 60",
               "{{collector}}: {{reason}}")], w=12, unit="short"))
    ps.append(timeseries(lay, "Time since last successful probe", [
        target(f"time() - botwatch_collector_last_success_timestamp_seconds{sel()}", "{{collector}}")],
        w=12, unit="s"))
    ps.append(timeseries(lay, "Scrape duration (Prometheus side)", [
        target(f"scrape_duration_seconds{sel()}", "{{instance}}")], w=12, unit="s"))
    ps.append(lay.row("Log pipeline"))
    ps.append(timeseries(lay, "Log lines per second", [
        target(f"sum by (source) (rate(botwatch_log_lines_total{sel()}[$__rate_interval]))", "{{source}}")],
        w=8, unit="short"))
    ps.append(timeseries(lay, "Log bytes per second", [
        target(f"sum by (source) (rate(botwatch_log_bytes_total{sel()}[$__rate_interval]))", "{{source}}")],
        w=8, unit="Bps"))
    ps.append(timeseries(lay, "Parse errors (share of lines)", [
        target(f"sum by (source) (rate(botwatch_log_parse_errors_total{sel()}[$__rate_interval])) / "
               f"sum by (source) (rate(botwatch_log_lines_total{sel()}[$__rate_interval]))", "{{source}}")],
        w=8, unit="percentunit"))
    ps.append(timeseries(lay, "Unread bytes (lag)", [
        target(f"botwatch_log_lag_bytes{sel()}", "{{source}}")], w=12, unit="bytes"))
    ps.append(timeseries(lay, "Series dropped by the cardinality limit (per minute)", [
        target(f"sum by (metric) (rate(botwatch_log_series_dropped_total{sel()}[$__rate_interval])) * 60",
               "{{metric}}")], w=12, unit="short"))
    ps.append(lay.row("Resources"))
    ps.append(timeseries(lay, "botwatch memory (RSS)", [
        target(f"process_resident_memory_bytes{sel()}", "{{instance}}")], w=8, unit="bytes"))
    ps.append(timeseries(lay, "botwatch CPU (cores)", [
        target(f"rate(process_cpu_seconds_total{sel()}[$__rate_interval])", "{{instance}}")], w=8, unit="short"))
    ps.append(timeseries(lay, "Open file descriptors and threads", [
        target(f"process_open_fds{sel()}", "fds {{instance}}"),
        target(f"process_threads{sel()}", "threads {{instance}}")], w=8, unit="short"))
    return finish("botwatch-agent", "botwatch itself",
                  "The agent's own health: collectors, log pipeline, reloads, memory and CPU.", ps)


DASHBOARDS = {"overview.json": overview, "dependencies.json": dependencies,
              "business.json": business, "botwatch-agent.json": agent}


def render(build):
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main(argv):
    check = "--check" in argv
    stale = []
    for name, build in DASHBOARDS.items():
        path = os.path.join(HERE, name)
        text = render(build)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    if f.read() != text:
                        stale.append(name)
            except FileNotFoundError:
                stale.append(name)
        else:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
    if stale:
        print("dashboards out of date (run python3 dashboards/generate.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
