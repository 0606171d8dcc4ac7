// Fills queue "mail" of a real redis-server with BullMQ's own API, the way a
// bot's background jobs would, then prints what BullMQ itself reports, as one
// JSON line, for the test to compare with botwatch's series.
//   node jobs.js PORT PASSWORD
const { Queue, Worker } = require('bullmq');

const connection = { host: '127.0.0.1', port: Number(process.argv[2]), password: process.argv[3] };

async function main() {
  const queue = new Queue('mail', { connection });
  // One job that succeeds and one that fails, run by a real worker.
  await queue.add('welcome', { ok: true });
  await queue.add('welcome', { ok: false }, { attempts: 1 });
  let done = 0;
  const worker = new Worker('mail', async (job) => {
    if (!job.data.ok) throw new Error('recipient unknown');
    return 'sent';
  }, { connection });
  await new Promise((resolve) => {
    const count = () => { if (++done === 2) resolve(); };
    worker.on('completed', count);
    worker.on('failed', count);
  });
  await worker.close();
  // With no worker running from here on, these wait.
  await queue.add('send', { to: 'user-1' });
  await queue.add('send', { to: 'user-2' });
  await queue.add('reminder', {}, { delay: 10 * 60 * 1000 });
  await queue.add('urgent', {}, { priority: 5 });
  // The operators' "every day at 1 AM" and "hourly": job schedulers (BullMQ 5),
  // and one repeatable job of the older API, whose key BullMQ stores hashed.
  await queue.upsertJobScheduler('daily-report', { pattern: '0 1 * * *' }, { name: 'report' });
  await queue.upsertJobScheduler('hourly-sync', { every: 60 * 60 * 1000 }, { name: 'sync' });
  await queue.add('digest', {}, { repeat: { pattern: '5 * * * *' } });
  // A second queue that is only created.
  const idle = new Queue('idle', { connection });
  await idle.waitUntilReady();
  await idle.setGlobalConcurrency(1);

  const counts = await queue.getJobCounts('wait', 'active', 'paused', 'delayed', 'prioritized', 'waiting-children',
                                          'completed', 'failed');
  const waiting = await queue.getWaiting();
  const oldest = Math.min(...waiting.map((j) => j.timestamp));
  const schedulers = (await queue.getJobSchedulers()).map((s) => ({ key: s.key, name: s.name, next: s.next }));
  const legacy = (await queue.getRepeatableJobs()).map((r) => ({ key: r.key, name: r.name, pattern: r.pattern, next: r.next }));
  console.log(JSON.stringify({ counts, oldest, schedulers, legacy }));
  await queue.close();
  await idle.close();
}

main().catch((e) => {
  console.error(e && e.message ? e.message : String(e));
  process.exit(1);
});
