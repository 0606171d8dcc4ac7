// Alerts on the bot's host and on what its front door and queues need: disk
// (type: filesystem), TLS certificates of https probes, BullMQ backlog age,
// Redis memory, PostgreSQL sessions idle in a transaction, the Socket.IO
// listener, remote_write dropping samples, and how long users wait for a human.
// One group of its own, appended after the others, so that it merges cleanly
// with changes to alerts.libsonnet.

{
  prometheusAlerts+:: {
    local c = $._config,
    local labels(severity, component) = c.commonLabels + { severity: severity, component: component },
    local runbook(name) = c.runbookURL + '#' + std.asciiLower(name),
    groups+: [
      {
        name: 'botwatch-host-and-queues',
        rules: [
          {
            alert: 'BotDiskAlmostFull',
            expr: |||
              (1 - botwatch_filesystem_avail_bytes{%(botwatchSelector)s} / (botwatch_filesystem_size_bytes{%(botwatchSelector)s} > 0))
                * 100 > %(diskUsedPercent)s  # threshold: diskUsedPercent of the filesystem used
            ||| % c,
            'for': '5m',
            labels: labels('warning', 'host'),
            annotations: {
              summary: 'Disk {{ $labels.mountpoint }} on {{ $labels.instance }} is {{ $value | printf "%.0f" }}% full',
              description: 'The filesystem holding {{ $labels.path }} (mounted on {{ $labels.mountpoint }}) is {{ $value | printf "%%.1f" }}%% used (threshold %(diskUsedPercent)s%%) for 5 minutes. A full disk stops PostgreSQL and the bot\'s logging.' % c,
              runbook_url: runbook('BotDiskAlmostFull'),
            },
          },
          {
            alert: 'BotDiskFillingUp',
            // node_exporter's mixin does the same with node_filesystem_avail_bytes: a
            // linear fit of the last 6 hours, extended by diskFullPredictHours.
            expr: |||
              predict_linear(botwatch_filesystem_avail_bytes{%(botwatchSelector)s}[6h], %(diskFullPredictHours)s * 3600) < 0
              and
              botwatch_filesystem_avail_bytes{%(botwatchSelector)s} / botwatch_filesystem_size_bytes{%(botwatchSelector)s} < 0.4
            ||| % c,
            'for': '1h',
            labels: labels('warning', 'host'),
            annotations: {
              summary: 'Disk {{ $labels.mountpoint }} on {{ $labels.instance }} fills up within %(diskFullPredictHours)s hours' % c,
              description: 'At the growth of the last 6 hours, the filesystem holding {{ $labels.path }} ({{ $labels.mountpoint }}) is full within %(diskFullPredictHours)s hours (predicted free space then: {{ $value | humanize1024 }}B); it has under 40%% free now.' % c,
              runbook_url: runbook('BotDiskFillingUp'),
            },
          },
          {
            alert: 'BotTLSCertificateExpiringSoon',
            expr: |||
              botwatch_http_tls_cert_expiry_timestamp_seconds{%(botwatchSelector)s} - time()
                < %(tlsCertExpiryDays)s * 86400  # threshold: tlsCertExpiryDays
            ||| % c,
            'for': '10m',
            labels: labels('warning', 'tls'),
            annotations: {
              summary: 'The certificate of {{ $labels.collector }} on {{ $labels.instance }} expires in {{ $value | humanizeDuration }}',
              description: 'The earliest certificate in the chain that {{ $labels.collector }}\'s https target presents expires in {{ $value | humanizeDuration }} (threshold %(tlsCertExpiryDays)s days). After that Facebook stops delivering webhooks to it.' % c,
              runbook_url: runbook('BotTLSCertificateExpiringSoon'),
            },
          },
          {
            alert: 'BotBullMQBacklogOld',
            expr: |||
              botwatch_bullmq_oldest_waiting_seconds{%(botwatchSelector)s}
                > %(bullmqOldestWaitingMinutes)s * 60  # threshold: bullmqOldestWaitingMinutes
            ||| % c,
            'for': '5m',
            labels: labels('warning', 'queue'),
            annotations: {
              summary: 'BullMQ queue {{ $labels.queue }} on {{ $labels.instance }} has a job waiting for {{ $value | humanizeDuration }}',
              description: 'The oldest waiting job of queue {{ $labels.queue }} has waited {{ $value | humanizeDuration }} (threshold %(bullmqOldestWaitingMinutes)s minutes) for 5 minutes: no worker takes jobs, or the workers cannot keep up.' % c,
              runbook_url: runbook('BotBullMQBacklogOld'),
            },
          },
          {
            alert: 'BotRedisMemoryNearMax',
            // Only where maxmemory is set (0 means no limit).
            expr: |||
              botwatch_redis_memory_used_bytes{%(botwatchSelector)s}
                / (botwatch_redis_memory_max_bytes{%(botwatchSelector)s} > 0)
                > %(redisMemoryPercent)s / 100  # threshold: redisMemoryPercent of maxmemory
            ||| % c,
            'for': '5m',
            labels: labels('warning', 'queue'),
            annotations: {
              summary: 'Redis {{ $labels.collector }} on {{ $labels.instance }} uses {{ $value | humanizePercentage }} of its maxmemory',
              description: 'used_memory is {{ $value | humanizePercentage }} of maxmemory (threshold %(redisMemoryPercent)s%%) for 5 minutes. At the limit Redis evicts keys (BullMQ jobs among them) or refuses writes, by its maxmemory-policy.' % c,
              runbook_url: runbook('BotRedisMemoryNearMax'),
            },
          },
          {
            alert: 'BotDatabaseIdleInTransaction',
            expr: |||
              botwatch_postgres_oldest_idle_in_transaction_seconds{%(botwatchSelector)s}
                > %(idleInTransactionMinutes)s * 60  # threshold: idleInTransactionMinutes
            ||| % c,
            'for': '2m',
            labels: labels('warning', 'database'),
            annotations: {
              summary: 'A session of {{ $labels.collector }} on {{ $labels.instance }} is idle in a transaction for {{ $value | humanizeDuration }}',
              description: 'The oldest session idle in a transaction has been idle for {{ $value | humanizeDuration }} (threshold %(idleInTransactionMinutes)s minutes). It holds its locks (other queries wait) and keeps vacuum from cleaning up.' % c,
              runbook_url: runbook('BotDatabaseIdleInTransaction'),
            },
          },
          {
            alert: 'BotSocketIOListenerDisconnected',
            expr: |||
              botwatch_socketio_listen_connected{%(botwatchSelector)s} == 0
            ||| % c,
            'for': '2m',
            labels: labels('warning', 'socketio'),
            annotations: {
              summary: 'botwatch\'s Socket.IO listener {{ $labels.collector }} on {{ $labels.instance }} is disconnected',
              description: 'The long-lived Socket.IO connection of {{ $labels.collector }} (listen:) has been down for 2 minutes (connected = {{ $value }}): the admin server refuses or drops it, so the live events it watches are not seen.',
              runbook_url: runbook('BotSocketIOListenerDisconnected'),
            },
          },
          {
            alert: 'BotwatchRemoteWriteDroppingSamples',
            expr: |||
              increase(botwatch_remote_write_samples_dropped_total{%(botwatchSelector)s}[10m]) > 0
            ||| % c,
            'for': '0m',
            labels: labels('warning', 'botwatch'),
            annotations: {
              summary: 'botwatch on {{ $labels.instance }} drops samples for remote_write {{ $labels.remote }}',
              description: '{{ $value | printf "%.0f" }} samples for remote {{ $labels.remote }} were dropped in the last 10 minutes: its buffer is full (the receiver is down or slower than botwatch collects) or the receiver rejected them. They are lost for good.',
              runbook_url: runbook('BotwatchRemoteWriteDroppingSamples'),
            },
          },
          {
            alert: 'BotHandoffWaitHigh',
            expr: |||
              histogram_quantile(0.9, sum by (instance, job, le) (rate(bot_human_handoff_wait_seconds_bucket{%(botwatchSelector)s}[1h])))
                > %(handoffWaitP90Minutes)s * 60  # threshold: handoffWaitP90Minutes at the 90th percentile
              and on (instance, job)
              sum by (instance, job) (increase(bot_human_handoff_wait_seconds_count{%(botwatchSelector)s}[1h])) >= 3  # ignore a lone hand-off
            ||| % c,
            'for': '15m',
            labels: labels('warning', 'bot-traffic'),
            annotations: {
              summary: 'Users handed to a human on {{ $labels.instance }} wait {{ $value | humanizeDuration }} for an answer',
              description: '90%% of the users handed to a human in the last hour waited up to {{ $value | humanizeDuration }} for the first human answer (threshold %(handoffWaitP90Minutes)s minutes), for 15 minutes.' % c,
              runbook_url: runbook('BotHandoffWaitHigh'),
            },
          },
        ],
      },
    ],
  },
}
