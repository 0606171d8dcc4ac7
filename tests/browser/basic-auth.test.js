'use strict';
// The status page behind basic auth (--web.config.file): the browser asks once,
// and every request of the page (status polling, the EventSource feed) carries
// the credentials; without them nothing is shown.
const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const h = require('./harness');

function bcrypt(password) {
  // libxcrypt through Python's crypt module (cost 4 keeps the test fast).
  return execFileSync('python3', ['-W', 'ignore', '-c',
    'import crypt, sys; print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))', password],
  { encoding: 'utf8' }).trim();
}

test('status page with basic auth: renders and streams with credentials, 401 without', async () => {
  const dir = h.tempDir();
  const botLog = path.join(dir, 'bot.log');
  fs.writeFileSync(botLog, '');
  fs.writeFileSync(path.join(dir, 'runner.pid'), `${process.pid}\n`);
  fs.writeFileSync(path.join(dir, 'web.yml'), `basic_auth_users:\n  ops: ${bcrypt('page-pw')}\n`);
  const config = path.join(dir, 'botwatch.yaml');
  fs.writeFileSync(config, `global: {default_interval: 1s, scrape_timeout: 500ms}
collectors:
  - {name: runner, type: process, pidfile: "${dir}/runner.pid"}
logs:
  - {name: bot, path: "${botLog}", format: json, poll_interval: 10ms,
     rules: "${h.PRESET}"}
`);
  const bw = await h.startBotwatch(config, dir, [`--web.config.file=${dir}/web.yml`]);
  const browser = await h.launchBrowser({ httpCredentials: { username: 'ops', password: 'page-pw' } });
  try {
    const anonymous = await fetch(`${bw.url}/`);
    assert.equal(anonymous.status, 401);
    assert.equal((await fetch(`${bw.url}/api/v1/feed`)).status, 401);

    const page = browser.context.pages()[0] || await browser.context.newPage();
    const statuses = [];
    page.on('response', (r) => statuses.push(r.status()));
    await page.goto(`${bw.url}/`, { waitUntil: 'load', timeout: 10000 });
    await h.eventually(async () => (await page.getAttribute('li[data-collector="runner"]', 'data-state')) === 'green',
                       10000, 'the runner dot to turn green');
    await h.eventually(async () => (await page.textContent('#feed-state')) === 'live', 5000, 'the feed to connect');
    fs.appendFileSync(botLog, JSON.stringify({ level: 'error', message: 'failed to send message',
                                               errorType: 'graph_api', timestamp: new Date().toISOString() }) + '\n');
    // The claim: a line reaches a live page within 1 s; the margin scales for slow builds.
    const timeScale = Number(process.env.BOTWATCH_TIME_SCALE || 1);
    await page.waitForSelector('#feed li[data-type="error"]', { timeout: 1000 + 1000 * timeScale });
    assert.ok(!statuses.includes(500));
  } finally {
    await browser.close();
    await bw.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
