// Node side of the jobqredis worker-level interop tests (proof points
// 7-12). Usage:
//   node proof.js <command> [json-arg]
// Env: REDIS_URL, PREFIX, QUEUE. Long-running commands (work, events,
// board) print {"ready":true} first and stop on SIGTERM (or when their
// arg says so); every command prints its result as the last JSON line.
'use strict';
const { Queue, Worker, QueueEvents, FlowProducer, Job } = require('bullmq');
const IORedis = require('ioredis');

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
const sleep = (ms) => new Promise(r => setTimeout(r, ms));

// untilStopped resolves on SIGTERM, when done() resolves, or after ms.
function untilStopped(ms, done) {
  return Promise.race([
    new Promise(r => process.once('SIGTERM', r)),
    new Promise(r => setTimeout(r, ms || 60000)),
    done || new Promise(() => {}),
  ]);
}

async function view(queue, id) {
  const j = await Job.fromId(queue, id);
  if (!j) return null;
  const logs = await queue.getJobLogs(id);
  return {
    id: j.id, name: j.name, data: j.data, opts: j.opts, progress: j.progress,
    returnvalue: j.returnvalue, failedReason: j.failedReason, attemptsMade: j.attemptsMade,
    attemptsStarted: j.attemptsStarted, stalledCounter: j.stalledCounter, timestamp: j.timestamp,
    delay: j.delay, priority: j.priority, processedOn: j.processedOn, finishedOn: j.finishedOn,
    stacktrace: j.stacktrace, processedBy: j.processedBy, parentKey: j.parentKey,
    repeatJobKey: j.repeatJobKey, state: await j.getState(), logs: logs.logs,
  };
}

// The processor of a Node worker; job.data says how to behave:
// failTimes (fail while attemptsMade < failTimes), alwaysFail, sleepMs,
// parent (return the children values).
async function nodeProcess(job, rec) {
  if (rec) await rec(job);
  if (arg.lite) return { by: 'node' };
  await job.updateProgress({ pct: 50, by: 'node' });
  await job.log('node attempt ' + (job.attemptsMade + 1));
  const d = job.data || {};
  if (d.sleepMs) await sleep(d.sleepMs);
  if (d.failTimes && job.attemptsMade < d.failTimes) throw new Error('node fails attempt ' + (job.attemptsMade + 1));
  if (d.alwaysFail) throw new Error('node always fails ' + job.id);
  const rv = { by: 'node', id: job.id, x: d.x === undefined ? null : d.x };
  if (d.parent) {
    rv.children = await job.getChildrenValues();
    rv.ignored = await job.getIgnoredChildrenFailures();
  }
  return rv;
}

