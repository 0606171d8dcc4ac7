'use strict';
// The status page at phone, tablet and desktop widths (360, 768, 1280 px):
// no horizontal scroll, every number (cards, collector latencies, reasons)
// inside the viewport, the chart drawn at its own aspect with a y-axis scale,
// a down collector saying since when, an empty system number saying why, and
// the configured Grafana and Alertmanager links.
// Screenshots go to <build>/screenshots/status-page-<width>.png.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const h = require('./harness');

test('status page layout at 360, 768 and 1280 px', async () => {
  const dir = h.tempDir();
  const api = await h.startHttpStub();
  const gone = await h.startTcpStub();
  await gone.close();  // nothing listens there any more: that collector is down
  const botLog = path.join(dir, 'bot.log');
  let lines = '';
  for (let i = 0; i < 40; i++) {
    lines += h.logLine({ message: 'message processed', userId: `24850000111${10000 + i}`, responseTime: 1234.5 + i,
                      template: 'greeting', cacheHit: i % 2 === 0 });
  }
  fs.writeFileSync(botLog, lines);
  const config = path.join(dir, 'botwatch.yaml');
  fs.writeFileSync(config, `global: {default_interval: 1s, scrape_timeout: 500ms}
collectors:
  - {name: messenger-webhook-api-with-a-rather-long-name, type: http, url: "http://127.0.0.1:${api.port}/health"}
  - {name: cache, type: tcp, address: "127.0.0.1:${gone.port}"}
links: {grafana: "http://127.0.0.1:3000/d/botwatch", alertmanager: "http://127.0.0.1:9093/#/alerts"}
logs:
${h.presetLogSource(botLog)}`);
  const bw = await h.startBotwatch(config, dir);
  const browser = await h.launchBrowser();
  try {
    const { page, scriptErrors } = await h.pageWithErrors(browser);
    for (const width of [360, 768, 1280]) {
      await page.setViewportSize({ width, height: 800 });
      await page.goto(bw.url + '/', { waitUntil: 'load', timeout: 10000 });
      await h.eventually(async () => (await page.textContent('[data-field="messages.total"] .value')) === '40',
                         10000, 'the messages card to show 40');
      await h.eventually(async () => (await page.$$('#chart rect')).length === 96, 10000, 'the 24 h chart');
      await h.eventually(async () => /down since/.test(await page.textContent('li[data-collector="cache"] .why')),
                         10000, 'the cache collector to show "down since"');
      await h.eventually(async () => (await page.textContent('li[data-collector^="messenger"] .latency')).endsWith(' ms'),
                         10000, 'the api latency');

      const layout = await page.evaluate(() => {
        const vw = document.documentElement.clientWidth;
        const numbers = [...document.querySelectorAll(
          '.card .label, .card .value, .card .trend, .collectors .name, .collectors .latency, .collectors .why, #chart-note')]
          .filter((e) => e.textContent.trim() !== '')
          .map((e) => {
            const r = e.getBoundingClientRect();
            const style = getComputedStyle(e);
            return { text: e.textContent.trim(), left: r.left, right: r.right, width: r.width, height: r.height,
                     visible: style.visibility !== 'hidden' && style.display !== 'none',
                     clipped: e.scrollWidth > e.clientWidth + 1 && style.overflow !== 'visible' };
          });
        const svg = document.querySelector('#chart svg');
        const box = svg.getBoundingClientRect();
        const vb = svg.viewBox.baseVal;
        return {
          vw, scrollWidth: document.documentElement.scrollWidth, bodyScroll: document.body.scrollWidth, numbers,
          svg: { ratio: box.width / box.height, vbRatio: vb.width / vb.height, par: svg.getAttribute('preserveAspectRatio'),
                 yLabels: [...svg.querySelectorAll('text.y')].map((t) => t.textContent), right: box.right },
        };
      });
      assert.ok(layout.scrollWidth <= layout.vw, `${width}px: page scrolls sideways (${layout.scrollWidth} > ${layout.vw})`);
      assert.ok(layout.bodyScroll <= layout.vw, `${width}px: body scrolls sideways (${layout.bodyScroll} > ${layout.vw})`);
      assert.ok(layout.numbers.length >= 20, `${width}px: found ${layout.numbers.length} number elements`);
      for (const n of layout.numbers) {
        assert.ok(n.visible && n.width > 0 && n.height > 0, `${width}px: "${n.text}" is not visible`);
        assert.ok(n.left >= 0 && n.right <= layout.vw + 0.5, `${width}px: "${n.text}" is outside [0, ${layout.vw}]: ${n.left}..${n.right}`);
        assert.ok(!n.clipped, `${width}px: "${n.text}" is cut off`);
      }
      assert.equal(layout.svg.par, null, 'the chart is not stretched');
      assert.ok(Math.abs(layout.svg.ratio - layout.svg.vbRatio) < 0.02, `${width}px: chart aspect ${layout.svg.ratio} vs ${layout.svg.vbRatio}`);
      assert.ok(layout.svg.right <= layout.vw + 0.5, `${width}px: the chart is outside the viewport`);
      assert.ok(layout.svg.yLabels.length >= 2 && layout.svg.yLabels[0] === '0', `y-axis labels: ${layout.svg.yLabels}`);
      // Latency of 1.2 s: the card shows the whole number, in ms.
      assert.match(await page.textContent('[data-field="messages.avg_response_time"] .value'), /^1,?25\d(\.\d)? ms$/);
      // No process collector: the bot's numbers are empty and say why.
      assert.equal(await page.textContent('[data-field="system.memory_mb"] .value'), '—');
      assert.match(await page.textContent('[data-field="system.cpu_percent"] .trend'), /not supervised/);

      // The configured links, in the header.
      assert.equal(await page.getAttribute('#link-grafana', 'href'), 'http://127.0.0.1:3000/d/botwatch');
      assert.equal(await page.getAttribute('#link-alertmanager', 'href'), 'http://127.0.0.1:9093/#/alerts');
      assert.ok(await page.isVisible('#link-grafana') && await page.isVisible('#link-alertmanager'));

      const shot = h.screenshotPath(`status-page-${width}.png`);
      await page.screenshot({ path: shot, fullPage: true });
      assert.ok(fs.statSync(shot).size > 5000, 'a real screenshot was written');
      console.log(`# ${width}px: scrollWidth ${layout.scrollWidth} <= ${layout.vw}; ${layout.numbers.length} numbers visible; screenshot: ${shot}`);
    }
    assert.deepEqual(scriptErrors, []);
  } finally {
    await browser.close();
    await bw.stop();
    await api.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
