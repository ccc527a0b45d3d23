'use strict';
// BullMQ contender of bench/queue: one scenario per process, driven by the
// Go parent (see ../child.go for the line protocol: READY / GO / DONE <json>).
// BullMQ's own Queue and Worker, defaults except concurrency and the job
// options each scenario needs.

const { Queue, Worker } = require('bullmq');
const readline = require('node:readline');
const { performance } = require('node:perf_hooks');

const spec = JSON.parse(process.argv[2]);
const [host, port] = spec.redisAddr.split(':');
const connection = { host, port: Number(port), db: spec.redisDB || 0, maxRetriesPerRequest: null };

// Wall clock in ns with sub-ms resolution, comparable within this process.
const origin = BigInt(Math.round(performance.timeOrigin * 1e6));
const nowNs = () => Number(origin + BigInt(Math.round(performance.now() * 1e6)));

const lines = readline.createInterface({ input: process.stdin });
const lineQueue = [];
let lineWaiter = null;
let stdinClosed = false;
lines.on('line', (l) => { if (lineWaiter) { const w = lineWaiter; lineWaiter = null; w(l); } else lineQueue.push(l); });
lines.on('close', () => { stdinClosed = true; if (lineWaiter) { const w = lineWaiter; lineWaiter = null; w(null); } });
const nextLine = () => new Promise((res) => {
  if (lineQueue.length) return res(lineQueue.shift());
  if (stdinClosed) return res(null);
  lineWaiter = res;
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function jobOpts(delay) {
  const o = { removeOnComplete: !spec.keep };
  if (spec.attempts > 1) {
    o.attempts = spec.attempts;
    o.backoff = { type: 'fixed', delay: spec.backoffMS };
  }
  if (delay > 0) o.delay = delay;
  return o;
}

function percentiles(v) {
  if (!v.length) return undefined;
  const s = Float64Array.from(v).sort();
  const at = (q) => s[Math.min(Math.max(Math.round(q * s.length) - 1, 0), s.length - 1)] / 1e6;
  return { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: s[s.length - 1] / 1e6 };
}

class Counter {
  constructor(target) { this.n = 0; this.target = target; this.done = new Promise((r) => { this.resolve = r; }); }
  inc() { if (++this.n >= this.target) this.resolve(); }
}

async function main() {
  const queue = new Queue(spec.queue, { connection });
  await queue.waitUntilReady();
  const workers = [];
  // spec.workers separate Workers (at least one), each of concurrency conc.
  const startWorker = async (conc, h) => {
    for (let k = 0; k < Math.max(spec.workers || 0, 1); k++) {
      const worker = new Worker(spec.queue, async (job) => h(job.data, job.attemptsMade + 1),
        { connection, concurrency: conc });
      worker.on('error', (e) => console.error('bullmq worker:', e.message));
      workers.push(worker);
      await worker.waitUntilReady();
    }
  };
  const add = (p, delay) => queue.add('bench', p, jobOpts(delay));
  const addBulk = (ps) => queue.addBulk(ps.map((p) => ({ name: 'bench', data: p, opts: jobOpts(0) })));
  const fill = async (n) => {
    const t = nowNs();
    for (let i = 0; i < n; i += 500) {
      const ps = [];
      for (let j = i; j < Math.min(i + 500, n); j++) ps.push({ i: j, t });
      await addBulk(ps);
    }
  };
  const settle = async (deadline) => {
    for (;;) {
      const c = await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children');
      if (Object.values(c).reduce((a, b) => a + b, 0) === 0) return;
      if (Date.now() > deadline) throw new Error('settle timeout');
      await sleep(2);
    }
  };
  const withTimeout = async (cnt, deadline) => {
    let timer;
    const to = new Promise((_, rej) => {
      timer = setTimeout(() => rej(new Error(`timeout after ${cnt.n} of ${cnt.target} jobs`)), Math.max(deadline - Date.now(), 0));
    });
    try { await Promise.race([cnt.done, to]); } finally { clearTimeout(timer); }
    await settle(deadline);
  };

  if (spec.scenario === 'burn') await fill(spec.n);
  console.log('READY');
  await nextLine();
  const deadline = Date.now() + spec.timeout * 1000;
  const res = { jobs: 0, seconds: 0 };
  const t0 = nowNs();
  const elapsed = () => (nowNs() - t0) / 1e9;
  try {
    switch (spec.scenario) {
      case 'add':
      case 'bulk': {
        const batch = spec.scenario === 'bulk' ? spec.batch : 1;
        let next = 0;
        const producer = async () => {
          for (;;) {
            const i = next; next += batch;
            if (i >= spec.n || Date.now() > deadline) return;
            const ps = [];
            for (let j = i; j < Math.min(i + batch, spec.n); j++) ps.push({ i: j, t: nowNs() });
            if (batch === 1) await add(ps[0], 0); else await addBulk(ps);
            res.jobs += ps.length;
          }
        };
        await Promise.all(Array.from({ length: spec.conc }, producer));
        res.seconds = elapsed();
        break;
      }
      case 'burn': {
        const cnt = new Counter(spec.n);
        await startWorker(spec.conc, async () => { cnt.inc(); });
        try { await withTimeout(cnt, deadline); } finally { res.jobs = cnt.n; res.seconds = elapsed(); }
        break;
      }
      case 'steady': {
        // Producers stop at the end of the window even when behind.
        const total = Math.floor(spec.rate * spec.seconds);
        const cnt = new Counter(Infinity);
        const lat = [];
        await startWorker(spec.conc, async (p) => { lat.push(nowNs() - p.t); cnt.inc(); });
        const per = 1e9 / spec.rate;
        const start = nowNs();
        const end = start + spec.seconds * 1e9;
        let offered = 0;
        const producers = 16;
        const producer = async (k) => {
          for (let i = k; i < total; i += producers) {
            const wait = (start + i * per - nowNs()) / 1e6;
            if (wait >= 1) await sleep(wait);
            if (nowNs() > end || Date.now() > deadline) return;
            await add({ i, t: nowNs() }, 0);
            offered++;
          }
        };
        await Promise.all(Array.from({ length: producers }, (_, k) => producer(k)));
        res.offered = offered;
        cnt.target = offered;
        if (cnt.n >= offered) cnt.resolve();
        try { await withTimeout(cnt, deadline); } finally { res.jobs = cnt.n; res.lat = percentiles(lat); res.seconds = (nowNs() - start) / 1e9; }
        if (offered < 0.99 * total) res.note = `producers fell behind: offered ${offered} of ${total} in ${spec.seconds}s`;
        break;
      }
      case 'delayed':
      case 'idle': {
        const cnt = new Counter(spec.n);
        const lat = [];
        await startWorker(spec.conc, async (p) => { lat.push(nowNs() - p.d); cnt.inc(); });
        let seed = 1;
        const rnd = () => { seed = (seed * 48271) % 2147483647; return seed / 2147483647; };
        for (let i = 0; i < spec.n; i++) {
          const d = spec.delayMin + Math.floor(rnd() * (spec.delayMax - spec.delayMin + 1));
          const now = nowNs();
          await add({ i, t: now, d: now + d * 1e6 }, d);
        }
        try { await withTimeout(cnt, deadline); } finally { res.jobs = cnt.n; res.seconds = elapsed(); res.lat = percentiles(lat); }
        break;
      }
      case 'retry': {
        const cnt = new Counter(spec.n);
        const lat = [];
        const failedAt = new Map();
        const backoff = spec.backoffMS * 1e6;
        await startWorker(spec.conc, async (p, attempt) => {
          const now = nowNs();
          if (attempt > 1 && failedAt.has(p.i)) lat.push(now - (failedAt.get(p.i) + backoff));
          if (attempt < spec.attempts) { failedAt.set(p.i, nowNs()); throw new Error('planned failure'); }
          cnt.inc();
        });
        await fill(spec.n);
        try { await withTimeout(cnt, deadline); } finally { res.jobs = cnt.n; res.seconds = elapsed(); res.lat = percentiles(lat); }
        break;
      }
      default:
        throw new Error(`unknown scenario ${spec.scenario}`);
    }
  } catch (e) {
    res.err = e.message;
    if (!res.seconds) res.seconds = elapsed();
  }
  console.log('DONE ' + JSON.stringify(res));
  await nextLine();
  for (const worker of workers) await worker.close(true).catch(() => {});
  await queue.close().catch(() => {});
  process.exit(0);
}

main().catch((e) => {
  console.log('READY');
  console.log('DONE ' + JSON.stringify({ jobs: 0, seconds: 0, err: String(e && e.message || e) }));
  process.exit(0);
});
