#!/usr/bin/env node
'use strict';
// A simulated Messenger bot for botwatch's demo and tests: users write at a
// configurable rate, the bot answers (templates, Gemini), books appointments,
// hands users to humans and sometimes fails, logging each step as Winston JSON
// with the fields botwatch's messenger-bot preset reads. See --help.

const fs = require('fs');
const winston = require('winston');
const { parseOptions } = require('./options');
const { Simulator } = require('./simulator');
const { AdminServer } = require('./admin');
const { createMetrics } = require('./metrics');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function makeLogger(opts) {
  const transports = [];
  let fileStream = null;
  if (opts.stdout) transports.push(new winston.transports.Console());
  if (opts.logFile) {
    fileStream = fs.createWriteStream(opts.logFile, { flags: 'a' });
    transports.push(new winston.transports.Stream({ stream: fileStream }));
  }
  if (transports.length === 0) transports.push(new winston.transports.Console({ silent: true }));
  const logger = winston.createLogger({
    level: 'debug',
    format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
    defaultMeta: { service: 'demo-bot' },
    transports,
  });
  // Ends the logger and waits until every line is in the file.
  logger.flushAndClose = async () => {
    const finished = new Promise((resolve) => logger.once('finish', resolve));
    logger.end();
    await finished;
    await new Promise((resolve) => setImmediate(resolve));  // transports write on the next tick
    if (fileStream) await new Promise((resolve) => fileStream.end(resolve));
  };
  return logger;
}

// Send API error codes and Twilio error codes the demo's failures cycle through.
const SEND_API_CODES = [10, 551, 613, 1200, 2];
const SMS_FAILED_CODES = [21211, 21614, 21610];
const SMS_UNDELIVERED_CODES = [30003, 30005, 30007, 30006];

class DemoBot {
  constructor(opts, logger) {
    this.opts = opts;
    this.log = logger;
    this.sim = new Simulator({ seed: opts.seed, users: opts.users, errorRate: opts.errorRate });
    this.sent = 0;            // inbound messages started
    this.done = 0;            // inbound messages finished
    this.inflight = new Set();
    this.handoffs = new Map();  // userId -> { timer, replyTimer, since, replied }
    this.nextAppointment = 1;
    this.store = null;
    this.admin = null;
    this.stopping = false;
    this.stopped = null;
    this.finished = new Promise((resolve) => { this.finish = resolve; });  // after stop() completes
  }

  stats() {
    return { messages_started: this.sent, messages_finished: this.done, in_flight: this.inflight.size,
             handoffs_pending: this.handoffs.size };
  }

  async start() {
    const opts = this.opts;
    if (opts.databaseUrl) {
      const { Store } = require('./store');
      this.store = new Store(opts.databaseUrl, (err) =>
        this.log.error('database query failed', { errorType: 'database', code: err.code || null,
                                                  detail: String(err.message).slice(0, 200) }));
      try {
        await this.store.init();
      } catch (err) {
        // Keep running without it: the operator sees the error, botwatch sees the database down.
        this.log.error('database unavailable; conversations are not stored', { errorType: 'database',
                       code: err.code || null });
        await this.store.close().catch(() => {});
        this.store = null;
      }
    }
    let secret = opts.internalSecret;
    if (!secret) {
      secret = 'demo-secret';
      this.log.warn('INTERNAL_SECRET is not set; using the demo default', {});
    }
    this.metrics = createMetrics();
    this.admin = new AdminServer({ secret, logger: this.log, stats: () => this.stats(),
                                   onResolve: (userId) => this.resolveHandoff(userId),
                                   metrics: this.metrics.registry });
    this.port = await this.admin.listen(opts.port, opts.host);
    if (opts.pidfile) fs.writeFileSync(opts.pidfile, `${process.pid}\n`);
    this.log.info('bot started', { port: this.port, pid: process.pid, rate: opts.rate, users: opts.users,
                                   database: !!this.store });
    this.startedAt = Date.now();
    this.tick = setInterval(() => this.generate(), Math.max(5, Math.min(100, 1000 / opts.rate)));
    if (opts.durationMs !== null) this.deadline = setTimeout(() => this.stop('duration reached'), opts.durationMs);
    this.generate();
  }

  // Starts as many turns as the rate allows since the start (no drift, no bursts after a pause).
  generate() {
    if (this.stopping) return;
    const due = Math.floor(((Date.now() - this.startedAt) / 1000) * this.opts.rate) + 1;
    while (this.sent < due) {
      if (this.opts.maxMessages !== null && this.sent >= this.opts.maxMessages) {
        this.stop('message limit reached');
        return;
      }
      this.sent++;
      const p = this.runTurn(this.sim.nextTurn(), this.sent).catch((err) =>
        this.log.error('unexpected failure', { errorType: 'internal', detail: String(err && err.stack || err) }));
      this.inflight.add(p);
      p.finally(() => { this.inflight.delete(p); this.done++; });
    }
  }