async function main() {
  const cmd = process.argv[2];
  const queue = new Queue(name, { connection, prefix });
  try {
    switch (cmd) {
      case 'add': {
        // arg: {adds: [{name,data,opts}], bulk: [...]}: Queue.add for each
        // of adds, then one Queue.addBulk; prints the ids in that order.
        const ids = [];
        for (const a of arg.adds || []) ids.push((await queue.add(a.name, a.data, a.opts)).id);
        if (arg.bulk) for (const j of await queue.addBulk(arg.bulk)) ids.push(j.id);
        out({ ids });
        break;
      }
      case 'state': {
        // arg: {ids, parents}: jobs as Node reads them, the queue counts,
        // and for parents their children values and failures.
        const jobs = {};
        for (const id of arg.ids || []) jobs[id] = await view(queue, id);
        const parents = {};
        for (const id of arg.parents || []) {
          const j = await Job.fromId(queue, id);
          if (!j) { parents[id] = null; continue; }
          parents[id] = {
            state: await j.getState(), returnvalue: j.returnvalue, failedReason: j.failedReason,
            children: await j.getChildrenValues(), failed: await j.getFailedChildrenValues(),
            ignored: await j.getIgnoredChildrenFailures(), deps: await j.getDependenciesCount(),
          };
        }
        const counts = await queue.getJobCounts('waiting', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'paused', 'waiting-children');
        out({ jobs, parents, counts });
        break;
      }
      case 'events': {
        // Records the queue's events until SIGTERM, from the start of the
        // stream: QueueEvents' default ('$') would miss events written
        // between "ready" and its first XREAD.
        const qe = new QueueEvents(name, { connection, prefix, blockingTimeout: 200, lastEventId: '0-0' });
        await qe.waitUntilReady();
        const seen = [];
        for (const ev of arg.names || ['completed', 'failed', 'progress', 'stalled', 'retries-exhausted', 'delayed']) {
          qe.on(ev, (e) => seen.push(Object.assign({ event: ev }, e)));
        }
        out({ ready: true });
        await untilStopped(arg.timeout);
        await sleep(100);
        await qe.close();
        out({ events: seen });
        break;
      }
      case 'work': {
        // A Node Worker. arg: {name, concurrency, count (stop after that
        // many finished jobs), lite (only record and return), results (a hash: HINCRBY <id> per
        // processing), order (a list: RPUSH <id>), stalledInterval,
        // lockDuration, maxStalledCount, limiter ({max, duration}), timeout}.
        const rc = new IORedis(connection);
        const rec = (arg.results || arg.order) ? async (job) => {
          if (arg.results) await rc.hincrby(arg.results, job.id, 1);
          if (arg.order) await rc.rpush(arg.order, job.id);
        } : null;
        let finished = 0, completed = 0, failed = 0, stalled = [];
        let resolveDone;
        const done = new Promise(r => { resolveDone = r; });
        const opts = { connection, prefix, name: arg.name || 'nodew', concurrency: arg.concurrency || 1, drainDelay: 1 };
        for (const k of ['stalledInterval', 'lockDuration', 'maxStalledCount', 'limiter']) if (arg[k] !== undefined) opts[k] = arg[k];
        const worker = new Worker(name, (job) => nodeProcess(job, rec), opts);
        worker.on('error', (e) => process.stderr.write('worker error: ' + (e && e.stack || e) + '\n'));
        worker.on('stalled', (id) => stalled.push(id));
        const fin = () => { finished++; if (arg.count && finished >= arg.count) resolveDone(); };
        worker.on('completed', () => { completed++; fin(); });
        worker.on('failed', (job) => {
          if (job && job.attemptsMade >= (job.opts.attempts || 1)) { failed++; fin(); }
        });
        await worker.waitUntilReady();
        out({ ready: true });
        await untilStopped(arg.timeout, done);
        await worker.close();
        await rc.quit();
        out({ finished, completed, failed, stalled });
        break;
      }
      case 'flow': {
        // arg: {flows: [FlowJob]} -> {ids: [[parentId, childIds...]]}
        const fp = new FlowProducer({ connection, prefix });
        const ids = [];
        for (const f of arg.flows) {
          const node = await fp.add(f);
          ids.push([node.job.id, ...(node.children || []).map(c => c.job.id)]);
        }
        await fp.close();
        out({ ids });
        break;
      }
      case 'upsert-scheduler': {
        // arg: {id, repeat, template}
        const j = await queue.upsertJobScheduler(arg.id, arg.repeat, arg.template);
        out({ id: j && j.id, delay: j && j.delay });
        break;
      }
      case 'clean': {
        // arg: {grace, limit, state} -> {ids}: Queue.clean
        const ids = await queue.clean(arg.grace || 0, arg.limit || 0, arg.state);
        out({ ids });
        break;
      }
      case 'obliterate': {
        // arg: {force}: Queue.obliterate
        await queue.obliterate({ force: !!arg.force });
        out({ ok: true });
        break;
      }
      case 'schedulers': {
        const list = await queue.getJobSchedulers(0, -1, true);
        const delayed = (await queue.getJobs(['delayed', 'waiting', 'prioritized'])).map(j => ({
          id: j.id, name: j.name, repeatJobKey: j.repeatJobKey, opts: j.opts,
        }));
        const completed = (await queue.getJobs(['completed'], 0, -1, true)).map(j => ({
          id: j.id, name: j.name, processedBy: j.processedBy, returnvalue: j.returnvalue, repeatJobKey: j.repeatJobKey,
        }));
        out({ schedulers: list, pending: delayed, completed });
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
