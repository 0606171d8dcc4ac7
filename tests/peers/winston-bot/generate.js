// Writes a deterministic Messenger-bot log to stdout with a real Winston
// logger (json + timestamp, as the bot does), then a few lines a real bot log
// also contains: a plain-text stack trace, a truncated line, two glued objects.
// tests/integration/logs_preset_test.cc knows the exact counts this produces.
'use strict';
const winston = require('winston');

const logger = winston.createLogger({
  level: 'info',
  format: winston.format.combine(winston.format.timestamp(), winston.format.json()),
  transports: [new winston.transports.Console()],
});

const responseTimes = [50, 100, 250, 500, 1000, 2000, 3000, 10000, 45000];  // ms, on bucket bounds
const categories = ['shoes', 'bags', 'hats'];
const errorTypes = ['graph_api', 'gemini', 'database'];

for (let i = 0; i < 200; i++) {
  const userId = 'u' + (i % 37);
  const processed = { userId, responseTime: responseTimes[i % 9], template: 'greeting' };
  if (i % 3 === 0) processed.cacheHit = true;
  if (i % 3 === 1) processed.cacheHit = false;
  logger.info('message processed', processed);
  const sent = { userId };
  if (i % 5 === 0) sent.appUsage = { call_count: i % 100, total_time: 4, total_cputime: 3 };
  if (i % 7 === 0) sent.pageUsage = { call_count: i % 50, total_time: 6, total_cputime: 2 };
  if (i % 11 === 0) sent.bucUsage = { type: 'messenger', call_count: i % 90, total_time: 8, total_cputime: 9 };
  logger.info('message sent', sent);
  if (i % 4 === 0) logger.info('gemini response', { latencyMs: 1000 + i, tokens: 100 + i, model: 'gemini-1.5-flash' });
  if (i % 10 === 0) logger.info('product inquiry', { userId, category: categories[Math.floor(i / 10) % 3] });
  if (i % 25 === 0) logger.info('appointment booked', { userId, appointmentId: 'a-' + i });
  if (i % 20 === 0) logger.info('human intervention requested', { userId, reason: 'complaint' });
  if (i % 40 === 0) logger.info('human intervention resolved', { userId });
  if (i % 8 === 0) logger.error('send failed', { errorType: errorTypes[Math.floor(i / 8) % 3], userId });
  if (i % 16 === 3) logger.warn('retrying send', { errorType: 'graph_api', attempt: 2 });
  if (i % 6 === 0) logger.info('webhook verified', { mode: 'subscribe' });
  logger.debug('not written at level info', { i });
}

logger.on('finish', () => {
  process.stdout.write('Error: boom\n    at Object.<anonymous> (/app/src/index.js:10:5)\n');
  process.stdout.write('{"level":"info","message":"message processed","userId":"u1"\n');
  process.stdout.write('{"level":"info","message":"message sent"}{"level":"info","message":"message sent"}\n');
});
logger.end();
