'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { io } = require('socket.io-client');
const { Client } = require('pg');
const { tempDir, readLines, eventually, startBot, withTimeout, startPostgres } = require('./helpers');
const { parseOptions } = require('../src/options');

test('options: flags override the environment and bad values are one-line errors', () => {
  const o = parseOptions(['--rate=5', '--messages=10', '--duration=2s'], { DEMO_RATE: '1', PORT: '0' });
  assert.equal(o.rate, 5);
  assert.equal(o.maxMessages, 10);
  assert.equal(o.durationMs, 2000);
  assert.equal(o.port, 0);
  assert.throws(() => parseOptions(['--rate=fast'], {}), /invalid --rate "fast"/);
  assert.throws(() => parseOptions(['--duration=10'], {}), /invalid duration "10"/);
  assert.throws(() => parseOptions(['--rte=1'], {}), /unknown flag --rte/);
});

test('a bounded run writes Winston JSON lines with the fields of the preset, then exits 0', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'bot.log');
  const bot = startBot(['--messages=300', '--rate=400', '--seed=7', '--port=0', `--log-file=${log}`, '--no-stdout',
                        '--error-rate=0.05']);
  const code = await withTimeout(bot.exited, 30000, 'bot exit');
  assert.equal(code, 0, bot.out);
  const lines = readLines(log);
  assert.equal(lines[lines.length - 1].message, 'bot stopped', 'the last line is written before exit');
  const by = (m) => lines.filter((l) => l.message === m);
  for (const l of lines) {
    assert.ok(['debug', 'info', 'warn', 'error'].includes(l.level));
    assert.match(l.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  }
  const processed = by('message processed');
  assert.equal(processed.length + lines.filter((l) => l.errorType === 'invalid_signature').length, 300);
  for (const l of processed) {
    assert.equal(l.direction, 'inbound');
    assert.match(l.userId, /^\d{16}$/);
    assert.ok(Number.isInteger(l.responseTime) && l.responseTime >= 0);
    if ('template' in l) assert.equal(typeof l.cacheHit, 'boolean');
    assert.ok(!('text' in l), 'message text is off unless --text');
  }
  assert.ok(processed.some((l) => l.cacheHit === true) && processed.some((l) => l.cacheHit === false));
  for (const l of by('message sent')) {
    assert.equal(l.direction, 'outbound');
    for (const k of ['call_count', 'total_time', 'total_cputime']) assert.ok(l.appUsage[k] >= 0 && l.appUsage[k] <= 100);
  }
  for (const l of by('gemini response')) assert.ok(l.latencyMs > 0 && l.tokens > 0);
  const categories = new Set(by('product inquiry').map((l) => l.category));
  assert.ok(categories.size >= 3, `several categories: ${[...categories]}`);
  assert.ok(by('appointment booked').length > 0);
  assert.ok(by('human intervention requested').length > 0);
  const errors = lines.filter((l) => l.level === 'error');
  assert.ok(errors.length > 0);
  for (const l of errors) assert.equal(typeof l.errorType, 'string');
  const retries = lines.filter((l) => l.level === 'warn' && /^retrying/.test(l.message));
  for (const l of retries) assert.equal(typeof l.errorType, 'string');
  fs.rmSync(dir, { recursive: true, force: true });
});