  // `n` numbers the turn in generation order: the delivery outcomes below depend
  // on it, not on the random stream, so a seed still gives the same traffic.
  async runTurn(turn, n) {
    const t0 = Date.now();
    const { userId } = turn;
    if (turn.noise) this.log.log(turn.noise.level, turn.noise.message, turn.noise.fields);
    if (turn.error && turn.error.errorType === 'invalid_signature') {
      this.log.error(turn.error.message, { errorType: turn.error.errorType, status: 403 });
      return;
    }
    if (this.store) this.store.message(userId, 'inbound', turn.intent, turn.text);
    this.admin.emit('message:new', { userId, direction: 'inbound', intent: turn.intent });
    this.metrics.turns.inc({ direction: 'inbound' });

    let template = turn.template;
    let cacheHit = turn.cacheHit;
    const geminiFails = turn.error && turn.error.errorType === 'gemini_timeout';
    if (turn.retry) {
      this.log.warn(turn.retry.errorType === 'graph_api' ? 'retrying send' : 'retrying gemini call',
                    { userId, errorType: turn.retry.errorType, attempt: turn.retry.attempt });
    }
    if (turn.gemini || geminiFails) {
      if (geminiFails) {
        await sleep(3000);
        this.log.error(turn.error.message, { userId, errorType: 'gemini_timeout', latencyMs: 3000 });
        template = 'fallback';
        cacheHit = true;
      } else {
        await sleep(turn.gemini.latencyMs);
        this.log.info('gemini response', { userId, model: 'gemini-1.5-flash', latencyMs: turn.gemini.latencyMs,
                                       tokens: turn.gemini.tokens });
      }
    }
    // Now and then Gemini's answer is unusable (empty, blocked by safety): the fallback.
    if (turn.gemini && !geminiFails && n % 12 === 5) {
      template = 'fallback';
      cacheHit = true;
    }
    await sleep(turn.processingMs);
    if (turn.intent === 'product_inquiry') this.log.info('product inquiry', { userId, category: turn.category });
    if (turn.error && turn.error.errorType === 'database') {
      this.log.error(turn.error.message, { userId, errorType: 'database' });
    } else if (turn.intent === 'appointment') {
      const slot = new Date(Date.now() + turn.slot.days * 86400000);
      slot.setUTCHours(turn.slot.hour, 0, 0, 0);
      const appointmentId = this.nextAppointment++;
      this.log.info('appointment booked', { userId, appointmentId, slot: slot.toISOString() });
      if (this.store) this.store.appointment(userId, slot);
    }
    const processed = { userId, responseTime: Date.now() - t0, direction: 'inbound', intent: turn.intent };
    if (template) {
      processed.template = template;
      processed.cacheHit = cacheHit;
    }
    if (this.opts.logText) processed.text = turn.text;
    this.log.info('message processed', processed);
    if (turn.intent === 'human') this.requestHandoff(userId, turn.handoffAfterMs);

    if (turn.error && turn.error.errorType === 'graph_api') {
      // The Send API's error object: code (and error_subcode) say why.
      this.log.error('send api error', { userId, errorType: 'graph_api', status: 400, fbError: 'OAuthException',
                                         code: SEND_API_CODES[n % SEND_API_CODES.length], subcode: 2018278 });
      this.webhookProcessed(t0);
      return;
    }
    const messageId = `m_${this.opts.seed}_${n}`;
    this.log.info('message sent', { userId, messageId, direction: 'outbound', template: template || 'gemini',
                                    appUsage: this.appUsage(turn) });
    this.webhookProcessed(t0);
    if (this.store) this.store.message(userId, 'outbound', turn.intent, null);
    if (this.store && n % 25 === 1) this.log.info('db pool', this.store.poolStats());
    this.admin.emit('message:new', { userId, direction: 'outbound', intent: turn.intent });
    this.metrics.turns.inc({ direction: 'outbound' });
    const campaign = n % 10 === 7 ? this.smsCampaign(n) : null;
    // Receipts: most messages are delivered within a few hundred ms, some never are
    // (the user deleted the conversation); a third are read a moment later.
    if (n % 20 !== 19) {
      await sleep(100 + (n % 7) * 60);
      this.log.info('message delivered', { userId, messageId, watermark: Date.now() });
      if (n % 3 === 0) {
        await sleep(150);
        this.log.info('message read', { userId, messageId, watermark: Date.now() });
      }
    }
    await campaign;
  }

  webhookProcessed(t0) {
    this.log.info('webhook processed', { object: 'page', entries: 1, durationMs: Date.now() - t0 });
  }

