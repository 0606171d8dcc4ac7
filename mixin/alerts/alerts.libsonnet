// botwatch's alerting rules. Thresholds, the job selector, the labels every
// alert carries and the runbook base URL come from _config (config.libsonnet).
// Rendered to alerts/botwatch.rules.yml by `python3 mixin/build.py`.
{
  prometheusAlerts+:: {
    groups+: [
      {
        name: "botwatch-availability",
        rules: [
          {
            alert: "BotwatchTargetDown",
            expr: |||
              up{%(botwatchSelector)s} == 0
            ||| % $._config,
            'for': "2m",
            labels: $._config.commonLabels + {'severity': 'critical', 'component': 'botwatch'},
            annotations: {
              summary: "botwatch on {{ $labels.instance }} cannot be scraped",
              description: "Prometheus job {{ $labels.job }} failed to scrape {{ $labels.instance }} for 2 minutes (up = {{ $value }}). Every other alert for this instance is blind until this is fixed.",
              runbook_url: $._config.runbookURL + '#botwatchtargetdown',
            },
          },
          {
            alert: "BotProcessDown",
            // A `type: process` collector that finds no process, or the child of
            // `botwatch run` (also type="process") while it is not running.
            expr: |||
              botwatch_collector_up{%(botwatchSelector)s, type="process"} == 0
            ||| % $._config,
            'for': "1m",
            labels: $._config.commonLabels + {'severity': 'critical', 'component': 'bot'},
            annotations: {
              summary: "Bot process {{ $labels.collector }} is not running on {{ $labels.instance }}",
              description: "The process collector {{ $labels.collector }} has found no running process for 1 minute (up = {{ $value }}).",
              runbook_url: $._config.runbookURL + '#botprocessdown',
            },
          },
          {
            alert: "BotHighMemory",
            expr: |||
              botwatch_process_resident_memory_bytes{%(botwatchSelector)s}
                > %(botMemoryMiB)s * 1024 * 1024  # threshold: botMemoryMiB
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'bot'},
            annotations: {
              summary: "Bot process {{ $labels.collector }} on {{ $labels.instance }} uses {{ $value | humanize1024 }}B of memory",
              description: "Resident memory of {{ $labels.collector }} is {{ $value | humanize1024 }}B, above %(botMemoryMiB)s MiB for 5 minutes. Node.js bots usually leak through caches or listeners; it will be OOM-killed eventually." % $._config,
              runbook_url: $._config.runbookURL + '#bothighmemory',
            },
          },
          {
            alert: "BotMemoryNearLimit",
            // Only where a limit is set: botwatch_process_memory_limit_bytes is
            // the tightest cgroup v2 memory.max above the process.
            expr: |||
              botwatch_process_resident_memory_bytes{%(botwatchSelector)s}
                / botwatch_process_memory_limit_bytes{%(botwatchSelector)s}
                > %(botMemoryLimitPercent)s / 100  # threshold: botMemoryLimitPercent of the cgroup's memory.max
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'bot'},
            annotations: {
              summary: "Bot process {{ $labels.collector }} on {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its memory limit",
              description: "Resident memory of {{ $labels.collector }} is {{ $value | humanizePercentage }} of its cgroup's memory.max (threshold %(botMemoryLimitPercent)s%%) for 5 minutes. At the limit the kernel's OOM killer ends the bot." % $._config,
              runbook_url: $._config.runbookURL + '#botmemorynearlimit',
            },
          },
          {
            alert: "BotHighCPU",
            expr: |||
              rate(botwatch_process_cpu_seconds_total{%(botwatchSelector)s}[5m])
                > %(botCpuPercent)s / 100  # threshold: botCpuPercent of one core
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'bot'},
            annotations: {
              summary: "Bot process {{ $labels.collector }} on {{ $labels.instance }} uses {{ $value | humanizePercentage }} of a CPU core",
              description: "The process {{ $labels.collector }} used {{ $value | humanizePercentage }} of one core for 5 minutes (threshold %(botCpuPercent)s%%). Node.js runs JavaScript on one thread: near 100%% it answers late or not at all." % $._config,
              runbook_url: $._config.runbookURL + '#bothighcpu',
            },
          },
          {
            alert: "BotRestarting",
            expr: |||
              increase(botwatch_process_restarts_total{%(botwatchSelector)s}[15m])
                >= %(botRestarts)s  # threshold: botRestarts in 15 minutes
            ||| % $._config,
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'bot'},
            annotations: {
              summary: "Bot process {{ $labels.collector }} on {{ $labels.instance }} is restarting",
              description: "{{ $value | printf \"%%.0f\" }} restarts of {{ $labels.collector }} in the last 15 minutes (threshold %(botRestarts)s): it is probably crash-looping." % $._config,
              runbook_url: $._config.runbookURL + '#botrestarting',
            },
          },
          {
            alert: "BotCollectorDown",
            // Any probe failing that has no dedicated alert (http, tcp, exec...).
            // Alertmanager inhibits it when a dedicated alert (BotDatabaseDown,
            // BotGeminiDown...) fires for the same collector.
            expr: |||
              botwatch_collector_up{%(botwatchSelector)s} == 0
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'botwatch'},
            annotations: {
              summary: "Probe {{ $labels.collector }} ({{ $labels.type }}) fails on {{ $labels.instance }}",
              description: "The {{ $labels.type }} collector {{ $labels.collector }} has failed every probe for 5 minutes (up = {{ $value }}). /api/v1/status on botwatch shows the reason.",
              runbook_url: $._config.runbookURL + '#botcollectordown',
            },
          },
        ],
      },
      {
        name: "botwatch-dependencies",
        rules: [
          {
            alert: "BotDatabaseDown",
            // The postgres collector, or any probe named like a database
            // (db, database, postgres, postgresql, optionally with a -suffix),
            // e.g. a tcp collector on port 5432.
            expr: |||
              botwatch_collector_up{%(botwatchSelector)s, type="postgres"} == 0
                or
              botwatch_collector_up{%(botwatchSelector)s, collector=~"(db|database|postgres|postgresql)([-_].+)?"} == 0
            ||| % $._config,
            'for': "1m",
            labels: $._config.commonLabels + {'severity': 'critical', 'component': 'database'},
            annotations: {
              summary: "Database {{ $labels.collector }} is unreachable from {{ $labels.instance }}",
              description: "The {{ $labels.type }} probe {{ $labels.collector }} has failed for 1 minute (up = {{ $value }}). The bot cannot store conversations or book appointments.",
              runbook_url: $._config.runbookURL + '#botdatabasedown',
            },
          },
          {
            alert: "BotDatabaseSlow",
            expr: |||
              botwatch_collector_duration_seconds{%(botwatchSelector)s, type="postgres"}
                > %(databaseSlowMs)s / 1000  # threshold: databaseSlowMs per probe round trip
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'database'},
            annotations: {
              summary: "Database {{ $labels.collector }} answers slowly on {{ $labels.instance }}",
              description: "A probe of {{ $labels.collector }} (connect, SELECT 1 and the configured queries) takes {{ $value | humanizeDuration }}, above %(databaseSlowMs)sms for 5 minutes." % $._config,
              runbook_url: $._config.runbookURL + '#botdatabaseslow',
            },
          },
          {
            alert: "BotDatabaseConnectionsNearLimit",
            expr: |||
              sum by (instance, job, collector) (botwatch_postgres_connections{%(botwatchSelector)s})
                / on (instance, job, collector) botwatch_postgres_max_connections{%(botwatchSelector)s}
                > %(databaseConnectionsPercent)s / 100  # threshold: databaseConnectionsPercent of max_connections
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'database'},
            annotations: {
              summary: "Database {{ $labels.collector }} on {{ $labels.instance }} is near its connection limit",
              description: "{{ $value | humanizePercentage }} of max_connections are in use (threshold %(databaseConnectionsPercent)s%%) for 5 minutes. New connections from the bot will soon be refused." % $._config,
              runbook_url: $._config.runbookURL + '#botdatabaseconnectionsnearlimit',
            },
          },
          {
            alert: "BotDatabasePoolExhausted",
            // The bot's own pool (its `db pool` log line), not the server's
            // max_connections: queries queue in the bot long before the server refuses.
            expr: |||
              (
                sum by (instance, job) (bot_db_pool_clients{%(botwatchSelector)s, state="total"})
                  - sum by (instance, job) (bot_db_pool_clients{%(botwatchSelector)s, state="idle"})
              )
                / sum by (instance, job) (bot_db_pool_max_clients{%(botwatchSelector)s} > 0)
                >= %(databasePoolBusyPercent)s / 100  # threshold: databasePoolBusyPercent of the pool in use
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'database'},
            annotations: {
              summary: "The bot's database pool on {{ $labels.instance }} is {{ $value | humanizePercentage }} in use",
              description: "{{ $value | humanizePercentage }} of the bot's pool clients are busy (threshold %(databasePoolBusyPercent)s%%) for 5 minutes: further queries wait for a client (bot_db_pool_waiting_requests)." % $._config,
              runbook_url: $._config.runbookURL + '#botdatabasepoolexhausted',
            },
          },
          {
            alert: "BotDatabaseCacheHitRatioLow",
            // The ratio is since the statistics were reset, so it moves slowly: a
            // sustained low value means the working set no longer fits shared_buffers.
            expr: |||
              botwatch_postgres_buffer_cache_hit_ratio{%(botwatchSelector)s}
                < %(databaseCacheHitPercent)s / 100  # threshold: databaseCacheHitPercent of block reads
            ||| % $._config,
            'for': "30m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'database'},
            annotations: {
              summary: "Database cache hit ratio is {{ $value | humanizePercentage }} on {{ $labels.instance }}",
              description: "Only {{ $value | humanizePercentage }} of block reads of {{ $labels.collector }} are served from shared buffers (threshold %(databaseCacheHitPercent)s%%) for 30 minutes: queries read from disk and slow down." % $._config,
              runbook_url: $._config.runbookURL + '#botdatabasecachehitratiolow',
            },
          },
          {
            alert: "BotBullMQSchedulerStalled",
            // A repeatable job whose next run is long past due: no worker is
            // taking jobs from the queue, so "every day at 1 AM" did not run.
            expr: |||
              botwatch_bullmq_repeat_overdue_seconds{%(botwatchSelector)s} > %(bullmqRepeatOverdueMinutes)s * 60
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'queue'},
            annotations: {
              summary: "Repeatable job {{ $labels.repeat }} of queue {{ $labels.queue }} on {{ $labels.instance }} did not run",
              description: "Its next run is {{ $value | humanizeDuration }} past due (threshold %(bullmqRepeatOverdueMinutes)s minutes): no BullMQ worker is processing queue {{ $labels.queue }}." % $._config,
              runbook_url: $._config.runbookURL + '#botbullmqschedulerstalled',
            },
          },
          {
            alert: "BotBullMQJobsFailing",
            // completed/failed are the retained sets; BullMQ may trim them, so a
            // rise of `failed` is what counts, not its size.
            expr: |||
              sum by (instance, job, collector, queue) (
                delta(botwatch_bullmq_jobs{%(botwatchSelector)s, state="failed"}[15m])
              ) > %(bullmqFailedJobs)s
            ||| % $._config,
            'for': "0m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'queue'},
            annotations: {
              summary: "BullMQ queue {{ $labels.queue }} on {{ $labels.instance }} is failing jobs",
              description: "{{ $value }} jobs of queue {{ $labels.queue }} failed in the last 15 minutes (threshold %(bullmqFailedJobs)s)." % $._config,
              runbook_url: $._config.runbookURL + '#botbullmqjobsfailing',
            },
          },
          {
            alert: "BotFacebookTokenInvalid",
            expr: |||
              botwatch_facebook_token_valid{%(botwatchSelector)s} == 0
            ||| % $._config,
            'for': "1m",
            labels: $._config.commonLabels + {'severity': 'critical', 'component': 'facebook'},
            annotations: {
              summary: "Facebook page token is invalid ({{ $labels.collector }} on {{ $labels.instance }})",
              description: "The Graph API reports the page access token as invalid or expired (token_valid = {{ $value }}). The bot can neither read nor send messages.",
              runbook_url: $._config.runbookURL + '#botfacebooktokeninvalid',
            },
          },
          {
            alert: "BotFacebookTokenExpiringSoon",
            // expiry 0 means "never expires" in the Graph API's debug_token.
            expr: |||
              (botwatch_facebook_token_expiry_timestamp_seconds{%(botwatchSelector)s} - time())
                < %(facebookTokenExpiryDays)s * 86400  # threshold: facebookTokenExpiryDays
              and botwatch_facebook_token_expiry_timestamp_seconds{%(botwatchSelector)s} > 0
            ||| % $._config,
            'for': "10m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'facebook'},
            annotations: {
              summary: "Facebook page token expires in {{ $value | humanizeDuration }} ({{ $labels.instance }})",
              description: "The page access token checked by {{ $labels.collector }} expires in {{ $value | humanizeDuration }} (threshold %(facebookTokenExpiryDays)s days). Renew it before the bot goes silent." % $._config,
              runbook_url: $._config.runbookURL + '#botfacebooktokenexpiringsoon',
            },
          },
          {
            alert: "BotFacebookRateLimitHigh",
            expr: |||
              botwatch_facebook_app_usage_ratio{%(botwatchSelector)s}
                > %(facebookAppUsagePercent)s / 100  # threshold: facebookAppUsagePercent of any usage kind
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'facebook'},
            annotations: {
              summary: "Facebook app usage {{ $labels.kind }} at {{ $value | humanizePercentage }} ({{ $labels.instance }})",
              description: "The X-App-Usage {{ $labels.kind }} is {{ $value | humanizePercentage }} of the limit (threshold %(facebookAppUsagePercent)s%%) for 5 minutes. At 100%% the Graph API throttles every call." % $._config,
              runbook_url: $._config.runbookURL + '#botfacebookratelimithigh',
            },
          },
          {
            alert: "BotFacebookPageUnsubscribed",
            expr: |||
              botwatch_facebook_webhook_subscribed{%(botwatchSelector)s} == 0
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'critical', 'component': 'facebook'},
            annotations: {
              summary: "Facebook page webhook field {{ $labels.field }} is not subscribed ({{ $labels.instance }})",
              description: "The page's subscribed_apps no longer lists {{ $labels.field }} (subscribed = {{ $value }}) for 5 minutes: Facebook stops delivering those events to the bot.",
              runbook_url: $._config.runbookURL + '#botfacebookpageunsubscribed',
            },
          },
          {
            alert: "BotGeminiDown",
            // Quota exhaustion has its own alert.
            expr: |||
              botwatch_collector_up{%(botwatchSelector)s, type="gemini"} == 0
                unless on (instance, job, collector)
              increase(botwatch_collector_errors_total{%(botwatchSelector)s, type="gemini", reason="quota_exhausted"}[5m]) > 0
            ||| % $._config,
            'for': "2m",
            labels: $._config.commonLabels + {'severity': 'critical', 'component': 'gemini'},
            annotations: {
              summary: "Gemini API unreachable from {{ $labels.instance }}",
              description: "The Gemini probe {{ $labels.collector }} has failed for 2 minutes (up = {{ $value }}). The bot cannot generate answers.",
              runbook_url: $._config.runbookURL + '#botgeminidown',
            },
          },
          {
            alert: "BotGeminiQuotaExhausted",
            expr: |||
              increase(botwatch_collector_errors_total{%(botwatchSelector)s, type="gemini", reason="quota_exhausted"}[5m]) > 0
            ||| % $._config,
            labels: $._config.commonLabels + {'severity': 'critical', 'component': 'gemini'},
            annotations: {
              summary: "Gemini quota exhausted for {{ $labels.instance }}",
              description: "{{ $value | printf \"%.0f\" }} Gemini probes were refused with RESOURCE_EXHAUSTED (HTTP 429) in the last 5 minutes.",
              runbook_url: $._config.runbookURL + '#botgeminiquotaexhausted',
            },
          },
          {
            alert: "BotSocketIODown",
            expr: |||
              botwatch_collector_up{%(botwatchSelector)s, type="socketio"} == 0
            ||| % $._config,
            'for': "2m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'socketio'},
            annotations: {
              summary: "Socket.IO admin backend {{ $labels.collector }} unreachable from {{ $labels.instance }}",
              description: "The Socket.IO probe {{ $labels.collector }} has failed for 2 minutes (up = {{ $value }}). Admins see no live conversations and cannot take over.",
              runbook_url: $._config.runbookURL + '#botsocketiodown',
            },
          },
          {
            alert: "BotSocketIOEventsStopped",
            // The socketio collector's listen connection: a regular event (the
            // admin backend promises metrics:update every 30 s) is overdue, or
            // none arrived since botwatch started. A lost connection shows
            // here too, as the events stop with it.
            expr: |||
              (time() - botwatch_socketio_last_event_timestamp_seconds{%(botwatchSelector)s, event=~"%(socketioHeartbeatEvents)s"} > %(socketioEventSilenceSeconds)s)
              or
              (botwatch_socketio_events_total{%(botwatchSelector)s, event=~"%(socketioHeartbeatEvents)s"} == 0)
            ||| % $._config,
            'for': "3m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'socketio'},
            annotations: {
              summary: "Socket.IO backend {{ $labels.collector }} stopped sending {{ $labels.event }} to {{ $labels.instance }}",
              description: "The last {{ $labels.event }} event on the listen connection came {{ $value | humanizeDuration }} ago (0s: none since botwatch started; threshold %(socketioEventSilenceSeconds)s seconds): the admin live view is not receiving updates." % $._config,
              runbook_url: $._config.runbookURL + '#botsocketioeventsstopped',
            },
          },
        ],
      },
      {
        name: "botwatch-bot-traffic",
        rules: [
          {
            alert: "BotHighErrorRate",
            expr: |||
              sum by (instance, job) (rate(bot_errors_total{%(botwatchSelector)s}[10m]))
                / sum by (instance, job) (rate(bot_messages_total{%(botwatchSelector)s, direction="inbound"}[10m]))
                > %(errorRatePercent)s / 100  # threshold: errorRatePercent of inbound messages
            ||| % $._config,
            'for': "2m",
            labels: $._config.commonLabels + {'severity': 'critical', 'component': 'bot-traffic'},
            annotations: {
              summary: "Bot on {{ $labels.instance }} fails {{ $value | humanizePercentage }} of messages",
              description: "Errors per inbound message over the last 10 minutes: {{ $value | humanizePercentage }} (threshold %(errorRatePercent)s%%). bot_errors_total{type} on the Overview dashboard shows which errors." % $._config,
              runbook_url: $._config.runbookURL + '#bothigherrorrate',
            },
          },
          {
            alert: "BotLowTemplateCacheHitRatio",
            expr: |||
              sum by (instance, job) (rate(bot_template_cache_requests_total{%(botwatchSelector)s, result="hit"}[30m]))
                / sum by (instance, job) (rate(bot_template_cache_requests_total{%(botwatchSelector)s}[30m]))
                < %(templateCacheHitPercent)s / 100  # threshold: templateCacheHitPercent
              and on (instance, job)
              sum by (instance, job) (increase(bot_template_cache_requests_total{%(botwatchSelector)s}[30m]))
                >= 20  # ignore quiet periods: at least 20 lookups in 30 minutes
            ||| % $._config,
            'for': "15m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'bot-traffic'},
            annotations: {
              summary: "Template cache hit ratio is {{ $value | humanizePercentage }} on {{ $labels.instance }}",
              description: "Only {{ $value | humanizePercentage }} of template lookups hit the cache over 30 minutes (threshold %(templateCacheHitPercent)s%%). Misses cost a database query or a Gemini call each." % $._config,
              runbook_url: $._config.runbookURL + '#botlowtemplatecachehitratio',
            },
          },
          {
            alert: "BotHumanInterventionsPending",
            expr: |||
              bot_human_interventions_pending{%(botwatchSelector)s}
                > %(pendingInterventions)s  # threshold: pendingInterventions conversations waiting for a human
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'bot-traffic'},
            annotations: {
              summary: "{{ $value | printf \"%.0f\" }} conversations wait for a human on {{ $labels.instance }}",
              description: "{{ $value | printf \"%%.0f\" }} conversations were handed off to a human and are still pending (threshold %(pendingInterventions)s) for 5 minutes." % $._config,
              runbook_url: $._config.runbookURL + '#bothumaninterventionspending',
            },
          },
          {
            alert: "BotResponseTimeP95High",
            // Two severities under one name: Alertmanager's inhibition mutes the
            // warning while the critical one fires for the same instance.
            expr: |||
              histogram_quantile(0.95, sum by (instance, job, le) (rate(bot_response_time_seconds_bucket{%(botwatchSelector)s}[10m])))
                > %(responseTimeP95WarningSeconds)s  # threshold: responseTimeP95WarningSeconds at the 95th percentile
            ||| % $._config,
            'for': "10m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'bot-traffic'},
            annotations: {
              summary: "Bot p95 response time is {{ $value | humanizeDuration }} on {{ $labels.instance }}",
              description: "95%% of replies over the last 10 minutes took up to {{ $value | humanizeDuration }} (threshold %(responseTimeP95WarningSeconds)ss), for 10 minutes." % $._config,
              runbook_url: $._config.runbookURL + '#botresponsetimep95high',
            },
          },
          {
            alert: "BotResponseTimeP95High",
            // Two severities under one name: Alertmanager's inhibition mutes the
            // warning while the critical one fires for the same instance.
            expr: |||
              histogram_quantile(0.95, sum by (instance, job, le) (rate(bot_response_time_seconds_bucket{%(botwatchSelector)s}[10m])))
                > %(responseTimeP95Seconds)s  # threshold: responseTimeP95Seconds at the 95th percentile
            ||| % $._config,
            'for': "10m",
            labels: $._config.commonLabels + {'severity': 'critical', 'component': 'bot-traffic'},
            annotations: {
              summary: "Bot p95 response time is {{ $value | humanizeDuration }} on {{ $labels.instance }}",
              description: "95%% of replies over the last 10 minutes took up to {{ $value | humanizeDuration }} (threshold %(responseTimeP95Seconds)ss), for 10 minutes." % $._config,
              runbook_url: $._config.runbookURL + '#botresponsetimep95high',
            },
          },
          {
            alert: "BotMessageVolumeDropped",
            // Compared with the same hour one week earlier, so nights and weekends
            // do not fire it. The `or 0 * ...` keeps the comparison alive when the
            // counter has vanished entirely (no inbound message since botwatch started).
            expr: |||
              (
                sum by (instance, job) (rate(bot_messages_total{%(botwatchSelector)s, direction="inbound"}[1h]))
                  or
                0 * sum by (instance, job) (rate(bot_messages_total{%(botwatchSelector)s, direction="inbound"}[1h] offset 1w))
              )
                < 0.5  # threshold: under half of last week's volume
                  * sum by (instance, job) (rate(bot_messages_total{%(botwatchSelector)s, direction="inbound"}[1h] offset 1w))
              and on (instance, job)
              sum by (instance, job) (increase(bot_messages_total{%(botwatchSelector)s, direction="inbound"}[1h] offset 1w))
                >= 20  # ignore hours that were quiet last week: at least 20 messages
            ||| % $._config,
            'for': "30m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'bot-traffic'},
            annotations: {
              summary: "Inbound messages dropped on {{ $labels.instance }}",
              description: "Inbound messages run at {{ $value | humanize }}/s over the last hour, under half of the same hour one week ago, for 30 minutes. Check the Facebook webhook subscription and the page token first.",
              runbook_url: $._config.runbookURL + '#botmessagevolumedropped',
            },
          },
          {
            alert: "BotLogsSilent",
            expr: |||
              sum by (instance, job, source) (rate(botwatch_log_lines_total{%(botwatchSelector)s}[30m])) == 0
              and on (instance, job)
              max by (instance, job) (
                botwatch_collector_up{%(botwatchSelector)s, type="process"}
                # botwatch watching itself (a `self` process collector) is never the bot
                unless on (instance, job, collector) botwatch_process_is_botwatch{%(botwatchSelector)s} == 1
              ) == 1
            ||| % $._config,
            'for': "10m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'bot-traffic'},
            annotations: {
              summary: "Bot logs on {{ $labels.instance }} are silent",
              description: "Log source {{ $labels.source }} produced no line for 40 minutes while the bot process is running (lines/s = {{ $value }}). Logging may be broken, or the bot hangs.",
              runbook_url: $._config.runbookURL + '#botlogssilent',
            },
          },
          {
            alert: "BotGeminiTokenBudget",
            expr: |||
              sum by (instance, job) (increase(bot_gemini_tokens_total{%(botwatchSelector)s}[24h]))
                > %(geminiDailyTokenBudget)s  # threshold: geminiDailyTokenBudget
            ||| % $._config,
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'bot-traffic'},
            annotations: {
              summary: "Gemini token use over budget on {{ $labels.instance }}",
              description: "The bot used {{ $value | humanize }} Gemini tokens in the last 24 hours, above the budget of %(geminiDailyTokenBudget)s tokens a day." % $._config,
              runbook_url: $._config.runbookURL + '#botgeminitokenbudget',
            },
          },
        ],
      },
      {
        name: "botwatch-delivery",
        rules: [
          {
            alert: "BotDeliveryRateLow",
            // Delivered per message that left the bot. Messenger: receipts per Send
            // API call (accepted or failed). SMS: delivered per final status
            // (delivered, undelivered, failed), since "sent" is not final.
            expr: |||
              sum by (instance, job, channel) (rate(bot_message_status_total{%(botwatchSelector)s, status="delivered"}[30m]))
                / (
                  sum by (instance, job, channel) (rate(bot_message_status_total{%(botwatchSelector)s, channel="messenger", status=~"sent|failed"}[30m]))
                    or
                  sum by (instance, job, channel) (rate(bot_message_status_total{%(botwatchSelector)s, channel!="messenger", status=~"delivered|undelivered|failed"}[30m]))
                )
                < %(deliveryRatePercent)s / 100  # threshold: deliveryRatePercent
              and on (instance, job, channel)
              sum by (instance, job, channel) (increase(bot_message_status_total{%(botwatchSelector)s, status=~"sent|delivered|undelivered|failed"}[30m]))
                >= 20  # ignore quiet periods
            ||| % $._config,
            'for': "15m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'delivery'},
            annotations: {
              summary: "Only {{ $value | humanizePercentage }} of {{ $labels.channel }} messages are delivered on {{ $labels.instance }}",
              description: "Over 30 minutes {{ $value | humanizePercentage }} of the bot's {{ $labels.channel }} messages were delivered (threshold %(deliveryRatePercent)s%%), for 15 minutes. bot_message_errors_total{channel,code} on the Business dashboard says why." % $._config,
              runbook_url: $._config.runbookURL + '#botdeliveryratelow',
            },
          },
          {
            alert: "BotHighFallbackRate",
            expr: |||
              sum by (instance, job) (rate(bot_fallback_responses_total{%(botwatchSelector)s}[30m]))
                / sum by (instance, job) (rate(bot_messages_total{%(botwatchSelector)s, direction="inbound"}[30m]))
                > %(fallbackRatePercent)s / 100  # threshold: fallbackRatePercent of inbound messages
              and on (instance, job)
              sum by (instance, job) (increase(bot_messages_total{%(botwatchSelector)s, direction="inbound"}[30m]))
                >= 20  # ignore quiet periods
            ||| % $._config,
            'for': "15m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'bot-traffic'},
            annotations: {
              summary: "The bot answers {{ $value | humanizePercentage }} of messages with its fallback on {{ $labels.instance }}",
              description: "{{ $value | humanizePercentage }} of inbound messages over 30 minutes got the fallback answer (threshold %(fallbackRatePercent)s%%), for 15 minutes: users ask what the bot does not understand, or Gemini fails." % $._config,
              runbook_url: $._config.runbookURL + '#bothighfallbackrate',
            },
          },
          {
            alert: "BotWebhookSlow",
            // Webhook POSTs above the bound, from the histogram's bucket at it:
            // Facebook expects an answer within 20 s and retries, then disables, the webhook.
            expr: |||
              sum by (instance, job) (increase(bot_webhook_processing_seconds_bucket{%(botwatchSelector)s, le="+Inf"}[10m]))
                - sum by (instance, job) (increase(bot_webhook_processing_seconds_bucket{%(botwatchSelector)s, le="%(webhookSlowSeconds)s"}[10m]))
                > 0  # threshold: webhooks slower than webhookSlowSeconds
            ||| % $._config,
            'for': "0m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'bot-traffic'},
            annotations: {
              summary: "Webhook processing took over %(webhookSlowSeconds)ss on {{ $labels.instance }}" % $._config,
              description: "{{ $value | printf \"%%.0f\" }} webhook POSTs in the last 10 minutes took longer than %(webhookSlowSeconds)s s. Facebook retries unanswered webhooks and disables the subscription when they keep failing." % $._config,
              runbook_url: $._config.runbookURL + '#botwebhookslow',
            },
          },
        ],
      },
      {
        name: "botwatch-agent",
        rules: [
          {
            alert: "BotLogPipelineStalled",
            // Unread bytes wait in the file, yet no line was read for 5 minutes.
            expr: |||
              sum by (instance, job, source) (rate(botwatch_log_lines_total{%(botwatchSelector)s}[5m])) == 0
              and on (instance, job, source)
              min_over_time(botwatch_log_lag_bytes{%(botwatchSelector)s}[5m]) > 0
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'botwatch', 'problem': 'stalled'},
            annotations: {
              summary: "botwatch stopped reading log {{ $labels.source }} on {{ $labels.instance }}",
              description: "The log file {{ $labels.source }} keeps unread bytes, but botwatch read no line from it for 10 minutes (lines/s = {{ $value }}).",
              runbook_url: $._config.runbookURL + '#botlogpipelinestalled',
            },
          },
          {
            alert: "BotLogPipelineStalled",
            expr: |||
              sum by (instance, job, source) (rate(botwatch_log_parse_errors_total{%(botwatchSelector)s}[10m]))
                / sum by (instance, job, source) (rate(botwatch_log_lines_total{%(botwatchSelector)s}[10m]))
                > %(logParseErrorPercent)s / 100  # threshold: logParseErrorPercent of lines fail to parse
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'botwatch', 'problem': 'parse_errors'},
            annotations: {
              summary: "botwatch cannot parse log {{ $labels.source }} on {{ $labels.instance }}",
              description: "{{ $value | humanizePercentage }} of the lines of {{ $labels.source }} fail to parse (threshold %(logParseErrorPercent)s%%): the bot's log format changed, or the source is not the bot's JSON log." % $._config,
              runbook_url: $._config.runbookURL + '#botlogpipelinestalled',
            },
          },
          {
            alert: "BotwatchConfigReloadFailed",
            expr: |||
              botwatch_config_last_reload_successful{%(botwatchSelector)s} == 0
            ||| % $._config,
            'for': "1m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'botwatch'},
            annotations: {
              summary: "botwatch on {{ $labels.instance }} rejected its new config",
              description: "The last config reload failed (botwatch_config_last_reload_successful = {{ $value }}); botwatch keeps running with the previous config. Its log has the file:line:column of the error.",
              runbook_url: $._config.runbookURL + '#botwatchconfigreloadfailed',
            },
          },
          {
            alert: "BotwatchRemoteWriteStalled",
            // Samples wait, yet the receiver accepted nothing for 10 minutes (last
            // success 0 = never). Pending bytes rule out an idle remote. The pushing
            // instance cannot deliver this alert's input itself: it needs a scrape
            // of botwatch or a second remote that still works.
            expr: |||
              (time() - botwatch_remote_write_last_success_timestamp_seconds{%(botwatchSelector)s}) > 600
              and on (instance, job, remote)
              botwatch_remote_write_pending_bytes{%(botwatchSelector)s} > 0
            ||| % $._config,
            'for': "5m",
            labels: $._config.commonLabels + {'severity': 'warning', 'component': 'botwatch'},
            annotations: {
              summary: "botwatch cannot push to remote_write {{ $labels.remote }} on {{ $labels.instance }}",
              description: "The receiver of remote {{ $labels.remote }} accepted no samples for {{ $value | humanizeDuration }} while samples wait; they are kept up to the remote's buffer, then dropped. /api/v1/status (remote_write) has the last error.",
              runbook_url: $._config.runbookURL + '#botwatchremotewritestalled',
            },
          },
        ],
      },
      // The dead-man, for pulled and pushed instances alike.
      {
        name: "botwatch-dead-man",
        rules: [
          {
            alert: "BotwatchSilent",
            // Every botwatch exports botwatch_build_info. The value is the time since
            // its newest sample, of the instances that sent one in the last hour,
            // scraped or pushed alike. A pushed series gets no staleness marker and
            // looks present for the 5-minute lookback, so `up` or an instant selector
            // cannot tell; timestamp() gives the sample's own time, and the subquery
            // keeps the newest one after the lookback has passed.
            expr: |||
              time() - max by (instance, job) (max_over_time(timestamp(botwatch_build_info{%(botwatchSelector)s})[1h:]))
                > %(deadManSilenceSeconds)s  # threshold: deadManSilenceSeconds without a sample
            ||| % $._config,
            'for': $._config.deadManFor,
            labels: $._config.commonLabels + {'severity': 'critical', 'component': 'botwatch'},
            annotations: {
              summary: "botwatch on {{ $labels.instance }} sends no series",
              description: "Prometheus received series from botwatch on {{ $labels.instance }} (job {{ $labels.job }}) in the last hour, but none for {{ $value | humanizeDuration }} (threshold %(deadManSilenceSeconds)ss; pulled or pushed alike). The container, the host or botwatch itself is gone, or its pushes no longer arrive: no other alert can fire for this instance." % $._config,
              runbook_url: $._config.runbookURL + '#botwatchsilent',
            },
          },
        ],
      },
    ],
  },
}
