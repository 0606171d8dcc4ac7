'use strict';
// Test helpers: run the bot as a child process, wait on its log, and start a
// throwaway PostgreSQL (initdb in a temp dir, as the project's NOTES show).

const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const BOT = path.join(__dirname, '..', 'src', 'index.js');

function tempDir() { return fs.mkdtempSync(path.join(os.tmpdir(), 'demo-bot-test-')); }

function readLines(file) {
  if (!fs.existsSync(file)) return [];
  return fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// Polls `predicate` every 20 ms for at most `ms`.
async function eventually(predicate, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function startBot(args, env = {}) {
  const child = spawn(process.execPath, [BOT, ...args], {
    env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.out = '';
  child.stdout.on('data', (d) => { child.out += d; });
  child.stderr.on('data', (d) => { child.out += d; });
  child.exited = new Promise((resolve) => child.on('exit', (code, sig) => resolve(code ?? 128 + os.constants.signals[sig])));
  return child;
}

async function withTimeout(promise, ms, what) {
  let timer;
  const t = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${what}: no result in ${ms} ms`)), ms); });
  try { return await Promise.race([promise, t]); } finally { clearTimeout(timer); }
}

function freePort() {
  return new Promise((resolve) => {
    const srv = require('net').createServer();
    srv.listen(0, '127.0.0.1', () => { const { port } = srv.address(); srv.close(() => resolve(port)); });
  });
}

// A PostgreSQL cluster of its own; needs root (the server runs as `postgres`).
async function startPostgres() {
  const base = '/usr/lib/postgresql';
  const versions = fs.existsSync(base) ? fs.readdirSync(base).sort((a, b) => Number(a) - Number(b)) : [];
  if (versions.length === 0) throw new Error('PostgreSQL server binaries not found (packaging/install-deps.sh installs them)');
  if (process.getuid() !== 0) throw new Error('this test starts PostgreSQL as the postgres user and must run as root');
  const bin = path.join(base, versions[versions.length - 1], 'bin');
  const dir = tempDir();
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, 'pg');
  fs.mkdirSync(data);
  spawnSync('chown', ['postgres:postgres', data]);
  const port = await freePort();
  const run = (...argv) => {
    const r = spawnSync('runuser', ['-u', 'postgres', '--', ...argv], { encoding: 'utf8', timeout: 60000 });
    if (r.status !== 0) throw new Error(`${argv[0]} failed: ${r.stdout}${r.stderr}`);
  };
  run(path.join(bin, 'initdb'), '-D', path.join(data, 'data'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8',
      '--locale=C.UTF-8', '--no-sync');
  run(path.join(bin, 'pg_ctl'), '-D', path.join(data, 'data'), '-l', path.join(data, 'server.log'), '-w', '-t', '30',
      '-o', `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${data} -c fsync=off`, 'start');
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    stop() {
      run(path.join(bin, 'pg_ctl'), '-D', path.join(data, 'data'), '-m', 'fast', '-w', 'stop');
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

module.exports = { tempDir, readLines, eventually, startBot, withTimeout, startPostgres, BOT };
