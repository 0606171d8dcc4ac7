// Sends a deterministic Messenger-bot log to botwatch's POST /api/v1/logs with
// winston's own Http transport, as a bot in another container would.
//   node send-http.js PORT PATH [batch] [user:password]
// Prints "responses=N failures=M" and exits once every request is answered.
// tests/integration/logs/intake_test.cc knows the exact counts this produces.
'use strict';
const winston = require('winston');

const [port, path, mode, credentials] = process.argv.slice(2);
const batch = mode === 'batch';
const headers = {};
if (credentials) headers.authorization = 'Basic ' + Buffer.from(credentials).toString('base64');

const http = new winston.transports.Http({
  host: '127.0.0.1',
  port: Number(port),
  path,
  headers,  // winston's `auth` option is not used by log(); credentials go in a header
  batch,
  batchCount: 7,
  batchInterval: 60000,  // only full batches are sent: 49 events = 7 batches
});
const logger = winston.createLogger({
  level: 'info',
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  transports: [http],
});

const categories = ['shoes', 'bags'];
let events = 0;
for (let i = 0; i < 20; i++) {
  logger.info('message processed', { userId: 'u' + (i % 7), responseTime: 100 * (i % 5 + 1), template: 'greeting', cacheHit: i % 2 === 0 });
  logger.info('message sent', { userId: 'u' + (i % 7) });
  events += 2;
  if (i % 5 === 0) { logger.info('product inquiry', { userId: 'u1', category: categories[(i / 5) % 2] }); events++; }
  if (i % 4 === 0) { logger.error('send failed', { errorType: 'gemini', userId: 'u2' }); events++; }
}

// Non-batch: one request per event, each answered with 'logged' or 'warn'.
// Batch: one request per 7 events, answered through the batch's first event.
const expected = batch ? events / 7 : events;
let responses = 0;
let failures = 0;
const done = () => {
  if (responses + failures < expected) return;
  console.log(`responses=${responses} failures=${failures}`);
  process.exit(failures === 0 ? 0 : 1);
};
http.on('logged', () => { responses++; done(); });
http.on('warn', (err) => { failures++; console.error(String(err)); done(); });
setTimeout(() => { console.log(`timeout responses=${responses} failures=${failures}`); process.exit(2); }, 20000);
