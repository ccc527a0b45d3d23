// A Node BullMQ worker for the console browser test on Redis. Usage:
//   node bullworker.js '{"bullmq":"/…/node_modules/bullmq","redisUrl":"redis://…","prefix":"…","queue":"media","failKey":"…"}'
// Jobs named "flaky" fail (with a JavaScript stack trace) while the Redis
// key failKey exists; other jobs complete after 100 ms. Prints "started"
// once connected and stops on SIGTERM or when stdin closes.
'use strict';

const arg = JSON.parse(process.argv[2] || '{}');
const path = require('path');
const { Worker } = require(arg.bullmq);
const IORedis = require(path.join(arg.bullmq, '..', 'ioredis'));

const url = new URL(arg.redisUrl);
const connection = {
  host: url.hostname, port: Number(url.port || 6379), db: Number((url.pathname || '/0').slice(1) || 0),
  password: url.password || undefined, maxRetriesPerRequest: null,
};

async function main() {
  const flags = new IORedis(connection);
  const worker = new Worker(arg.queue, async (job) => {
    await new Promise((r) => setTimeout(r, 100));
    if (job.name === 'flaky') {
      if (await flags.exists(arg.failKey)) throw new Error('flaky: decode failed in node');
    }
    return { by: 'node' };
  }, { connection, prefix: arg.prefix, name: 'node-dash', concurrency: 2, metrics: { maxDataPoints: 60 } });
  await worker.waitUntilReady();
  process.stdout.write('started\n');
  const stop = async () => { await worker.close(); flags.disconnect(); process.exit(0); };
  process.on('SIGTERM', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
}

main().catch((err) => { process.stderr.write(String(err.stack || err) + '\n'); process.exit(1); });
