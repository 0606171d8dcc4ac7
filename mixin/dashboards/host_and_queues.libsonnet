// Panels for what botwatch measures beyond the first dashboards: the host's
// disks (type: filesystem), Redis and BullMQ, PostgreSQL growth and sessions,
// certificates of https probes, the Socket.IO listener, push (remote_write),
// exec checks and textfiles, the bot's own Gemini and Graph API calls, and the
// wait for a human after a hand-off. Appended as rows at the end of their
// dashboards (dashboardPanels in dashboards.libsonnet).
local g = import 'lib.libsonnet';
local sel = g.sel;
local t = g.target;

// A line at `value` in red on a timeseries.
local redLine(value, extra={}) = {
  custom: { thresholdsStyle: { mode: 'line' } },
  thresholds: g.steps([['green', null], ['red', value]]),
} + extra;

{
  dashboardPanels+:: {
    local c = $._config,

    'overview.json'+: [
      g.row('Host (type: filesystem) and bot process resources'),
      g.timeseries('Disk used', [
        t('1 - botwatch_filesystem_avail_bytes' + sel() + ' / botwatch_filesystem_size_bytes' + sel(), '{{mountpoint}} ({{path}})'),
      ], 'Share of each filesystem used, for the paths a type: filesystem collector watches (state_dir, the log '
         + 'folders, paths: such as PostgreSQL\'s data directory). The red line is BotDiskAlmostFull\'s threshold (%d%%).'
         % c.diskUsedPercent,
         w=8, unit='percentunit', alert='BotDiskAlmostFull', defaults=redLine(c.diskUsedPercent / 100, { min: 0, max: 1 })),
      g.stat('Free space in %d hours (linear forecast)' % c.diskFullPredictHours, [
        t('predict_linear(botwatch_filesystem_avail_bytes' + sel() + '[6h], %d * 3600)' % c.diskFullPredictHours,
          '{{mountpoint}}'),
      ], 'Free bytes each filesystem will have in %d hours if it keeps filling as over the last 6 hours '
         % c.diskFullPredictHours + '(predict_linear). Red below 0: full before then (BotDiskFillingUp).',
         w=8, h=8, unit='bytes', alert='BotDiskFillingUp', thresholds=[['red', null], ['green', 0]]),
      g.timeseries('Inodes used', [
        t('1 - botwatch_filesystem_files_free' + sel() + ' / botwatch_filesystem_files' + sel(), '{{mountpoint}} ({{path}})'),
      ], 'Share of each filesystem\'s inodes in use: many small files (log rotation gone wrong, a session '
         + 'store on disk) fill the inodes before the bytes.', w=8, unit='percentunit', defaults={ min: 0, max: 1 }),
      g.timeseries('Bot file descriptors (of its limit)', [
        t('botwatch_process_open_fds' + sel() + ' / botwatch_process_max_fds' + sel(), '{{collector}}'),
      ], 'Open file descriptors of the bot process against its RLIMIT_NOFILE: sockets to the database, Redis '
         + 'and clients; a steady rise is a connection leak, at 100 % the bot cannot accept or open anything.',
         w=8, unit='percentunit', defaults={ min: 0, max: 1 }),
      g.timeseries('Bot threads', [t('botwatch_process_threads' + sel(), '{{collector}}')],
                   'Threads of the bot process (Node.js: the main thread plus libuv\'s pool and V8\'s helpers).',
                   w=8, unit='short'),
      g.stat('Bot process uptime', [t('time() - botwatch_process_start_time_seconds' + sel(), '{{collector}}')],
             'Time since the bot process started: a short uptime that keeps resetting is a crash loop (BotRestarting).',
             w=8, h=8, colorMode='none', unit='dtdurations', alert='BotRestarting'),
    ],

    'dependencies.json'+: [
      g.row('Redis and BullMQ (type: redis)'),
      g.timeseries('Redis memory (line: maxmemory)', [
        t('botwatch_redis_memory_used_bytes' + sel(), 'used {{collector}}'),
        t('botwatch_redis_memory_max_bytes' + sel() + ' > 0', 'maxmemory {{collector}}'),
      ], 'Memory Redis has allocated against its maxmemory (no line: no limit set). Above %d%% of it for 5 minutes '
         % c.redisMemoryPercent + 'fires BotRedisMemoryNearMax.',
         w=8, unit='bytes', alert='BotRedisMemoryNearMax'),
      g.timeseries('Redis evictions and expirations per second', [
        t('rate(botwatch_redis_evicted_keys_total' + sel() + '[$__rate_interval])', 'evicted {{collector}}'),
        t('rate(botwatch_redis_expired_keys_total' + sel() + '[$__rate_interval])', 'expired {{collector}}'),
      ], 'Keys evicted because of maxmemory (any eviction may drop BullMQ jobs unless maxmemory-policy is '
         + 'noeviction) and keys whose TTL ran out.', w=8, unit='short'),
      g.timeseries('Redis clients and keys', [
        t('botwatch_redis_connected_clients' + sel(), 'clients {{collector}}'),
        t('sum by (collector) (botwatch_redis_keyspace_keys' + sel() + ')', 'keys {{collector}}'),
        t('botwatch_redis_round_trip_seconds' + sel() + ' * 1000', 'PING ms {{collector}}'),
      ], 'Client connections (botwatch\'s included), keys over all databases, and the PING round trip in ms.',
         w=8, unit='short'),
      g.timeseries('BullMQ jobs per queue', [
        t('sum by (queue, state) (botwatch_bullmq_jobs' + sel('state=~"waiting|active|failed|delayed"') + ')', '{{queue}} {{state}}'),
      ], 'Jobs per queue that wait, run, failed (retained) or are delayed. Waiting that only grows while active '
         + 'stays 0: no worker. More than %d failed in 15 minutes fires BotBullMQJobsFailing.' % c.bullmqFailedJobs,
         w=8, unit='short', alert='BotBullMQJobsFailing'),
      g.timeseries('BullMQ oldest waiting job', [
        t('botwatch_bullmq_oldest_waiting_seconds' + sel(), '{{queue}}'),
      ], 'Age of the oldest job waiting in each queue (0: none). Above %d minutes for 5 minutes fires BotBullMQBacklogOld.'
         % c.bullmqOldestWaitingMinutes,
         w=8, unit='s', alert='BotBullMQBacklogOld', defaults=redLine(c.bullmqOldestWaitingMinutes * 60)),
      g.timeseries('BullMQ repeatable jobs: next run in', [
        t('botwatch_bullmq_repeat_next_run_timestamp_seconds' + sel() + ' - time()', '{{queue}} {{repeat}}'),
      ], 'Time until each repeatable job (job schedulers, e.g. the daily 1 AM report) is due; below zero it is '
         + 'overdue, and %d minutes overdue fires BotBullMQSchedulerStalled.' % c.bullmqRepeatOverdueMinutes,
         w=8, unit='s', alert='BotBullMQSchedulerStalled'),

      g.row('PostgreSQL growth and sessions'),
      g.timeseries('Database size (dashed: 30-day forecast)', [
        t('botwatch_postgres_database_size_bytes' + sel(), '{{datname}}'),
        t('predict_linear(botwatch_postgres_database_size_bytes' + sel() + '[1d], 30 * 86400)', '{{datname}} in 30 days'),
      ], 'Disk used by each database, and where a linear fit of the last day puts it in 30 days (predict_linear).',
         w=8, unit='bytes', overrides=[{
        matcher: { id: 'byRegexp', options: '.* in 30 days' },
        properties: [{ id: 'custom.lineStyle', value: { dash: [10, 10], fill: 'dash' } }],
      }]),
      g.stat('Days until %d GiB at the current growth' % c.databaseSizeForecastGiB, [
        t('(%d * 1024 * 1024 * 1024 - botwatch_postgres_database_size_bytes%s) / clamp_min(deriv(botwatch_postgres_database_size_bytes%s[1d]), 1e-9) / 86400'
          % [c.databaseSizeForecastGiB, sel(), sel()], '{{datname}}'),
      ], 'Days until each database reaches %d GiB (_config.databaseSizeForecastGiB: the disk or plan you have) '
         % c.databaseSizeForecastGiB + 'at the growth of the last day. Very large: not growing.',
         w=8, h=8, unit='short', thresholds=[['red', null], ['orange', 30], ['green', 90]], defaults={ decimals: 0 }),
      g.timeseries('Transactions and deadlocks', [
        t('sum by (datname) (rate(botwatch_postgres_transactions_committed_total' + sel() + '[$__rate_interval]))', 'commits/s {{datname}}'),
        t('sum by (datname) (rate(botwatch_postgres_transactions_rolled_back_total' + sel() + '[$__rate_interval]))', 'rollbacks/s {{datname}}'),
        t('sum by (datname) (increase(botwatch_postgres_deadlocks_total' + sel() + '[1h]))', 'deadlocks in 1h {{datname}}'),
        t('sum by (collector) (rate(botwatch_postgres_connections_opened_total' + sel() + '[$__rate_interval]))', 'new connections/s'),
      ], 'Commits and rollbacks per second, deadlocks in the last hour (any: two transactions lock rows in '
         + 'opposite order) and new connections per second (high: the bot connects per query instead of pooling).',
         w=8, unit='short'),
      g.timeseries('Oldest session idle in a transaction', [
        t('botwatch_postgres_oldest_idle_in_transaction_seconds' + sel(), '{{collector}}'),
      ], 'How long the oldest session has been idle inside an open transaction (0: none). It holds its locks; '
         + 'above %d minutes fires BotDatabaseIdleInTransaction.' % c.idleInTransactionMinutes,
         w=8, unit='s', alert='BotDatabaseIdleInTransaction', defaults=redLine(c.idleInTransactionMinutes * 60)),
      g.panel('table', 'Slowest statements (pg_stat_statements)', [
        t('topk(10, max by (queryid, query) (botwatch_postgres_statement_mean_seconds' + sel() + '))', '', instant=true)
        + { format: 'table' },
        t('max by (queryid, query) (rate(botwatch_postgres_statement_calls_total' + sel() + '[5m]))', '', instant=true)
        + { format: 'table' },
      ], w=16, h=8, description='The statements with the highest mean execution time (top_statements of the postgres '
                                + 'collector; needs the pg_stat_statements extension: shared_preload_libraries and '
                                + 'CREATE EXTENSION) and their calls per second. Literal passwords are masked.',
              options={ showHeader: true, sortBy: [{ displayName: 'mean', desc: true }] },
              extra={ transformations: [
                { id: 'merge', options: {} },
                { id: 'organize', options: {
                  excludeByName: { Time: true },
                  renameByName: { 'Value #A': 'mean', 'Value #B': 'calls/s', query: 'statement' },
                } },
              ] },
              overrides=[{ matcher: { id: 'byName', options: 'mean' }, properties: [{ id: 'unit', value: 's' }] }]),
      g.timeseries('Probe round trips and custom queries', [
        t('botwatch_postgres_round_trip_seconds' + sel(), 'SELECT 1 {{collector}}'),
        t('botwatch_postgres_custom_query_duration_seconds' + sel(), '{{query}}'),
      ], 'SELECT 1 round trip of the postgres probe and each custom query\'s last run time.', w=8, unit='s'),
      g.updown('Custom queries and pg_stat_statements', [
        t('botwatch_postgres_custom_query_up' + sel(), '{{query}}'),
        t('botwatch_postgres_stat_statements_available' + sel(), 'pg_stat_statements'),
      ], 'Whether each custom query\'s last run succeeded (the funnel, appointments today...): DOWN means its '
         + 'business panel shows old or no data; botwatch_postgres_custom_query_errors_total{reason} says why. '
         + 'pg_stat_statements DOWN: the extension is not installed, so the slowest statements table stays empty.',
         w=8, h=8),

      g.row('Certificates and probe details'),
      g.stat('TLS certificate expires in', [
        t('botwatch_http_tls_cert_expiry_timestamp_seconds' + sel() + ' - time()', '{{collector}}'),
      ], 'Time until the earliest certificate in the chain each https probe\'s target presents expires (as '
         + 'blackbox_exporter\'s probe_ssl_earliest_cert_expiry). Under %d days fires BotTLSCertificateExpiringSoon.'
         % c.tlsCertExpiryDays,
         w=8, h=8, unit='dtdurations', alert='BotTLSCertificateExpiringSoon',
         thresholds=[['red', null], ['orange', c.tlsCertExpiryDays * 86400], ['green', 2 * c.tlsCertExpiryDays * 86400]]),
      g.stat('TLS version', [t('botwatch_http_tls_version_info' + sel(), '{{collector}}: {{version}}')],
             'TLS version each https probe negotiated.', w=4, h=8, colorMode='none', textMode='name'),
      g.timeseries('HTTP and TCP probe time', [
        t('botwatch_http_duration_seconds' + sel(), 'http {{collector}}'),
        t('botwatch_tcp_duration_seconds' + sel(), 'tcp {{collector}}'),
        t('botwatch_http_response_body_bytes' + sel() + ' / 1e6', 'body MB {{collector}}'),
      ], 'Total time of each http and tcp probe, and the size of the last HTTP response body (MB).',
         w=12, unit='s'),
      g.updown('Facebook token scopes', [t('botwatch_facebook_token_scopes_ok' + sel(), '{{collector}}')],
               'Whether the page token holds every scope in required_scopes (pages_messaging...). DOWN: a permission '
               + 'was removed, sends will fail with code 10 or 200.', w=4, h=8),
      g.timeseries('Facebook page and business use case usage', [
        t('botwatch_facebook_page_usage_ratio' + sel(), 'page {{kind}}'),
        t('botwatch_facebook_business_use_case_usage_ratio' + sel(), 'business {{kind}}'),
        t('botwatch_facebook_estimated_time_to_regain_access_seconds' + sel() + ' / 60', 'minutes to regain access'),
      ], 'X-Page-Usage and X-Business-Use-Case-Usage (1 = throttled), and Facebook\'s estimate of the minutes until '
         + 'throttled calls succeed again.', w=8, unit='percentunit'),
      g.stat('Facebook data access expires in', [
        t('botwatch_facebook_token_data_access_expiry_timestamp_seconds' + sel() + ' - time()', '{{collector}}'),
      ], 'Until the token\'s data access expires (90 days after a user last used the app): after it the token '
         + 'no longer reads user data.', w=6, h=8, unit='dtdurations',
         thresholds=[['red', null], ['orange', 7 * 86400], ['green', 14 * 86400]]),
      g.timeseries('Facebook and Gemini API latency', [
        t('botwatch_facebook_latency_seconds' + sel(), 'graph {{collector}}'),
        t('botwatch_gemini_latency_seconds' + sel(), 'gemini {{collector}}'),
      ], 'Round trip of the Graph API and Gemini API requests of the probes.', w=10, unit='s'),
      g.updown('Gemini model available', [t('botwatch_gemini_model_available' + sel(), '{{collector}}')],
               'Whether the configured Gemini model exists (DOWN: Google answered 404, e.g. a retired model name).',
               w=4, h=8),
      g.stat('Gemini quota exhausted', [t('max by (quota) (botwatch_gemini_quota_exhausted' + sel() + ')', '{{quota}}')],
             'Whether the last answer reported a quota used up (1), per kind of quota; BotGeminiQuotaExhausted fires on it.',
             w=4, h=8, thresholds=[['green', null], ['red', 1]], alert='BotGeminiQuotaExhausted'),

      g.row('Socket.IO listener, push and checks'),
      g.updown('Socket.IO listener', [t('botwatch_socketio_listen_connected' + sel(), '{{collector}}')],
               'Whether botwatch\'s long-lived Socket.IO connection (listen:) is up. DOWN for 2 minutes fires '
               + 'BotSocketIOListenerDisconnected.', w=4, h=8, alert='BotSocketIOListenerDisconnected'),
      g.timeseries('Socket.IO listener connects, drops and events', [
        t('sum by (collector) (increase(botwatch_socketio_listen_connects_total' + sel() + '[$__rate_interval]))', 'connects {{collector}}'),
        t('sum by (collector) (increase(botwatch_socketio_listen_disconnects_total' + sel() + '[$__rate_interval]))', 'disconnects {{collector}}'),
        t('sum by (collector) (increase(botwatch_socketio_listen_failures_total' + sel() + '[$__rate_interval]))', 'failures {{collector}}'),
        t('sum by (collector, event) (rate(botwatch_socketio_events_total' + sel() + '[$__rate_interval])) * 60', '{{event}}/min'),
      ], 'Connects, disconnects and failed attempts of the listener, and the events it receives per minute.',
         w=10, unit='short'),
      g.timeseries('Socket.IO probe steps', [
        t('botwatch_socketio_handshake_seconds' + sel(), 'handshake {{collector}}'),
        t('botwatch_socketio_roundtrip_seconds' + sel(), 'round trip {{collector}}'),
        t('botwatch_socketio_websocket_upgrade_seconds' + sel(), 'websocket upgrade {{collector}}'),
        t('botwatch_socketio_websocket_roundtrip_seconds' + sel(), 'websocket round trip {{collector}}'),
      ], 'Each step of the Socket.IO probe: Engine.IO handshake, namespace connect round trip, WebSocket upgrade '
         + 'and a round trip over it.', w=10, unit='s'),
      g.updown('Socket.IO probe connected and upgraded', [
        t('botwatch_socketio_connected' + sel(), 'connected {{collector}}'),
        t('botwatch_socketio_websocket_upgraded' + sel(), 'websocket {{collector}}'),
      ], 'Whether the last Socket.IO probe connected to the namespace, and whether it could upgrade to WebSocket '
         + '(DOWN with connected UP: a proxy in front of the admin server drops WebSocket).', w=8, h=8),
      g.timeseries('Push (remote_write) samples per second', [
        t('sum by (remote) (rate(botwatch_remote_write_samples_sent_total' + sel() + '[$__rate_interval]))', 'sent {{remote}}'),
        t('sum by (remote) (rate(botwatch_remote_write_samples_failed_total' + sel() + '[$__rate_interval]))', 'failed {{remote}}'),
        t('sum by (remote) (rate(botwatch_remote_write_samples_dropped_total' + sel() + '[$__rate_interval]))', 'dropped {{remote}}'),
      ], 'Samples botwatch pushed (remote_write) per remote: accepted, failed (retried) and dropped (lost: the '
         + 'buffer was full or the receiver refused them). Any drop fires BotwatchRemoteWriteDroppingSamples.',
         w=8, unit='short', alert='BotwatchRemoteWriteDroppingSamples'),
      g.timeseries('Push buffer', [t('botwatch_remote_write_pending_bytes' + sel(), '{{remote}}')],
                   'Bytes waiting to be pushed per remote; growing with no successful push fires BotwatchRemoteWriteStalled.',
                   w=8, unit='bytes', alert='BotwatchRemoteWriteStalled'),
      g.timeseries('Exec checks and textfiles', [
        t('botwatch_exec_exit_code' + sel(), 'exit code {{collector}}'),
        t('botwatch_exec_duration_seconds' + sel(), 'seconds {{collector}}'),
        t('botwatch_textfile_error' + sel(), 'textfile error {{collector}}'),
        t('time() - max by (collector) (botwatch_textfile_mtime_seconds' + sel() + ')', 'newest textfile age {{collector}}'),
      ], 'Exit code and run time of each exec check (non-zero: the check failed), whether a textfile collector '
         + 'could not read or parse a file (1), and the age of its newest file (a cron job that stopped writing).',
         w=8, unit='short'),
    ],

    'business.json'+: [
      g.row('Hand-offs and the bot\'s own calls (logs)'),
      g.timeseries('Wait for a human after a hand-off', [
        t('histogram_quantile(%s, sum by (le) (rate(bot_human_handoff_wait_seconds_bucket%s[1h])))' % [q[0], sel()], q[1])
        for q in [['0.5', 'p50'], ['0.9', 'p90']]
      ] + [t('sum(bot_human_handoff_wait_seconds_pending' + sel() + ')', 'waiting now')],
         'Time from a conversation handed to a human ("human intervention requested") to the human\'s first '
         + 'answer ("human agent replied"), over the last hour, and how many hand-offs wait for it now (right axis). '
         + 'p90 above %d minutes fires BotHandoffWaitHigh.' % c.handoffWaitP90Minutes,
         w=12, unit='s', alert='BotHandoffWaitHigh', defaults=redLine(c.handoffWaitP90Minutes * 60), overrides=[{
        matcher: { id: 'byName', options: 'waiting now' },
        properties: [{ id: 'unit', value: 'short' }, { id: 'custom.axisPlacement', value: 'right' }],
      }]),
      g.stat('Last answered message', [t('time() - max(bot_last_message_timestamp_seconds' + sel() + ')', 'ago')],
             'Time since the bot last answered a message (its "message processed" line): long during business '
             + 'hours means the bot stopped answering even if it runs.', w=6, h=8, unit='dtdurations', colorMode='none'),
      g.stat('Messages awaiting a delivery receipt', [
        t('sum(bot_messenger_delivery_seconds_pending' + sel() + ')', 'messenger'),
        t('sum(bot_sms_delivery_seconds_pending' + sel() + ')', 'sms'),
      ], 'Messages sent and not yet confirmed delivered (Messenger receipt, SMS status callback).',
         w=6, h=8, unit='short', colorMode='none'),
      g.timeseries('Bot\'s Gemini calls: latency', [
        t('histogram_quantile(%s, sum by (le) (rate(bot_gemini_request_duration_seconds_bucket%s[$__rate_interval])))' % [q[0], sel()], q[1])
        for q in [['0.5', 'p50'], ['0.95', 'p95']]
      ], 'Latency of the Gemini calls the bot itself makes (its "gemini response" line), unlike the probe\'s one '
         + 'request: the time users wait for the model.', w=12, unit='s'),
      g.timeseries('Bot\'s Graph API usage (its own headers)', [
        t('max by (kind) (bot_graph_api_usage_ratio' + sel() + ')', '{{kind}}'),
      ], 'Rate-limit usage from the X-App-Usage, X-Page-Usage and X-Business-Use-Case-Usage headers of the bot\'s '
         + 'own Send API calls (1 = throttled): the headroom the real traffic leaves, seen without an extra call.',
         w=12, unit='percentunit', defaults=redLine(c.facebookAppUsagePercent / 100, { min: 0, max: 1 })),
    ],
  },
}