  // One SMS of a reminder campaign, as Twilio's status callbacks report it: queued,
  // sent, then mostly delivered; some undelivered or failed with an error code.
  async smsCampaign(n) {
    const messageSid = `SM${this.opts.seed}x${n}`;
    const sms = (level, status, extra = {}) =>
      this.log.log(level, 'sms status', { messageSid, status, campaignId: 'reminders', ...extra });
    sms('info', 'queued');
    const k = Math.floor(n / 10) % 10;
    if (k === 9) {
      sms('warn', 'failed', { errorCode: SMS_FAILED_CODES[Math.floor(n / 100) % SMS_FAILED_CODES.length] });
      return;
    }
    await sleep(50);
    sms('info', 'sent');
    await sleep(100 + k * 40);
    if (k === 8) sms('warn', 'undelivered', { errorCode: SMS_UNDELIVERED_CODES[Math.floor(n / 100) % SMS_UNDELIVERED_CODES.length] });
    else sms('info', 'delivered');
  }

  // The X-App-Usage header of the Send API (percent of the app's hourly quota):
  // it drifts with the traffic, as Facebook's rolling window does.
  appUsage(turn) {
    const u = this.usage || (this.usage = { call_count: 5, total_time: 3, total_cputime: 2 });
    const drift = (v, r) => Math.max(0, Math.min(100, Math.round(v + (r - 0.48) * 4)));
    u.call_count = drift(u.call_count, turn.usageDrift[0]);
    u.total_time = drift(u.total_time, turn.usageDrift[1]);
    u.total_cputime = drift(u.total_cputime, turn.usageDrift[2]);
    return { ...u };
  }

  requestHandoff(userId, afterMs) {
    if (this.handoffs.has(userId)) return;  // already waiting for a person
    this.log.info('human intervention requested', { userId });
    if (this.store) this.store.handoffRequested(userId);
    this.admin.emit('handoff:requested', { userId });
    this.metrics.handoffs.inc();
    const timer = setTimeout(() => this.resolveHandoff(userId), afterMs);
    // The person answers first, then closes the hand-off: the preset's
    // bot_human_handoff_wait_seconds pairs the request with this first answer.
    const replyTimer = setTimeout(() => this.humanReplied(userId), Math.max(1, Math.round(afterMs / 2)));
    this.handoffs.set(userId, { timer, replyTimer, since: Date.now(), replied: false });
  }

  humanReplied(userId) {
    const h = this.handoffs.get(userId);
    if (!h || h.replied) return;
    h.replied = true;
    clearTimeout(h.replyTimer);
    this.log.info('human agent replied', { userId, waitSeconds: Math.round((Date.now() - h.since) / 1000) });
  }

  resolveHandoff(userId) {
    const h = this.handoffs.get(userId);
    if (!h) return false;
    clearTimeout(h.timer);
    this.humanReplied(userId);  // resolved from the admin UI: the person answered then at the latest
    this.handoffs.delete(userId);
    this.log.info('human intervention resolved', { userId, waitSeconds: Math.round((Date.now() - h.since) / 1000) });
    if (this.store) this.store.handoffResolved(userId);
    this.admin.emit('handoff:resolved', { userId });
    this.metrics.handoffs.dec();
    return true;
  }

  // Stops generating, lets the messages in flight finish, then closes everything.
  stop(why) {
    if (this.stopped) return this.stopped;
    this.stopping = true;
    clearInterval(this.tick);
    clearTimeout(this.deadline);
    this.stopped = (async () => {
      await Promise.allSettled([...this.inflight]);
      for (const h of this.handoffs.values()) {  // left pending, as in real life
        clearTimeout(h.timer);
        clearTimeout(h.replyTimer);
      }
      if (this.admin) await this.admin.close();
      if (this.store) await this.store.close().catch(() => {});
      this.log.info('bot stopped', { reason: why, messages: this.done, handoffsPending: this.handoffs.size });
      if (this.opts.pidfile) fs.rmSync(this.opts.pidfile, { force: true });
      this.finish();
    })();
    return this.stopped;
  }
}

async function main() {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2), process.env);
  } catch (err) {
    process.stderr.write(`demo-bot: ${err.message}\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(opts.help);
    return;
  }
  if (opts.seed === null) opts.seed = Math.floor(Math.random() * 2 ** 31);
  const logger = makeLogger(opts);
  const bot = new DemoBot(opts, logger);
  let signalled = 0;
  const onSignal = (sig) => {
    if (++signalled > 1) process.exit(130);  // a second Ctrl-C does not wait
    bot.stop(`signal ${sig}`);
  };
  // Whoever read our stdout is gone (a supervisor died): nobody will see more lines.
  process.stdout.on('error', (err) => {
    if (opts.pidfile) fs.rmSync(opts.pidfile, { force: true });
    process.exit(err.code === 'EPIPE' ? 0 : 1);
  });
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await bot.start();
  } catch (err) {
    logger.error('start failed', { errorType: 'startup', detail: err.message });
    await logger.flushAndClose();
    process.exitCode = 1;
    return;
  }
  await bot.finished;
  await logger.flushAndClose();
  process.exit(0);
}

if (require.main === module) main();

module.exports = { DemoBot, makeLogger };
