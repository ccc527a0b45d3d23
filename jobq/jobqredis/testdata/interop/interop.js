// Node side of the jobqredis interop tests. Usage:
//   node interop.js <command> [json-arg]
// Env: REDIS_URL, PREFIX, QUEUE. Prints one JSON line with the result.
'use strict';
const { Queue, Worker, QueueEvents, Job } = require('bullmq');

const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379/0');
const connection = {
  host: url.hostname,
  port: Number(url.port || 6379),
  db: Number((url.pathname || '/0').slice(1) || 0),
  password: url.password || undefined,
  maxRetriesPerRequest: null,
};
const prefix = process.env.PREFIX || 'bull';
const name = process.env.QUEUE;
const arg = process.argv[3] ? JSON.parse(process.argv[3]) : {};

function out(v) { process.stdout.write(JSON.stringify(v) + '\n'); }

function jobView(job, state) {
  if (!job) return null;
  return {
    id: job.id, name: job.name, data: job.data, opts: job.opts, progress: job.progress,
    returnvalue: job.returnvalue, failedReason: job.failedReason, attemptsMade: job.attemptsMade,
    attemptsStarted: job.attemptsStarted, timestamp: job.timestamp, delay: job.delay,
    priority: job.priority, processedOn: job.processedOn, finishedOn: job.finishedOn,
    stacktrace: job.stacktrace, processedBy: job.processedBy, parentKey: job.parentKey, state,
  };
}

async function main() {
  const cmd = process.argv[2];
  const queue = new Queue(name, { connection, prefix });
  try {
    switch (cmd) {
      case 'produce': {
        // arg: {single: {name,data,opts}, bulk: [{name,data,opts}]}
        const ids = [];
        if (arg.single) {
          const j = await queue.add(arg.single.name, arg.single.data, arg.single.opts);
          ids.push(j.id);
        }
        if (arg.bulk) {
          const js = await queue.addBulk(arg.bulk);
          for (const j of js) ids.push(j.id);
        }
        out({ ids });
        break;
      }
      case 'inspect': {
        // arg: {ids: [...]}
        const jobs = {};
        for (const id of arg.ids) {
          const j = await Job.fromId(queue, id);
          jobs[id] = jobView(j, j ? await j.getState() : null);
        }
        const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'paused', 'waiting-children');
        const workers = (await queue.getWorkers()).map(w => w.rawname);
        out({ jobs, counts, workers, version: await queue.getVersion(), paused: await queue.isPaused() });
        break;
      }
      case 'getjobs': {
        const list = await queue.getJobs(arg.states || ['waiting', 'delayed', 'prioritized', 'completed', 'failed', 'active'], 0, -1, true);
        const one = arg.id ? jobView(await queue.getJob(arg.id)) : null;
        const logs = arg.id ? await queue.getJobLogs(arg.id) : null;
        out({ jobs: list.map(j => jobView(j)), one, logs });
        break;
      }
      case 'listen': {
        // arg: {count}; prints ready, then the first count completed/failed events
        const qe = new QueueEvents(name, { connection, prefix });
        await qe.waitUntilReady();
        const seen = [];
        const done = new Promise(resolve => {
          const push = (kind) => (e) => { seen.push({ kind, ...e }); if (seen.length >= arg.count) resolve(); };
          qe.on('completed', push('completed'));
          qe.on('failed', push('failed'));
        });
        out({ ready: true });
        await Promise.race([done, new Promise(r => setTimeout(r, arg.timeout || 15000))]);
        await qe.close();
        out({ events: seen });
        break;
      }
      case 'work': {
        // arg: {count}: process until count jobs finished (completed or
        // finally failed). Jobs with data.failFirst fail their first attempt.
        let finished = 0;
        const done = new Promise(resolve => {
          const worker = new Worker(name, async (job) => {
            await job.updateProgress({ pct: 100 });
            await job.log('node saw ' + job.id);
            if (job.data.failFirst && job.attemptsMade === 0) throw new Error('first attempt fails');
            if (job.data.alwaysFail) throw new Error('always fails');
            return { doubled: (job.data.x || 0) * 2, by: 'node' };
          }, { connection, prefix, name: 'nodew' });
          const fin = () => { finished++; if (finished >= arg.count) resolve(worker); };
          worker.on('completed', fin);
          worker.on('failed', (job) => { if (job && job.attemptsMade >= (job.opts.attempts || 1)) fin(); });
        });
        const worker = await Promise.race([done, new Promise(r => setTimeout(() => r(null), arg.timeout || 15000))]);
        if (worker) await worker.close();
        out({ finished });
        break;
      }
      default:
        throw new Error('unknown command ' + cmd);
    }
  } finally {
    await queue.close();
  }
}

main().then(() => process.exit(0), (err) => { process.stderr.write(String(err && err.stack || err) + '\n'); process.exit(1); });
