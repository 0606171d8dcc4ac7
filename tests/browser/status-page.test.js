'use strict';
// The status page in a real browser: it shows every configured collector with
// a health dot, turns a dot red when its peer goes away, shows the summary
// from the log and a log line in the live feed within a second, fetches nothing from
// outside botwatch, and raises no script errors. Saves a screenshot under the
// build directory. In supervise mode the child has a dot of its own, red while
// it is down and green again after its restart.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const h = require('./harness');

test('status page: a dot per collector, red when a peer goes down', async () => {
  const dir = h.tempDir();
  const api = await h.startHttpStub();
  const cache = await h.startTcpStub();
  fs.writeFileSync(path.join(dir, 'runner.pid'), `${process.pid}\n`);
  const botLog = path.join(dir, 'bot.log');
  fs.writeFileSync(botLog, h.logLine({ message: 'message processed', userId: '2485000011112222', responseTime: 300,
                                    template: 'greeting', cacheHit: true }));
  const config = path.join(dir, 'botwatch.yaml');
  fs.writeFileSync(config, `global: {default_interval: 1s, scrape_timeout: 500ms}
collectors:
  - {name: api, type: http, url: "http://127.0.0.1:${api.port}/health"}
  - {name: cache, type: tcp, address: "127.0.0.1:${cache.port}"}
  - {name: runner, type: process, pidfile: "${dir}/runner.pid"}
logs:
${h.presetLogSource(botLog)}`);
  const bw = await h.startBotwatch(config, dir);
  const browser = await h.launchBrowser();
  try {
    const { page, scriptErrors } = await h.pageWithErrors(browser);
    const foreign = [];
    page.on('request', (req) => { if (!req.url().startsWith(bw.url + '/')) foreign.push(req.url()); });

    await page.goto(bw.url + '/', { waitUntil: 'load', timeout: 10000 });
    assert.equal(await page.title(), 'botwatch');
    // No links: configured, so none shown.
    assert.ok(!(await page.isVisible('#link-grafana')) && !(await page.isVisible('#link-alertmanager')));

    const states = () => page.$$eval('#collectors li', (lis) =>
      Object.fromEntries(lis.map((li) => [li.dataset.collector, li.dataset.state])));
    await h.eventually(async () => {
      const s = await states();
      return Object.keys(s).length === 3 && Object.values(s).every((v) => v === 'green') && s;
    }, 10000, 'three green dots');
    assert.deepEqual(Object.keys(await states()).sort(), ['api', 'cache', 'runner']);

    // The summary numbers come from the log.
    await h.eventually(async () => (await page.textContent('[data-field="messages.total"] .value')) === '1',
                       10000, 'the messages card to show 1');
    assert.equal(await page.textContent('[data-field="messages.avg_response_time"] .value'), '300 ms');
    await h.eventually(async () => (await page.$$('#chart rect')).length === 96, 5000, 'the 24 h chart');

    // The live feed: a line written to the log shows on the page within a
    // second; the bound adds a 1 s margin for a loaded machine, scaled by
    // BOTWATCH_TIME_SCALE (tests/node/CMakeLists.txt sets it for sanitizer builds, as the C++ tests'
    // kTimeBoundScale does).
    await h.eventually(async () => (await page.textContent('#feed-state')) === 'live', 5000, 'the feed to connect');
    const written = Date.now();
    fs.appendFileSync(botLog,
                      h.logLine({ message: 'appointment booked', userId: '2485000011112222', slot: 'tomorrow 10:00' }));
    const timeScale = Number(process.env.BOTWATCH_TIME_SCALE || 1);
    await page.waitForSelector('#feed li[data-type="appointment"]', { timeout: 1000 + 1000 * timeScale });
    const feedMs = Date.now() - written;
    const feedText = await page.textContent('#feed li[data-type="appointment"]');
    assert.match(feedText, /userId=u:[0-9a-f]{8}/);
    assert.ok(!feedText.includes('2485000011112222'), 'identifiers are hashed on the page too');

    // The hover text says when it was checked and why.
    const tip = await page.getAttribute('li[data-collector="api"]', 'title');
    assert.match(tip, /last check: .+ \(\d+ s ago\)/);
    assert.match(tip, /reason: ok/);

    // The peer goes away: the dot turns red without a reload, and says why.
    const before = Date.now();
    await api.close();
    await h.eventually(async () => (await states()).api === 'red', 6000, 'the api dot to turn red');
    const redAfterMs = Date.now() - before;
    const why = await page.textContent('li[data-collector="api"] .why');
    assert.match(why, /connection_refused/);
    assert.equal((await states()).cache, 'green');
    assert.match(await page.textContent('#health-note'), /3 collectors, 1 down/);

    const shot = h.screenshotPath('status-page.png');
    await page.screenshot({ path: shot, fullPage: true });
    assert.ok(fs.statSync(shot).size > 10000, 'a real screenshot was written');
    console.log(`# feed line after ${feedMs} ms; red after ${redAfterMs} ms; screenshot: ${shot}`);

    assert.deepEqual(foreign, [], 'the page loads nothing from outside botwatch');
    assert.deepEqual(scriptErrors, []);
  } finally {
    await browser.close();
    await bw.stop();
    await cache.close();
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('status page: the supervised child has a dot, red while it is down, green after its restart', async () => {
  const dir = h.tempDir();
  const cache = await h.startTcpStub();
  const config = path.join(dir, 'botwatch.yaml');
  fs.writeFileSync(config, `global: {default_interval: 1s, scrape_timeout: 500ms}
collectors:
  - {name: cache, type: tcp, address: "127.0.0.1:${cache.port}"}
`);
  const runs = path.join(dir, 'runs');
  const crash = path.join(dir, 'crash');
  // The first run exits 3 once told to; the second stays up.
  const script = `echo run >> '${runs}'; n=$(wc -l < '${runs}'); ` +
    `while [ ! -e '${crash}' ] || [ $n -gt 1 ]; do sleep 0.05; done; exit 3`;
  const bw = await h.startBotwatch(config, dir,
    ['--supervise.name=bot', '--supervise.restart=on-failure', '--supervise.restart-backoff=4s'],
    { supervise: ['/bin/sh', '-c', script] });
  const browser = await h.launchBrowser();
  try {
    const { page, scriptErrors } = await h.pageWithErrors(browser);
    await page.goto(bw.url + '/', { waitUntil: 'load', timeout: 10000 });
    const states = () => page.$$eval('#collectors li', (lis) => lis.map((li) => [li.dataset.collector, li.dataset.state]));
    await h.eventually(async () => {
      const s = await states();
      return s.length === 2 && s.every(([, v]) => v === 'green') && s;
    }, 10000, 'two green dots');
    assert.deepEqual((await states()).map(([name]) => name), ['bot', 'cache'], 'the child first');
    assert.equal(await page.textContent('li[data-collector="bot"] .type'), 'process');

    fs.writeFileSync(crash, 'x');
    const why = () => page.textContent('li[data-collector="bot"] .why');
    await h.eventually(async () => Object.fromEntries(await states()).bot === 'red' &&
                       /^down since .+: exited: exited with code 3; restarting in 4s$/.test(await why()),
                       4000, 'the bot dot to turn red, saying why');
    assert.match(await page.textContent('#health-note'), /2 collectors, 1 down/);
    await page.screenshot({ path: h.screenshotPath('status-page-supervised-down.png'), fullPage: true });

    await h.eventually(async () => Object.fromEntries(await states()).bot === 'green', 10000, 'the bot dot to turn green');
    assert.equal(fs.readFileSync(runs, 'utf8'), 'run\nrun\n');
    assert.deepEqual(scriptErrors, []);
  } finally {
    await browser.close();
    await bw.stop();
    await cache.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
