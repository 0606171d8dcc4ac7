'use strict';
// Command-line flags and environment variables of the demo bot. Flags win over
// the environment; every option has a default so `node src/index.js` just runs.

const USAGE = `usage: node src/index.js [options]

  --rate=N           simulated inbound messages per second (env DEMO_RATE, default 2)
  --users=N          size of the simulated user population (env DEMO_USERS, default 200)
  --duration=D       stop after D (e.g. 30s, 5m; env DEMO_DURATION, default: run until signalled)
  --messages=N       stop after N inbound messages (env DEMO_MAX_MESSAGES, default: no limit)
  --seed=N           seed of the pseudo-random mix, for reproducible runs (env DEMO_SEED)
  --log-file=PATH    append Winston JSON logs to PATH (env DEMO_LOG_FILE)
  --no-stdout        do not also write the logs to stdout (env DEMO_STDOUT=0)
  --port=N           Socket.io/HTTP port; 0 picks a free one (env PORT, default 4000)
  --host=H           bind address (env HOST, default 127.0.0.1)
  --pidfile=PATH     write the pid to PATH (env DEMO_PIDFILE)
  --error-rate=F     fraction of messages that fail (env DEMO_ERROR_RATE, default 0.03)
  --text             log message text in "message processed" (env DEMO_LOG_TEXT=1; default off)

  DATABASE_URL       when set, conversations are written to PostgreSQL (tables are created)
  INTERNAL_SECRET    secret that Socket.io clients must present as handshake auth {service, secret}
                     (default "demo-secret", with a warning)
`;

function parseDuration(text) {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(String(text).trim());
  if (!m) throw new Error(`invalid duration "${text}" (use e.g. 500ms, 30s, 5m, 1h)`);
  const unit = { ms: 1, s: 1000, m: 60000, h: 3600000 }[m[2]];
  return Number(m[1]) * unit;
}

function parseNumber(name, text, { min = 0, integer = false } = {}) {
  const n = Number(text);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
    throw new Error(`invalid --${name} "${text}"`);
  }
  return n;
}

function parseOptions(argv, env) {
  const flags = {};
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') return { help: USAGE };
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!m) throw new Error(`unexpected argument "${arg}" (see --help)`);
    flags[m[1]] = m[2] === undefined ? true : m[2];
  }
  const known = new Set(['rate', 'users', 'duration', 'messages', 'seed', 'log-file', 'no-stdout', 'port',
                         'host', 'pidfile', 'error-rate', 'text']);
  for (const k of Object.keys(flags)) {
    if (!known.has(k)) throw new Error(`unknown flag --${k} (see --help)`);
  }
  const pick = (flag, envName) => (flags[flag] !== undefined ? flags[flag] : env[envName]);

  const opts = {
    rate: parseNumber('rate', pick('rate', 'DEMO_RATE') ?? 2, { min: 0.01 }),
    users: parseNumber('users', pick('users', 'DEMO_USERS') ?? 200, { min: 1, integer: true }),
    durationMs: null,
    maxMessages: null,
    seed: null,
    logFile: pick('log-file', 'DEMO_LOG_FILE') || null,
    stdout: !(flags['no-stdout'] === true || env.DEMO_STDOUT === '0'),
    port: parseNumber('port', pick('port', 'PORT') ?? 4000, { integer: true }),
    host: pick('host', 'HOST') || '127.0.0.1',
    pidfile: pick('pidfile', 'DEMO_PIDFILE') || null,
    errorRate: parseNumber('error-rate', pick('error-rate', 'DEMO_ERROR_RATE') ?? 0.03),
    logText: flags.text === true || env.DEMO_LOG_TEXT === '1',
    databaseUrl: env.DATABASE_URL || null,
    internalSecret: env.INTERNAL_SECRET || null,
  };
  const duration = pick('duration', 'DEMO_DURATION');
  if (duration) opts.durationMs = parseDuration(duration);
  const messages = pick('messages', 'DEMO_MAX_MESSAGES');
  if (messages) opts.maxMessages = parseNumber('messages', messages, { min: 1, integer: true });
  const seed = pick('seed', 'DEMO_SEED');
  if (seed !== undefined && seed !== null && seed !== '') opts.seed = parseNumber('seed', seed, { integer: true });
  if (opts.errorRate > 1) throw new Error(`invalid --error-rate "${opts.errorRate}" (a fraction 0..1)`);
  return opts;
}

module.exports = { parseOptions, parseDuration, USAGE };
