'use strict';
// `make run` (scripts/run-demo.sh): every collector of the demo turns green,
// the status API lists them, the bot runs as botwatch's supervised child (its
// process collector, its botwatch_process_* series, its stdout feeding the
// preset's metrics), and Ctrl-C to the process group stops everything the
// script started, with no orphans and no temp directory left behind.
const test = require('node:test');
const assert = require('node:assert/strict');
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const net = require('net');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const BUILD = process.env.BOTWATCH_BUILD_DIR;

// The parent pid of `pid`, from /proc (the field after the parenthesised comm).
function parentOf(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
}

function sample(metrics, series) {
  const line = metrics.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

async function eventually(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}: ${last}`);
}

test('make run: all demo collectors up, then Ctrl-C leaves nothing behind', async () => {
  assert.ok(BUILD, 'BOTWATCH_BUILD_DIR is set by CTest');
  const port = await freePort();
  const child = spawn(path.join(ROOT, 'scripts', 'run-demo.sh'), [BUILD], {
    cwd: ROOT, detached: true,  // its own process group, like a terminal's foreground job
    env: { ...process.env, BOTWATCH_LISTEN: `127.0.0.1:${port}`, DEMO_RATE: '20' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? sig)));
  try {
    const status = await eventually(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/api/v1/status`);
      const body = await r.json();
      const cs = body.data.collectors;
      return cs.every((c) => c.checked && c.up) ? cs : null;
    }, 30000, 'every demo collector up');
    assert.deepEqual(status.map((c) => c.name).sort(),
                     ['bot', 'bot-health', 'bot-metrics', 'bot-socketio', 'botwatch', 'database']);
    // The banner comes once botwatch answers, which may be after the first probes.
    await eventually(() => /Press Ctrl-C to stop everything/.test(out), 10000, 'the banner');
    assert.match(out, /status page: +http:\/\/127\.0\.0\.1:\d+\//);
    // A clean start: probes that ran before the bot listened are "not up yet"
    // (info), the database already has the bot's tables, and state_dir is set.
    const started = out.split('\n').filter((l) => l.startsWith('ts='));
    assert.ok(started.some((l) => / level=info msg="botwatch started"/.test(l)), out);
    assert.deepEqual(started.filter((l) => / level=(warn|error) /.test(l)), [], 'no warning while the demo starts');
    // The bot's log flows through the preset: the summary counts its messages.
    const summary = await eventually(async () => {
      const s = await (await fetch(`http://127.0.0.1:${port}/api/v1/summary`)).json();
      return s.messages.total > 0 && s.users.active_today > 0 && s.system.database_connections >= 1 ? s : null;
    }, 20000, 'messages in the summary');
    assert.ok(summary.system.memory_mb > 0);
    const demoDir = /bot log: +(\/tmp\/botwatch-demo\.\w+)\/bot\.log/.exec(out)[1];
    assert.ok(fs.existsSync(demoDir));
    const botPid = Number(fs.readFileSync(path.join(demoDir, 'bot.pid'), 'utf8'));
    const botwatchPid = Number(fs.readFileSync(path.join(demoDir, 'botwatch.pid'), 'utf8'));

    // botwatch supervises the bot: the bot is its child, and the "bot" collector
    // is that child (type process, listed first), with its botwatch_process_* series.
    assert.equal(parentOf(botPid), botwatchPid, 'the demo bot is a child of botwatch');
    assert.match(fs.readFileSync(`/proc/${botwatchPid}/cmdline`, 'utf8').split('\0').join(' '),
                 / run .*--supervise\.name=bot .*-- node \S*examples\/demo-bot\/src\/index\.js /);
    assert.equal(status[0].name, 'bot');
    assert.equal(status[0].type, 'process');
    const url = `http://127.0.0.1:${port}/metrics`;
    let metrics = await (await fetch(url)).text();
    assert.equal(sample(metrics, 'botwatch_collector_up{collector="bot",type="process"}'), 1);
    assert.ok(sample(metrics, 'botwatch_process_resident_memory_bytes{collector="bot"}') > 0);
    assert.ok(sample(metrics, 'botwatch_process_start_time_seconds{collector="bot"}') > 1.7e9);
    assert.equal(sample(metrics, 'botwatch_process_restarts_total{collector="bot"}'), 0);
    // The bot's stdout (Winston JSON) is the `bot` log source: the preset's counters move.
    const messages = () => sample(metrics, 'bot_messages_total{direction="inbound"}');
    assert.ok(messages() > 0, metrics);
    assert.ok(sample(metrics, 'botwatch_log_lines_total{source="bot"}') > 0);
    const before = messages();
    await eventually(async () => {
      metrics = await (await fetch(url)).text();
      return messages() > before;
    }, 10000, 'bot_messages_total to move');
    // ...and passes through to botwatch's stdout, which the script keeps in bot.log.
    assert.match(fs.readFileSync(path.join(demoDir, 'bot.log'), 'utf8'), /^\{.*"message":"message processed"/m);

    process.kill(-child.pid, 'SIGINT');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('timeout'), 20000).unref())]);
    assert.equal(code, 130, out);
    assert.ok(!fs.existsSync(demoDir), 'the temp directory is removed');
    const ps = execFileSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
    const left = ps.split('\n').filter((l) => l.includes(demoDir) || l.includes(`127.0.0.1:${port}`));
    assert.deepEqual(left, [], 'no process of the demo is left');
    assert.throws(() => process.kill(botPid, 0), /ESRCH/);
  } finally {
    try { process.kill(-child.pid, 'SIGKILL'); } catch { /* already gone */ }
  }
});
