// botwatch's four Grafana dashboards. Rendered to dashboards/*.json by
// `python3 mixin/build.py`; thresholds and the runbook come from _config.
local g = import 'lib.libsonnet';
local sel = g.sel;
local t = g.target;
local inbound = 'direction="inbound"';
// Pull or push. A pushed instance has no `up` and no scrape_* series, a
// scraped one no botwatch_remote_write_* unless it also pushes; the panels below
// take the scrape's series and fall back (`or on (instance, job)`) to the push's.
// botwatch's own process_* only: a `type: scrape` collector may carry another
// program's (prom-client's defaults) under the same names, with its `collector` label.
local own = 'collector=""';
local pushFresh = '(time() - max by (instance, job) (timestamp(botwatch_build_info' + sel() + ')) < bool 120)';

{
  // Panels appended to the end of each dashboard by other mixin files (e.g.
  // dashboards/host_and_queues.libsonnet), so that they add rows without
  // editing the lists below.
  dashboardPanels+:: { 'overview.json': [], 'dependencies.json': [], 'business.json': [], 'botwatch-agent.json': [] },

  grafanaDashboards+:: {
    local c = $._config,
    local more(name) = $.dashboardPanels[name],

    'overview.json': g.dashboard(c, 'botwatch-overview', 'Bot overview',
                                 'Health of the bot and its dependencies, traffic, users, response time and errors.', [
      g.row('Health'),
      g.updown('botwatch scrape', [t('up' + sel() + ' or on (instance, job) ' + pushFresh, '{{instance}}')],
               'Whether Prometheus can scrape botwatch (up); for an instance that pushes (remote_write), whether its '
               + 'series arrived in the last 2 minutes. DOWN: every other panel of this instance is blind '
               + '(BotwatchTargetDown when scraped; BotwatchSilent either way).',
               w=4, h=4, alert='BotwatchTargetDown'),
      g.updown('Dependencies', [t('botwatch_collector_up' + sel(), '{{collector}}')],
               'Last probe of each collector: UP (green) or DOWN (red). A dependency DOWN for long fires its own alert '
               + '(BotDatabaseDown, BotGeminiDown, ...) or the generic BotCollectorDown.',
               w=20, h=4, alert='BotCollectorDown'),
      g.row('Traffic'),
      g.timeseries('Messages per minute (dashed: same time yesterday)', [
        t('sum by (direction) (rate(bot_messages_total' + sel() + '[$__rate_interval])) * 60', '{{direction}}'),
        t('sum by (direction) (rate(bot_messages_total' + sel() + '[$__rate_interval] offset 1d)) * 60', '{{direction}} yesterday'),
      ], 'Inbound and outbound messages per minute, with the same time yesterday dashed for comparison. '
         + 'A fall to under half of last week\'s volume fires BotMessageVolumeDropped.',
         w=12, unit='short', alert='BotMessageVolumeDropped', overrides=[{
        matcher: { id: 'byRegexp', options: '.* yesterday' },
        properties: [
          { id: 'custom.lineStyle', value: { dash: [10, 10], fill: 'dash' } },
          { id: 'custom.lineWidth', value: 1 },
        ],
      }]),
      g.stat('Active users', [t('max by (window) (bot_active_users' + sel() + ')', '{{window}}')],
             'Distinct users seen in the last 30 minutes, 24 hours and 7 days.',
             w=6, h=8, colorMode='none', unit='short'),
      g.stat('Human interventions pending', [t('sum(bot_human_interventions_pending' + sel() + ')', 'pending')],
             'Conversations handed to a human and still waiting; red above %d, where BotHumanInterventionsPending fires.'
             % c.pendingInterventions,
             w=6, h=8, alert='BotHumanInterventionsPending',
             thresholds=[['green', null], ['orange', std.max(1, c.pendingInterventions - 2)], ['red', c.pendingInterventions + 1]]),
      g.timeseries('Response time', [
        t('histogram_quantile(%s, sum by (le) (rate(bot_response_time_seconds_bucket%s[$__rate_interval])))' % [q[0], sel()], q[1])
        for q in [['0.5', 'p50'], ['0.95', 'p95'], ['0.99', 'p99']]
      ], 'Time from an inbound message to the bot\'s reply: median, 95th and 99th percentile. '
         + 'p95 above %ss for 10 minutes fires BotResponseTimeP95High (warning; above %ss critical).'
         % [c.responseTimeP95WarningSeconds, c.responseTimeP95Seconds],
         w=12, unit='s', alert='BotResponseTimeP95High'),
      g.timeseries('Error rate (errors per inbound message)', [
        t('sum(rate(bot_errors_total' + sel() + '[$__rate_interval])) / sum(rate(bot_messages_total' + sel(inbound) + '[$__rate_interval]))', 'error rate'),
      ], 'Errors logged per inbound message; the red line is BotHighErrorRate\'s threshold (%d%%).' % c.errorRatePercent,
         w=6, unit='percentunit', alert='BotHighErrorRate', defaults={
        max: 1,
        min: 0,
        custom: { thresholdsStyle: { mode: 'line' } },
        thresholds: g.steps([['green', null], ['red', c.errorRatePercent / 100]]),
      }),
      g.timeseries('Errors per minute by type', [
        t('sum by (type) (rate(bot_errors_total' + sel() + '[$__rate_interval])) * 60', '{{type}}'),
      ], 'Errors per minute, split by the type the bot logs with them: which errors drive the error rate.',
         w=6, unit='short', alert='BotHighErrorRate'),
      // Evaluated at each midnight (1d steps), the series for hour h looks back
      // (23 - h) hours further: it is the count of hour h of the day that just ended.
      g.panel('heatmap', 'Inbound messages: day × hour of day (last 7 days)', [
        t('sum(increase(bot_messages_total' + sel(inbound) + '[1h]' + (if h < 23 then ' offset %dh' % (23 - h) else '') + '))',
          '%02d:00' % h, interval='1d')
        for h in std.range(0, 23)
      ], w=16, h=10,
              description='Each column is a day, each row an hour of that day; colour = inbound messages in that hour.',
              options={
                calculate: false,
                cellGap: 1,
                color: { mode: 'scheme', scheme: 'Oranges', fill: 'dark-orange', scale: 'exponential', exponent: 0.5, steps: 64, reverse: false },
                yAxis: { axisPlacement: 'left', reverse: true },
                rowsFrame: { layout: 'auto' },
                legend: { show: true },
                tooltip: { show: true, yHistogram: false },
                cellValues: { unit: 'short' },
                showValue: 'auto',
                filterValues: { le: 1e-9 },
                exemplars: { color: 'rgba(255,0,255,0.7)' },
              },
              extra={ timeFrom: '7d', interval: '1d', maxDataPoints: 8 }),
      g.row('Bot process'),
      g.timeseries('Bot memory (RSS)', [t('botwatch_process_resident_memory_bytes' + sel(), '{{collector}}')],
                   'Resident memory of the bot process; the red line is BotHighMemory\'s threshold (%d MiB).' % c.botMemoryMiB,
                   w=12, unit='bytes', alert='BotHighMemory', defaults={
        custom: { thresholdsStyle: { mode: 'line' } },
        thresholds: g.steps([['green', null], ['red', c.botMemoryMiB * 1024 * 1024]]),
      }),
      g.timeseries('Bot CPU (cores)', [t('rate(botwatch_process_cpu_seconds_total' + sel() + '[$__rate_interval])', '{{collector}}')],
                   'CPU used by the bot process, in cores; the red line is BotHighCPU\'s threshold (%d%% of a core).' % c.botCpuPercent,
                   w=12, unit='short', alert='BotHighCPU', defaults={
        custom: { thresholdsStyle: { mode: 'line' } },
        thresholds: g.steps([['green', null], ['red', c.botCpuPercent / 100]]),
      }),
    ] + more('overview.json')),

    'dependencies.json': g.dashboard(c, 'botwatch-dependencies', 'Bot dependencies',
                                     'Probe latency and failures of every collector; Facebook token and rate limits; database; Socket.IO; Gemini.', [
      g.row('Probes'),
      g.timeseries('Probe latency per collector', [t('botwatch_collector_duration_seconds' + sel(), '{{collector}} ({{type}})')],
                   'How long the last probe of each collector took.', w=12, unit='s'),
      g.timeseries('Probe failures per minute by reason', [
        t('sum by (collector, reason) (rate(botwatch_collector_errors_total' + sel() + '[$__rate_interval])) * 60', '{{collector}}: {{reason}}'),
      ], 'Failed probes per minute and why (timeout, connect, status, ...). /api/v1/status on botwatch has the last error text.',
         w=12, unit='short', alert='BotCollectorDown'),
      g.timeseries('HTTP probe phases', [t('botwatch_http_phase_seconds' + sel(), '{{collector}} {{phase}}')],
                   'Where an HTTP probe spends its time: DNS, connect, TLS, first byte, transfer (stacked).',
                   w=8, unit='s', defaults={ custom: { stacking: { mode: 'normal', group: 'A' }, fillOpacity: 30 } }),
      g.stat('HTTP status codes', [t('botwatch_http_status_code' + sel(), '{{collector}}')],
             'Last HTTP status of each http probe: green 2xx, orange 3xx, red 4xx/5xx or none.', w=8, h=8,
             thresholds=[['red', null], ['green', 200], ['orange', 300], ['red', 400]]),
      g.timeseries('TCP connect time', [t('botwatch_tcp_connect_seconds' + sel(), '{{collector}}')],
                   'Time to open a TCP connection to each tcp probe\'s address.', w=8, unit='s'),

      g.row('Facebook'),
      g.updown('Page token valid', [t('botwatch_facebook_token_valid' + sel(), '{{collector}}')],
               'Whether the Graph API accepts the page access token. DOWN fires BotFacebookTokenInvalid.',
               w=4, h=6, alert='BotFacebookTokenInvalid'),
      g.stat('Token expires in', [t('botwatch_facebook_token_expiry_timestamp_seconds' + sel() + ' - time()', '{{collector}}')],
             'Countdown to the page token\'s expiry (never-expiring tokens show a negative age: expiry 0). '
             + 'Under %d days fires BotFacebookTokenExpiringSoon.' % c.facebookTokenExpiryDays,
             w=6, h=6, unit='dtdurations', alert='BotFacebookTokenExpiringSoon',
             thresholds=[['red', null], ['orange', c.facebookTokenExpiryDays * 86400], ['green', 2 * c.facebookTokenExpiryDays * 86400]]),
      g.timeseries('App rate-limit usage (X-App-Usage)', [t('botwatch_facebook_app_usage_ratio' + sel(), '{{kind}}')],
                   'Share of the Graph API rate limit used, per kind; the red line is BotFacebookRateLimitHigh\'s threshold (%d%%).'
                   % c.facebookAppUsagePercent,
                   w=8, h=6, unit='percentunit', alert='BotFacebookRateLimitHigh', defaults={
        min: 0,
        max: 1,
        custom: { thresholdsStyle: { mode: 'line' } },
        thresholds: g.steps([['green', null], ['red', c.facebookAppUsagePercent / 100]]),
      }),
      g.updown('Webhook fields subscribed', [t('botwatch_facebook_webhook_subscribed' + sel(), '{{field}}')],
               'Whether the page\'s subscribed_apps lists each webhook field. DOWN fires BotFacebookPageUnsubscribed.',
               w=6, h=6, alert='BotFacebookPageUnsubscribed'),

      g.row('Database'),
      g.timeseries('Connections by state (line: max_connections)', [
        t('sum by (state) (botwatch_postgres_connections' + sel() + ')', '{{state}}'),
        t('max(botwatch_postgres_max_connections' + sel() + ')', 'max_connections'),
      ], 'PostgreSQL connections by state, stacked, against max_connections. Above %d%% of it fires BotDatabaseConnectionsNearLimit.'
         % c.databaseConnectionsPercent,
         w=8, unit='short', alert='BotDatabaseConnectionsNearLimit',
         defaults={ custom: { stacking: { mode: 'normal', group: 'A' }, fillOpacity: 20 } },
         overrides=[{
        matcher: { id: 'byName', options: 'max_connections' },
        properties: [
          { id: 'custom.stacking', value: { mode: 'none', group: 'A' } },
          { id: 'custom.fillOpacity', value: 0 },
          { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
        ],
      }]),
      g.timeseries('Cache hit ratio', [t('botwatch_postgres_buffer_cache_hit_ratio' + sel(), '{{collector}} {{datname}}')],
                   'Share of PostgreSQL block reads served from shared buffers, per database.',
                   w=8, unit='percentunit', defaults={ min: 0, max: 1 }),
      g.timeseries('Longest running query', [t('botwatch_postgres_longest_query_seconds' + sel(), '{{collector}}')],
                   'Age of the longest-running query: a stuck transaction shows as a rising line.', w=8, unit='s'),
      g.timeseries('Database probe round trip', [t('botwatch_collector_duration_seconds' + sel('type="postgres"'), '{{collector}}')],
                   'Connect, SELECT 1 and the configured queries; above %d ms for 5 minutes fires BotDatabaseSlow.' % c.databaseSlowMs,
                   w=12, unit='s', alert='BotDatabaseSlow'),

      g.timeseries('Bot database pool', [
        t('sum(bot_db_pool_clients' + sel('state="total"') + ') - sum(bot_db_pool_clients' + sel('state="idle"') + ')', 'busy'),
        t('sum(bot_db_pool_max_clients' + sel() + ')', 'max'),
        t('sum(bot_db_pool_waiting_requests' + sel() + ')', 'waiting queries'),
      ], 'The bot\'s own database pool, from its `db pool` log line: busy clients against the pool size, and queries '
         + 'waiting for a client. %d%% busy for 5 minutes fires BotDatabasePoolExhausted.' % c.databasePoolBusyPercent,
         w=24, unit='short', alert='BotDatabasePoolExhausted'),

      g.row('Socket.IO and Gemini'),
      g.timeseries('Socket.IO round trip (handshake + echo)', [t('botwatch_collector_duration_seconds' + sel('type="socketio"'), '{{collector}}')],
                   'Time of the Socket.IO probe: handshake and an echo. Failing probes fire BotSocketIODown.',
                   w=12, unit='s', alert='BotSocketIODown'),
      g.timeseries('Gemini probe latency', [t('botwatch_collector_duration_seconds' + sel('type="gemini"'), '{{collector}}')],
                   'Time of the Gemini probe request. Failing probes fire BotGeminiDown.', w=12, unit='s', alert='BotGeminiDown'),
      g.timeseries('Gemini quota errors per minute', [
        t('sum by (collector) (rate(botwatch_collector_errors_total' + sel('type="gemini", reason="quota_exhausted"') + '[$__rate_interval])) * 60', '{{collector}}'),
      ], 'Gemini probes refused with RESOURCE_EXHAUSTED (HTTP 429); any fires BotGeminiQuotaExhausted.',
         w=12, unit='short', alert='BotGeminiQuotaExhausted'),
    ] + more('dependencies.json')),

    'business.json': g.dashboard(c, 'botwatch-business', 'Bot business',
                                 'Appointments, product inquiries, the conversion funnel, message delivery, template cache and Gemini tokens.', [
      g.row('Outcomes over the selected range'),
      g.stat('Appointments booked', [t('sum(increase(bot_appointments_booked_total' + sel() + '[$__range]))', 'booked', instant=true)],
             'Appointments the bot booked over the selected time range.', w=6, h=6, colorMode='none', unit='short', defaults={ decimals: 0 }),
      g.stat('Product inquiries', [t('sum(increase(bot_product_inquiries_total' + sel() + '[$__range]))', 'inquiries', instant=true)],
             'Product inquiries over the selected time range.', w=6, h=6, colorMode='none', unit='short', defaults={ decimals: 0 }),
      g.stat('Template cache hit ratio', [
        t('sum(rate(bot_template_cache_requests_total' + sel('result="hit"') + '[$__range])) / sum(rate(bot_template_cache_requests_total' + sel() + '[$__range]))',
          'hit ratio', instant=true),
      ], 'Share of template lookups served from the cache over the range; red below %d%%, where BotLowTemplateCacheHitRatio fires.'
         % c.templateCacheHitPercent,
         w=6, h=6, unit='percentunit', alert='BotLowTemplateCacheHitRatio',
         thresholds=[['red', null], ['orange', c.templateCacheHitPercent / 100], ['green', (c.templateCacheHitPercent + 10) / 100]]),
      g.stat('Gemini tokens', [t('sum(increase(bot_gemini_tokens_total' + sel() + '[$__range]))', 'tokens', instant=true)],
             'Gemini tokens used over the range; more than %d in 24 hours fires BotGeminiTokenBudget.' % c.geminiDailyTokenBudget,
             w=6, h=6, colorMode='none', unit='short', alert='BotGeminiTokenBudget'),
      g.bargauge('Conversion funnel (SQL business metrics)', [
        t('sort_desc(max by (step) (botwatch_postgres_query_funnel_users' + sel() + '))', '{{step}}', instant=true),
      ], 'Needs an optional setup: the postgres collector\'s custom query named funnel, with a users column '
         + 'and a step label (botwatch_postgres_query_funnel_users{step}), over the bot\'s own tables; '
         + 'config/demo.yaml has one to copy. Without it the panel shows the instruction instead of data. '
         + 'Users reaching each step of the funnel; steps are sorted by users, so the widest comes first.',
         defaults={ decimals: 0, noValue: 'Needs the postgres custom query "funnel" (see config/demo.yaml)' }),
      g.bargauge('From messages to bookings (logs)', [
        t('max(bot_active_users' + sel('window="24h"') + ')', '1. users (24h)', instant=true),
        t('sum(increase(bot_messages_total' + sel(inbound) + '[$__range]))', '2. inbound messages', instant=true),
        t('sum(increase(bot_product_inquiries_total' + sel() + '[$__range]))', '3. product inquiries', instant=true),
        t('sum(increase(bot_human_interventions_total' + sel() + '[$__range]))', '4. handed to a human', instant=true),
        t('sum(increase(bot_appointments_booked_total' + sel() + '[$__range]))', '5. appointments booked', instant=true),
      ], 'The same path from the bot\'s log events over the selected range (users: distinct in the last 24 h).'),
      g.bargauge('Product inquiries by category', [
        t('sort_desc(sum by (category) (increase(bot_product_inquiries_total' + sel() + '[$__range])))', '{{category}}', instant=true),
      ], 'Product inquiries over the range by category, largest first.', displayMode='basic'),
      g.row('Conversations (a user\'s messages with gaps under 30 minutes: the preset\'s type: session rule)'),
      g.timeseries('Conversation outcomes', [
        t('sum by (outcome) (increase(bot_conversation_messages_count' + sel() + '[1h])) / ignoring (outcome) group_left '
          + 'sum(increase(bot_conversation_messages_count' + sel() + '[1h]))', '{{outcome}}'),
      ], 'Share of the conversations that ended in the last hour by outcome: booked (an appointment booked during it), '
         + 'handed_off (a human was asked for), abandoned (neither). Booked is the conversation success rate.',
         w=12, unit='percentunit', defaults={ min: 0, max: 1 }),
      g.timeseries('Conversation length and messages', [
        t('histogram_quantile(%s, sum by (le) (rate(bot_conversation_duration_seconds_bucket%s[1h])))' % [q[0], sel()], 'length ' + q[1])
        for q in [['0.5', 'p50'], ['0.95', 'p95']]
      ] + [
        t('sum(rate(bot_conversation_messages_sum' + sel() + '[1h])) / sum(rate(bot_conversation_messages_count' + sel() + '[1h]))',
          'messages per conversation'),
      ], 'Length of the conversations that ended in the last hour (first to last event), and the mean number of '
         + 'answered messages in one (right axis).',
         w=8, unit='s', defaults={}, overrides=[{
        matcher: { id: 'byName', options: 'messages per conversation' },
        properties: [{ id: 'unit', value: 'short' }, { id: 'custom.axisPlacement', value: 'right' }],
      }]),
      g.timeseries('Open conversations', [t('sum(bot_conversation_active' + sel() + ')', 'open')],
                   'Users with an event in the last 30 minutes, whose conversation has not ended yet.', w=4, unit='short'),
      g.row('Delivery (Messenger receipts, SMS status callbacks)'),
      g.timeseries('Delivery rate by channel', [
        t('sum by (channel) (rate(bot_message_status_total' + sel('status="delivered"') + '[$__rate_interval])) / ('
          + 'sum by (channel) (rate(bot_message_status_total' + sel('channel="messenger", status=~"sent|failed"') + '[$__rate_interval])) or '
          + 'sum by (channel) (rate(bot_message_status_total' + sel('channel!="messenger", status=~"delivered|undelivered|failed"') + '[$__rate_interval])))',
          '{{channel}}'),
      ], 'Delivered per outbound message. Messenger: delivery receipts per Send API call (accepted or failed); SMS: '
         + 'delivered per final status callback. The red line is BotDeliveryRateLow\'s threshold (%d%%).' % c.deliveryRatePercent,
         w=12, unit='percentunit', alert='BotDeliveryRateLow', defaults={
        min: 0,
        max: 1,
        custom: { thresholdsStyle: { mode: 'line' } },
        thresholds: g.steps([['red', null], ['green', c.deliveryRatePercent / 100]]),
      }),
      g.timeseries('Delivery time', [
        t('histogram_quantile(%s, sum by (le) (rate(%s_bucket%s[$__rate_interval])))' % [q[0], m[0], sel()], m[1] + ' ' + q[1])
        for m in [['bot_messenger_delivery_seconds', 'messenger'], ['bot_sms_delivery_seconds', 'sms']]
        for q in [['0.5', 'p50'], ['0.95', 'p95']]
      ], 'Time from sending to the delivery receipt: Messenger from the Send API call to the message_deliveries webhook, '
         + 'SMS from queued to the delivered status callback (paired by message id in the log).',
         w=12, unit='s'),
      g.timeseries('Read rate (Messenger)', [
        t('sum(rate(bot_message_status_total' + sel('channel="messenger", status="read"') + '[$__rate_interval])) / '
          + 'sum(rate(bot_message_status_total' + sel('channel="messenger", status="delivered"') + '[$__rate_interval]))', 'read / delivered'),
      ], 'Messages read (message_reads webhook) per message delivered.', w=8, unit='percentunit', defaults={ min: 0, max: 1 }),
      g.bargauge('Delivery errors by channel and code', [
        t('sort_desc(sum by (channel, code) (increase(bot_message_errors_total' + sel() + '[$__range])))', '{{channel}} {{code}}', instant=true),
      ], 'Failed messages over the range by provider error code: Send API codes (e.g. 10 outside the 24-hour window, '
         + '551 user unavailable, 613 rate limit) and SMS codes (e.g. 21211 invalid number, 21610 opted out, '
         + '30003 unreachable handset); codes outside the preset\'s list are "other".',
         displayMode='basic', defaults={ decimals: 0 }),
      g.timeseries('Fallback rate', [
        t('sum(rate(bot_fallback_responses_total' + sel() + '[$__rate_interval])) / sum(rate(bot_messages_total' + sel(inbound) + '[$__rate_interval]))', 'fallback'),
      ], 'Inbound messages answered with the fallback (not understood, or Gemini failed); the red line is '
         + 'BotHighFallbackRate\'s threshold (%d%%).' % c.fallbackRatePercent,
         w=8, unit='percentunit', alert='BotHighFallbackRate', defaults={
        min: 0,
        max: 1,
        custom: { thresholdsStyle: { mode: 'line' } },
        thresholds: g.steps([['green', null], ['red', c.fallbackRatePercent / 100]]),
      }),
      g.timeseries('Webhook processing time', [
        t('histogram_quantile(%s, sum by (le) (rate(bot_webhook_processing_seconds_bucket%s[$__rate_interval])))' % [q[0], sel()], q[1])
        for q in [['0.5', 'p50'], ['0.95', 'p95'], ['0.99', 'p99']]
      ], 'Time the bot took to answer Facebook\'s webhook POSTs. Any POST over %ds fires BotWebhookSlow.' % c.webhookSlowSeconds,
         w=24, unit='s', alert='BotWebhookSlow'),
      g.row('Over time'),
      g.timeseries('Appointments booked per hour', [t('sum(increase(bot_appointments_booked_total' + sel() + '[1h]))', 'booked')],
                   'Appointments booked in each hour.', w=12, unit='short'),
      g.timeseries('Product inquiries per hour by category', [
        t('sum by (category) (increase(bot_product_inquiries_total' + sel() + '[1h]))', '{{category}}'),
      ], 'Product inquiries in each hour, stacked by category.', w=12, unit='short',
         defaults={ custom: { stacking: { mode: 'normal', group: 'A' }, fillOpacity: 30 } }),
      g.timeseries('Template cache hit ratio', [
        t('sum(rate(bot_template_cache_requests_total' + sel('result="hit"') + '[$__rate_interval])) / sum(rate(bot_template_cache_requests_total' + sel() + '[$__rate_interval]))', 'hit ratio'),
      ], 'Share of template lookups served from the cache; the line is BotLowTemplateCacheHitRatio\'s threshold (%d%%).'
         % c.templateCacheHitPercent,
         w=12, unit='percentunit', alert='BotLowTemplateCacheHitRatio', defaults={
        min: 0,
        max: 1,
        custom: { thresholdsStyle: { mode: 'line' } },
        thresholds: g.steps([['red', null], ['green', c.templateCacheHitPercent / 100]]),
      }),
      g.timeseries('Gemini tokens per hour', [t('sum(increase(bot_gemini_tokens_total' + sel() + '[1h]))', 'tokens')],
                   'Gemini tokens used in each hour; the daily budget is %d (BotGeminiTokenBudget).' % c.geminiDailyTokenBudget,
                   w=12, unit='short', alert='BotGeminiTokenBudget'),
    ] + more('business.json')),

    'botwatch-agent.json': g.dashboard(c, 'botwatch-agent', 'botwatch itself',
                                       'The agent\'s own health: collectors, log pipeline, reloads, memory and CPU.', [
      g.row('Agent'),
      // The version is in the label, the value is always 1.
      g.stat('Version', [t('botwatch_build_info' + sel(), '{{instance}}: {{version}} ({{revision}})')],
             'botwatch version and git revision of each instance.', w=8, h=4, colorMode='none', textMode='name'),
      g.updown('Last config reload', [t('botwatch_config_last_reload_successful' + sel(), '{{instance}}')],
               '1 (UP): the last reload succeeded; 0 (DOWN): botwatch runs on its previous config (BotwatchConfigReloadFailed).',
               w=4, h=4, alert='BotwatchConfigReloadFailed'),
      g.stat('Uptime', [t('time() - process_start_time_seconds' + sel(own), '{{instance}}')],
             'Time since botwatch started.', w=6, h=4, colorMode='none', unit='dtdurations'),
      g.stat('Series exported', [
        t('scrape_samples_scraped' + sel() + ' or on (instance, job) count by (instance, job) (' + sel() + ')', '{{instance}}'),
      ], 'Samples Prometheus took from the last scrape of botwatch; for an instance that pushes, the series it pushed '
         + 'in the last 5 minutes.', w=6, h=4, colorMode='none', unit='short'),
      g.row('Collectors'),
      g.timeseries('Collector probe duration', [t('botwatch_collector_duration_seconds' + sel(), '{{collector}} ({{type}})')],
                   'How long the last probe of each collector took.', w=12, unit='s'),
      g.timeseries('Collector errors per minute by reason', [
        t('sum by (collector, reason) (rate(botwatch_collector_errors_total' + sel() + '[$__rate_interval])) * 60', '{{collector}}: {{reason}}'),
      ], 'Failed probes per minute and why; a collector failing for 5 minutes fires BotCollectorDown.',
         w=12, unit='short', alert='BotCollectorDown'),
      g.timeseries('Time since last successful probe', [
        t('time() - botwatch_collector_last_success_timestamp_seconds' + sel(), '{{collector}}'),
      ], 'Seconds since each collector last succeeded: a rising line is a collector failing.', w=12, unit='s', alert='BotCollectorDown'),
      g.timeseries('Scrape duration (Prometheus side) or push lag', [
        t('scrape_duration_seconds' + sel() + ' or on (instance, job) max by (instance, job) '
          + '(time() - botwatch_remote_write_last_success_timestamp_seconds' + sel() + ')', '{{instance}}'),
      ], 'How long Prometheus takes to scrape botwatch (near the scrape timeout, BotwatchTargetDown follows); for an '
         + 'instance that pushes, seconds since a receiver last accepted its push (the push interval while all is well).',
         w=12, unit='s', alert='BotwatchTargetDown'),
      g.row('Log pipeline'),
      g.timeseries('Log lines per second', [
        t('sum by (source) (rate(botwatch_log_lines_total' + sel() + '[$__rate_interval]))', '{{source}}'),
      ], 'Lines read per log source; zero while the bot runs fires BotLogsSilent.', w=8, unit='short', alert='BotLogsSilent'),
      g.timeseries('Log bytes per second', [
        t('sum by (source) (rate(botwatch_log_bytes_total' + sel() + '[$__rate_interval]))', '{{source}}'),
      ], 'Bytes read per log source.', w=8, unit='Bps'),
      g.timeseries('Parse errors (share of lines)', [
        t('sum by (source) (rate(botwatch_log_parse_errors_total' + sel() + '[$__rate_interval])) / sum by (source) (rate(botwatch_log_lines_total' + sel() + '[$__rate_interval]))', '{{source}}'),
      ], 'Share of lines that fail to parse; above %d%% fires BotLogPipelineStalled.' % c.logParseErrorPercent,
         w=8, unit='percentunit', alert='BotLogPipelineStalled'),
      g.timeseries('Unread bytes (lag)', [t('botwatch_log_lag_bytes' + sel(), '{{source}}')],
                   'Bytes written to each log file and not yet read; lag with no lines read fires BotLogPipelineStalled.',
                   w=12, unit='bytes', alert='BotLogPipelineStalled'),
      g.timeseries('Series dropped by the cardinality limit (per minute)', [
        t('sum by (metric) (rate(botwatch_log_series_dropped_total' + sel() + '[$__rate_interval])) * 60', '{{metric}}'),
      ], 'New label combinations refused because a log metric reached its series limit.', w=12, unit='short'),
      g.row('Resources'),
      g.timeseries('botwatch memory (RSS)', [t('process_resident_memory_bytes' + sel(own), '{{instance}}')],
                   'Resident memory of botwatch itself (not the bot).', w=8, unit='bytes'),
      g.timeseries('botwatch CPU (cores)', [t('rate(process_cpu_seconds_total' + sel(own) + '[$__rate_interval])', '{{instance}}')],
                   'CPU used by botwatch itself, in cores.', w=8, unit='short'),
      g.timeseries('Open file descriptors and threads', [
        t('process_open_fds' + sel(own), 'fds {{instance}}'),
        t('process_threads' + sel(own), 'threads {{instance}}'),
      ], 'Open file descriptors and threads of botwatch: a steady rise is a leak.', w=8, unit='short'),
      // The push (remote_write). An instance that does not push shows 0:
      // nothing waits, nothing is dropped.
      g.row('Push (remote_write)'),
      g.timeseries('Push lag', [
        t('time() - botwatch_remote_write_last_success_timestamp_seconds' + sel()
          + ' or on (instance, job) 0 * max by (instance, job) (up' + sel() + ')', '{{instance}} {{remote}}'),
      ], 'Seconds since each receiver last accepted a push (the push interval while all is well); 10 minutes with '
         + 'samples waiting fires BotwatchRemoteWriteStalled. 0 for an instance that does not push.',
         w=8, unit='s', alert='BotwatchRemoteWriteStalled'),
      g.timeseries('Push queue (bytes pending)', [
        t('botwatch_remote_write_pending_bytes' + sel()
          + ' or on (instance, job) 0 * max by (instance, job) (up' + sel() + ')', '{{instance}} {{remote}}'),
      ], 'Encoded samples waiting for a receiver (kept on disk in state_dir up to the remote\'s buffer); it grows '
         + 'while a receiver is away. 0 for an instance that does not push.', w=8, unit='bytes'),
      g.timeseries('Samples dropped by the push (per minute)', [
        t('sum by (instance, job, remote) (rate(botwatch_remote_write_samples_dropped_total' + sel() + '[$__rate_interval])) * 60'
          + ' or on (instance, job) 0 * max by (instance, job) (up' + sel() + ')', '{{instance}} {{remote}}'),
      ], 'Samples given up: rejected by a receiver (4xx) or older than the remote\'s buffer. 0 for an instance that '
         + 'does not push.', w=8, unit='short'),
    ] + more('botwatch-agent.json')),
  },
}
