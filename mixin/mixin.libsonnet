// botwatch monitoring mixin: alerts and Grafana dashboards for a chatbot
// watched by botwatch. Plain jsonnet (no grafonnet), e.g. Debian's jsonnet:
//   jsonnet -J . -e '(import "mixin/mixin.libsonnet").prometheusAlerts'
// `python3 mixin/build.py` renders alerts/botwatch.rules.yml and dashboards/*.json.
(import 'config.libsonnet') +
(import 'alerts/alerts.libsonnet') +
(import 'dashboards/dashboards.libsonnet') +
// Issue 29: host, queues, database growth, certificates, hand-offs (appended groups and panels).
(import 'alerts/host_and_queues.libsonnet') +
(import 'dashboards/host_and_queues.libsonnet') +
{
  // botwatch needs no recording rules; the field is here so that tools which
  // expect a mixin's three fields find them.
  prometheusRules+:: { groups+: [] },
}
