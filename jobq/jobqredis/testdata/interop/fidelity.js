// Node side of the jobqredis fidelity tests (issue 16). Usage:
//   node fidelity.js <command> [json-arg]
// Env: REDIS_URL, PREFIX, QUEUE. Prints one JSON line with the result.
//
// Commands:
//   pause             pauses QUEUE
//   counts            QUEUE's getJobCounts for every state, with paused
//   ids   {ids}       tries queue.add with each custom job id; reports
//                     {id: true (accepted) | "error message"}
//   add   {jobs}      adds [{name, data, opts}] one by one; "$Q" in a
//                     parent.queue is replaced by PREFIX:QUEUE
//   run   {ops}       runs the differential operation sequence (see
//                     diff_test.go) with BullMQ on QUEUE
'use strict';
const { Queue, Worker, FlowProducer, Job } = require('bullmq');

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
const qualified = `${prefix}:${name}`;
const arg = process.argv[3] ? JSON.parse(process.argv[3]) : {};

function out(v) { process.stdout.write(JSON.stringify(v) + '\n'); }

// withQueue replaces "$Q" (the queue's qualified name) in parent.queue.
function withQueue(opts) {
  if (opts && opts.parent && opts.parent.queue === '$Q') {
    return { ...opts, parent: { ...opts.parent, queue: qualified } };
  }
  return opts;
}

function flowNode(n) {
  return {
    name: n.name, queueName: name, data: n.data || {}, opts: n.opts,
    children: (n.children || []).map(flowNode),
  };
}

const sleep = (ms) => new Promise(r => setTimeout(r, ms));

// work processes with one worker at concurrency 1 until nothing is ready,
// running or waiting for children.
async function work(queue) {
  const worker = new Worker(name, async (job) => {
    if (job.data.log) await job.log(job.data.log);
    if (job.data.progress !== undefined) await job.updateProgress(job.data.progress);
    if (job.data.fail) throw new Error(job.data.fail);
    return { ok: job.name };
  }, { connection, prefix, name: 'w', concurrency: 1, autorun: true });
  const deadline = Date.now() + 20000;
  for (;;) {
    const c = await queue.getJobCounts('wait', 'prioritized', 'active', 'waiting-children');
    if (c.wait + c.prioritized + c.active + c['waiting-children'] === 0) break;
    if (Date.now() > deadline) throw new Error('work: timed out at ' + JSON.stringify(c));
    await sleep(20);
  }
  await worker.close();
}

async function run(queue, ops) {
  const flow = new FlowProducer({ connection, prefix });
  try {
    for (const op of ops) {
      switch (op.op) {
        case 'add': await queue.add(op.name, op.data || {}, withQueue(op.opts)); break;
        case 'flow': await flow.add(flowNode(op.flow)); break;
        case 'pause': await queue.pause(); break;
        case 'resume': await queue.resume(); break;
        case 'work': await work(queue); break;
        case 'promote': await (await Job.fromId(queue, op.id)).promote(); break;
        case 'retry': await (await Job.fromId(queue, op.id)).retry('failed'); break;
        case 'remove': await queue.remove(op.id); break;
        case 'clean': await queue.clean(op.grace, op.limit, op.state); break;
        case 'drain': await queue.drain(!!op.delayed); break;
        case 'check': break;
        default: throw new Error('unknown op ' + op.op);
      }
    }
  } finally {
    await flow.close();
  }
}

async function main() {
  const cmd = process.argv[2];
  const queue = new Queue(name, { connection, prefix });
  try {
    switch (cmd) {
      case 'pause':
        await queue.pause();
        out({ ok: true });
        break;
      case 'counts':
        out(await queue.getJobCounts('waiting', 'paused', 'active', 'completed', 'failed', 'delayed', 'prioritized', 'waiting-children'));
        break;
      case 'ids': {
        const res = {};
        for (const id of arg.ids) {
          try {
            await queue.add('idcheck', {}, { jobId: id });
            res[id] = true;
          } catch (err) {
            res[id] = String(err && err.message || err);
          }
        }
        out(res);
        break;
      }
      case 'add': {
        const ids = [];
        for (const j of arg.jobs) ids.push((await queue.add(j.name, j.data || {}, withQueue(j.opts))).id);
        out({ ids });
        break;
      }
      case 'run':
        await run(queue, arg.ops);
        out({ ok: true });
        break;
      default:
        throw new Error('unknown command ' + cmd);
    }
  } finally {
    await queue.close();
  }
}

main().then(() => process.exit(0), (err) => { process.stderr.write(String(err && err.stack || err) + '\n'); process.exit(1); });