test('same seed, same traffic', async () => {
  const runs = [];
  for (let i = 0; i < 2; i++) {
    const dir = tempDir();
    const log = path.join(dir, 'bot.log');
    const bot = startBot(['--messages=40', '--rate=400', '--seed=99', '--port=0', `--log-file=${log}`, '--no-stdout']);
    assert.equal(await withTimeout(bot.exited, 30000, 'bot exit'), 0, bot.out);
    runs.push(readLines(log).filter((l) => l.userId).map((l) => `${l.message} ${l.userId}`).sort());
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(runs[0], runs[1]);
});

test('socket.io clients need the internal secret, and admins receive live events', async () => {
  const dir = tempDir();
  const log = path.join(dir, 'bot.log');
  const secret = 'sekrit-for-test-4711';
  const bot = startBot(['--rate=50', '--duration=60s', '--port=0', `--log-file=${log}`, '--no-stdout'],
                       { INTERNAL_SECRET: secret });
  try {
    const started = await eventually(() => readLines(log).find((l) => l.message === 'bot started'), 10000, 'start');
    const url = `http://127.0.0.1:${started.port}`;
    const health = await fetch(`${url}/healthz`);
    assert.equal(health.status, 200);
    // Its own prom-client registry, as botwatch's `type: scrape` reads it.
    const metrics = await fetch(`${url}/metrics`);
    assert.equal(metrics.status, 200);
    const exposition = await metrics.text();
    assert.match(exposition, /^# TYPE nodejs_eventloop_lag_seconds gauge$/m);
    assert.match(exposition, /^# TYPE demo_bot_turns_total counter$/m);

    const connect = (auth) => new Promise((resolve) => {
      const s = io(url, { auth, reconnection: false, transports: ['websocket'], timeout: 5000 });
      s.on('connect', () => resolve({ s, ok: true }));
      s.on('connect_error', (err) => { s.close(); resolve({ ok: false, err }); });
    });
    const wrong = await withTimeout(connect({ service: 'admin', secret: 'nope' }), 10000, 'bad secret');
    assert.equal(wrong.ok, false);
    assert.equal(wrong.err.message, 'unauthorized');
    const missing = await withTimeout(connect({}), 10000, 'no auth');
    assert.equal(missing.ok, false);

    const good = await withTimeout(connect({ service: 'admin', secret }), 10000, 'good secret');
    assert.equal(good.ok, true);
    const event = await withTimeout(new Promise((r) => good.s.once('message:new', r)), 10000, 'live event');
    assert.match(event.userId, /^\d{16}$/);
    const pong = await withTimeout(good.s.timeout(5000).emitWithAck('bot:ping'), 10000, 'ack');
    assert.equal(pong.ok, true);
    good.s.close();
    bot.kill('SIGTERM');
    assert.equal(await withTimeout(bot.exited, 15000, 'bot exit'), 0);
    const text = fs.readFileSync(log, 'utf8');
    assert.ok(!text.includes(secret), 'the secret never reaches the log');
    assert.ok(!text.includes('"nope"'), 'nor what a client sent as one');
    assert.equal(readLines(log).filter((l) => l.message === 'socket auth rejected').length, 2);
  } finally {
    bot.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('with DATABASE_URL, conversations land in PostgreSQL', async () => {
  const pg = await startPostgres();
  const dir = tempDir();
  try {
    const log = path.join(dir, 'bot.log');
    const bot = startBot(['--messages=60', '--rate=300', '--seed=3', '--port=0', `--log-file=${log}`, '--no-stdout',
                          '--error-rate=0'], { DATABASE_URL: pg.url });
    assert.equal(await withTimeout(bot.exited, 30000, 'bot exit'), 0, bot.out);
    const lines = readLines(log);
    assert.equal(lines.find((l) => l.message === 'bot started').database, true);
    const client = new Client({ connectionString: pg.url });
    await client.connect();
    const q = async (sql) => Number((await client.query(sql)).rows[0].n);
    assert.equal(await q("SELECT count(*) AS n FROM conversations WHERE direction = 'inbound'"), 60);
    assert.equal(await q("SELECT count(*) AS n FROM conversations WHERE direction = 'outbound'"),
                 lines.filter((l) => l.message === 'message sent').length);
    assert.equal(await q('SELECT count(*) AS n FROM appointments'),
                 lines.filter((l) => l.message === 'appointment booked').length);
    assert.equal(await q('SELECT count(DISTINCT user_id) AS n FROM bot_users'),
                 new Set(lines.filter((l) => l.message === 'message processed').map((l) => l.userId)).size);
    await client.end();
  } finally {
    pg.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
