// Writes a deterministic Messenger-bot log to stdout with a real Winston
// logger (json + timestamp, as the bot does), then a few lines a real bot log
// also contains: a plain-text stack trace, a truncated line, two glued objects.
// tests/integration/logs/preset_test.cc knows the exact counts this produces.
// Every line carries an explicit timestamp from a simulated clock (one second per
// round, starting 20 minutes ago) so that delivery times are exact; receipts are
// stamped later than the next rounds' lines, as real webhooks arrive out of order.
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
const deliverySeconds = [0.3, 0.8, 1.5, 4, 8];  // Messenger receipts, between bucket bounds
const sendApiCodes = [551, 10, 613, 12345, 551, 100, undefined, 1200];
const smsDeliverySeconds = [3, 8, 20, 45, 100];
const smsUndeliveredCodes = [30003, 30005, 30007, 30034, 30003];
const smsFailedCodes = [21211, 21614, 21610, 12345, '21211'];  // Twilio posts ErrorCode as a string
const webhookMs = [50, 300, 800, 1500, 4000, 12000, 25000, 45000];

const start = Date.now() - 20 * 60 * 1000;
let now = start;
const at = (ms) => new Date(ms).toISOString();
const log = (level, message, fields = {}, when = now) => logger.log(level, message, { ...fields, timestamp: at(when) });

for (let i = 0; i < 200; i++) {
  now = start + i * 1000;
  const userId = 'u' + (i % 37);
  const processed = { userId, responseTime: responseTimes[i % 9], template: i % 10 === 5 ? 'fallback' : 'greeting' };
  if (i % 3 === 0) processed.cacheHit = true;
  if (i % 3 === 1) processed.cacheHit = false;
  if (i % 50 === 7) processed.fallback = true;
  log('info', 'message processed', processed);
  const messageId = 'm_' + i;
  const sent = { userId, messageId };
  if (i % 5 === 0) sent.appUsage = { call_count: i % 100, total_time: 4, total_cputime: 3 };
  if (i % 7 === 0) sent.pageUsage = { call_count: i % 50, total_time: 6, total_cputime: 2 };
  if (i % 11 === 0) sent.bucUsage = { type: 'messenger', call_count: i % 90, total_time: 8, total_cputime: 9 };
  log('info', 'message sent', sent);
  if (i % 10 !== 9) {
    const delivered = now + deliverySeconds[i % 5] * 1000;
    log('info', 'message delivered', { userId, messageId, watermark: delivered }, delivered);
    if (i % 4 === 0) log('info', 'message read', { userId, messageId, watermark: delivered + 60000 }, delivered + 60000);
  }
  // A delivery event without mids: counted, but it cannot be paired.
  if (i === 100) log('info', 'message delivered', { userId, watermark: now });
  if (i % 25 === 3) {
    const failed = { errorType: 'graph_api', userId, subcode: 1545041, fbtraceId: 'Ab' + i };
    if (sendApiCodes[(i - 3) / 25] !== undefined) failed.code = sendApiCodes[(i - 3) / 25];
    log('error', 'send api error', failed);
  }
  log('info', 'webhook processed', { object: 'page', entries: 1, durationMs: webhookMs[i % 8] });
  if (i < 40) {  // an SMS campaign of 40 messages
    const sms = { messageSid: 'SM' + i, campaignId: 'spring' };
    log('info', 'sms status', { ...sms, status: 'queued' });
    const k = i % 8, n = Math.floor(i / 8);
    if (k !== 6) log('info', 'sms status', { ...sms, status: 'sent' }, now + 1000);
    if (k < 5) log('info', 'sms status', { ...sms, status: 'delivered' }, now + smsDeliverySeconds[k] * 1000);
    if (k === 5) log('warn', 'sms status', { ...sms, status: 'undelivered', errorCode: smsUndeliveredCodes[n] }, now + 30000);
    if (k === 6) log('warn', 'sms status', { ...sms, status: 'failed', errorCode: smsFailedCodes[n] }, now + 1000);
  }
  if (i % 50 === 49) log('info', 'db pool', { total: 4, idle: i === 199 ? 1 : 0, waiting: (i - 49) / 50, max: 4 });
  if (i === 39) log('info', 'sms status', { messageSid: 'SMx', status: 'not-a-status' });  // counted nowhere
  if (i % 4 === 0) log('info', 'gemini response', { latencyMs: 1000 + i, tokens: 100 + i, model: 'gemini-1.5-flash' });
  if (i % 10 === 0) log('info', 'product inquiry', { userId, category: categories[Math.floor(i / 10) % 3] });
  if (i % 25 === 0) log('info', 'appointment booked', { userId, appointmentId: 'a-' + i });
  if (i % 20 === 0) log('info', 'human intervention requested', { userId, reason: 'complaint' });
  if (i % 40 === 0) log('info', 'human intervention resolved', { userId });
  if (i % 8 === 0) log('error', 'send failed', { errorType: errorTypes[Math.floor(i / 8) % 3], userId });
  if (i % 16 === 3) log('warn', 'retrying send', { errorType: 'graph_api', attempt: 2 });
  if (i % 6 === 0) log('info', 'webhook verified', { mode: 'subscribe' });
  log('debug', 'not written at level info', { i });
}

logger.on('finish', () => {
  process.stdout.write('Error: boom\n    at Object.<anonymous> (/app/src/index.js:10:5)\n');
  process.stdout.write('{"level":"info","message":"message processed","userId":"u1"\n');
  process.stdout.write('{"level":"info","message":"message sent"}{"level":"info","message":"message sent"}\n');
});
logger.end();
