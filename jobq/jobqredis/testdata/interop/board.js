// bull-board side of the jobqredis interop tests. Usage:
//   node board.js '<json-arg>'
// Env: REDIS_URL, PREFIX, QUEUE. arg: {ids: [...], logs: [...], flow: [...]}.
//
// It mounts a BullMQAdapter over a Node BullMQ Queue with createBullBoard,
// through a minimal server adapter that only records the API routes, and
// calls those route handlers the way an HTTP server adapter does (query
// strings, route params) — the same handlers the bull-board UI fetches.
// Prints one JSON line: {status: {<status>: body}, jobs: {<id>: body},
// logs: {<id>: body}, flow: {<id>: body}, workers, schedulers, metrics}.
'use strict';
const { Queue } = require('bullmq');
const { createBullBoard } = require('@bull-board/api');
const { BullMQAdapter } = require('@bull-board/api/bullMQAdapter');

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
const arg = process.argv[2] ? JSON.parse(process.argv[2]) : {};

// recordingAdapter implements bull-board's server adapter interface and
// keeps what createBullBoard hands it.
class RecordingAdapter {
  constructor() { this.routes = []; this.queues = null; this.uiConfig = {}; }
  setQueues(q) { this.queues = q; return this; }
  setViewsPath() { return this; }
  setStaticPath() { return this; }
  setEntryRoute() { return this; }
  setErrorHandler(h) { this.errorHandler = h; return this; }
  setApiRoutes(routes) { this.routes = routes; return this; }
  setUIConfig(c) { this.uiConfig = c; return this; }

  // call runs the handler of "METHOD /path?query" as an HTTP adapter would.
  async call(method, target) {
    const u = new URL(target, 'http://board.invalid');
    const parts = u.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    for (const r of this.routes) {
      const methods = Array.isArray(r.method) ? r.method : [r.method];
      if (!methods.includes(method)) continue;
      for (const pattern of Array.isArray(r.route) ? r.route : [r.route]) {
        const segs = pattern.split('/').filter(Boolean);
        if (segs.length !== parts.length) continue;
        const params = {};
        let ok = true;
        segs.forEach((s, i) => {
          if (s.startsWith(':')) params[s.slice(1)] = parts[i];
          else if (s !== parts[i]) ok = false;
        });
        if (!ok) continue;
        const query = Object.fromEntries(u.searchParams.entries());
        try {
          const res = await r.handler({ queues: this.queues, uiConfig: this.uiConfig, query, params, body: {}, headers: {} });
          return { status: res.status || 200, body: res.body };
        } catch (err) {
          const res = this.errorHandler(err);
          return { status: res.status || 500, body: res.body, error: String(err && err.stack || err) };
        }
      }
    }
    throw new Error('no route for ' + method + ' ' + target);
  }
}

async function main() {
  const queue = new Queue(name, { connection, prefix });
  const board = new RecordingAdapter();
  createBullBoard({ queues: [new BullMQAdapter(queue)], serverAdapter: board });
  const q = encodeURIComponent(name);
  try {
    const result = { status: {}, jobs: {}, logs: {}, flow: {} };
    const statuses = ['latest', 'active', 'waiting', 'waiting-children', 'prioritized', 'completed', 'failed', 'delayed'];
    for (const s of statuses) {
      result.status[s] = await board.call('get', `/api/queues?activeQueue=${q}&status=${s}&page=1&jobsPerPage=50`);
    }
    for (const id of arg.ids || []) {
      result.jobs[id] = await board.call('get', `/api/queues/${q}/${encodeURIComponent(id)}`);
    }
    for (const id of arg.logs || []) {
      result.logs[id] = await board.call('get', `/api/queues/${q}/${encodeURIComponent(id)}/logs`);
    }
    for (const id of arg.flow || []) {
      result.flow[id] = await board.call('get', `/api/queues/${q}/${encodeURIComponent(id)}/flow`);
    }
    result.workers = await board.call('get', `/api/queues/${q}/workers`);
    result.schedulers = await board.call('get', `/api/job-schedulers?queueName=${q}`);
    result.metrics = await board.call('get', `/api/queues/${q}/metrics`);
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await queue.close();
  }
}

main().then(() => process.exit(0), (err) => { process.stderr.write(String(err && err.stack || err) + '\n'); process.exit(1); });
