// Everything an operator may want to change. Override in your own file:
//   (import 'mixin/mixin.libsonnet') + { _config+:: { botMemoryMiB: 1024 } }
{
  _config+:: {
    // Label matchers of the botwatch scrape jobs, used by every alert and every
    // dashboard query (the dashboards' `job` variable lists only these jobs).
    botwatchSelector: 'job=~".*botwatch.*"',
    // Labels every alert carries. alerts/alertmanager.yml routes and inhibits on
    // mixin="botwatch", so its inhibitions never touch other rule sets' alerts.
    commonLabels: { mixin: 'botwatch' },
    // Where alerts/RUNBOOK.md is published; alerts and panels link to its sections.
    runbookURL: 'https://github.com/botwatch/botwatch/blob/main/alerts/RUNBOOK.md',

    // Thresholds (the bot operators' figures).
    botMemoryMiB: 700,  // resident memory of the bot process
    botMemoryLimitPercent: 90,  // resident memory of the bot of its cgroup v2 memory.max (container limit)
    botCpuPercent: 80,  // of one core, held for 5 minutes
    botRestarts: 3,  // restarts in 15 minutes
    errorRatePercent: 10,  // errors per inbound message over 10 minutes
    templateCacheHitPercent: 80,  // template-cache hits below this over 30 minutes
    pendingInterventions: 5,  // conversations waiting for a human
    geminiDailyTokenBudget: 1000000,  // Gemini tokens in 24 hours
    responseTimeP95WarningSeconds: 1,  // the operators' figure: warning
    responseTimeP95Seconds: 5,  // critical
    databaseSlowMs: 500,  // postgres probe round trip
    databaseConnectionsPercent: 80,  // of max_connections
    facebookTokenExpiryDays: 7,
    facebookAppUsagePercent: 80,  // of any X-App-Usage kind
    logParseErrorPercent: 1,  // share of log lines that fail to parse
    bullmqRepeatOverdueMinutes: 10,  // a repeatable BullMQ job this late means its scheduler stalled
    bullmqFailedJobs: 5,  // BullMQ jobs failed in 15 minutes, per queue
    deliveryRatePercent: 90,  // delivered per outbound message, per channel, over 30 minutes
    fallbackRatePercent: 20,  // fallback answers per inbound message over 30 minutes
    webhookSlowSeconds: 30,  // a webhook POST slower than this; must be a bucket bound of bot_webhook_processing_seconds
    databasePoolBusyPercent: 90,  // clients of the bot's own pool in use, of its max
    databaseCacheHitPercent: 95,  // shared-buffer hits of block reads, per database
    socketioHeartbeatEvents: 'metrics:update',  // regex of listen events the server promises regularly (every 30 s)
    socketioEventSilenceSeconds: 120,  // no such event for this long: the admin live view stopped

    // --- host, queues, database growth, certificates, hand-offs (mixin/alerts/host_and_queues.libsonnet) ---
    diskUsedPercent: 85,  // of a filesystem botwatch watches (type: filesystem); the seeds' figure
    diskFullPredictHours: 24,  // predict_linear of the free space reaches 0 within this many hours
    bullmqOldestWaitingMinutes: 15,  // the oldest waiting BullMQ job is older than this: no worker keeps up
    redisMemoryPercent: 90,  // used_memory of maxmemory (only where maxmemory is set)
    idleInTransactionMinutes: 5,  // a session idle in a transaction this long holds locks and blocks vacuum
    tlsCertExpiryDays: 14,  // earliest certificate of an https probe's chain expires within this many days
    handoffWaitP90Minutes: 15,  // 90 % of users handed to a human got a first human answer within this
    databaseSizeForecastGiB: 10,  // the dependencies dashboard counts the days until a database reaches this size

    // The dead-man (BotwatchSilent): an instance that sent series in the last hour
    // and none for deadManSilenceSeconds, for deadManFor. The silence must exceed the
    // push interval (remote_write `interval`, 15s by default) and the scrape interval.
    deadManSilenceSeconds: 120,
    deadManFor: '3m',
  },
}
