'use strict';
// Shared by the browser tests: run the real botwatch binary on port 0, stub
// peers on 127.0.0.1, and Debian's Chromium driven by playwright-core.

const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

const BINARY = process.env.BOTWATCH_BINARY;
const BUILD_DIR = process.env.BOTWATCH_BUILD_DIR;
const CHROMIUM = process.env.BOTWATCH_CHROMIUM || '/usr/bin/chromium';

// The shipped rules preset, for a log source's `rules:`.
const PRESET = path.resolve(__dirname, '..', '..', 'config', 'presets', 'messenger-bot.yaml');

// One JSON log line of the bot, stamped now.
function logLine(fields) {
  return JSON.stringify({ level: 'info', timestamp: new Date().toISOString(), ...fields }) + '\n';
}

// A `logs:` entry of botwatch.yaml: source `bot` reading the JSON lines of
// `logPath` from its beginning with the shipped preset.
function presetLogSource(logPath) {
  return `  - {name: bot, path: "${logPath}", format: json, start_at: beginning, poll_interval: 10ms,
     rules: "${PRESET}"}\n`;
}

function tempDir() { return fs.mkdtempSync(path.join(os.tmpdir(), 'botwatch-browser-')); }

async function eventually(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    try { last = await fn(); if (last) return last; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what} (last: ${last})`);
}

// botwatch on an ephemeral port; the port comes from its start-up log line.
// With `supervise` (an argv), `botwatch run [extraArgs] -- supervise...`.
async function startBotwatch(configPath, dir, extraArgs = [], { supervise = null } = {}) {
  if (!BINARY) throw new Error('BOTWATCH_BINARY is not set (CTest sets it)');
  const logPath = path.join(dir, 'botwatch.log');
  const args = [`--config.file=${configPath}`, '--web.listen-address=127.0.0.1:0', ...extraArgs];
  const argv = supervise ? ['run', ...args, '--', ...supervise] : args;
  const child = spawn(BINARY, argv, { stdio: ['ignore', 'ignore', fs.openSync(logPath, 'a')] });
  const exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await eventually(() => {
    const m = /msg="botwatch started".* port=(\d+)/.exec(fs.readFileSync(logPath, 'utf8'));
    if (child.exitCode !== null) throw new Error(`botwatch exited: ${fs.readFileSync(logPath, 'utf8')}`);
    return m && Number(m[1]);
  }, 10000, 'botwatch to start');
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => fs.readFileSync(logPath, 'utf8'),
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000).unref())]);
      child.kill('SIGKILL');
    },
  };
}

// An HTTP server answering 200 "ok" until closed; close() also drops keep-alive connections.
async function startHttpStub() {
  const sockets = new Set();
  const server = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok\n'); });
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)); });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: server.address().port,
    close: () => new Promise((r) => { server.close(r); for (const s of sockets) s.destroy(); }),
  };
}

async function startTcpStub() {
  const server = net.createServer((s) => s.end());
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

// Headless Chromium with a fresh profile; every flag keeps it off the network.
async function launchBrowser(options = {}) {
  const profile = tempDir();
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
           '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
    timeout: 30000,
    ...options,
  });
  return {
    context,
    async close() {
      await context.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

// The browser's page, and the script errors it raises from now on.
async function pageWithErrors(browser) {
  const page = browser.context.pages()[0] || await browser.context.newPage();
  const scriptErrors = [];
  page.on('pageerror', (err) => scriptErrors.push(String(err)));
  return { page, scriptErrors };
}

function screenshotPath(name) {
  const dir = path.join(BUILD_DIR || os.tmpdir(), 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}

module.exports = {
  PRESET, logLine, presetLogSource, tempDir, eventually, startBotwatch, startHttpStub, startTcpStub, launchBrowser,
  pageWithErrors, screenshotPath,
};
