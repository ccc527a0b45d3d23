// bull-board over HTTP for the jobqredis interop tests. Usage:
//   node board_ui.js serve '{"queues":["q1",...]}'
//     serves @bull-board/express (UI and /api) on 127.0.0.1 at a free
//     port, prints {"port":N}, and runs until SIGTERM.
//   node board_ui.js screenshot '{"url":..., "path":..., "waitFor":[...]}'
//     opens url in Debian's headless Chromium (playwright-core, no browser
//     download), waits until every waitFor text is on the page, saves a
//     full-page PNG at path and prints {"text": <body innerText>}.
// Env: REDIS_URL, PREFIX.
'use strict';

const url = new URL(process.env.REDIS_URL || 'redis://127.0.0.1:6379/0');
const connection = {
  host: url.hostname,
  port: Number(url.port || 6379),
  db: Number((url.pathname || '/0').slice(1) || 0),
  password: url.password || undefined,
  maxRetriesPerRequest: null,
};
const prefix = process.env.PREFIX || 'bull';
const arg = process.argv[3] ? JSON.parse(process.argv[3]) : {};
function out(v) { process.stdout.write(JSON.stringify(v) + '\n'); }

async function serve() {
  const express = require('express');
  const { Queue } = require('bullmq');
  const { createBullBoard } = require('@bull-board/api');
  const { BullMQAdapter } = require('@bull-board/api/bullMQAdapter');
  const { ExpressAdapter } = require('@bull-board/express');
  const queues = arg.queues.map(n => new Queue(n, { connection, prefix }));
  const serverAdapter = new ExpressAdapter();
  serverAdapter.setBasePath('/ui');
  createBullBoard({ queues: queues.map(q => new BullMQAdapter(q)), serverAdapter });
  const app = express();
  app.use('/ui', serverAdapter.getRouter());
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve, reject) => { server.once('listening', resolve); server.once('error', reject); });
  out({ port: server.address().port });
  await new Promise(r => process.once('SIGTERM', r));
  server.close();
  for (const q of queues) await q.close();
  out({ stopped: true });
}

async function screenshot() {
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: arg.executablePath || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await page.goto(arg.url, { waitUntil: 'networkidle', timeout: 30000 });
    for (const text of arg.waitFor || []) {
      await page.getByText(text, { exact: false }).first().waitFor({ timeout: 15000 });
    }
    await page.screenshot({ path: arg.path, fullPage: true });
    out({ title: await page.title(), text: await page.evaluate(() => document.body.innerText) });
  } finally {
    await browser.close();
  }
}

const cmds = { serve, screenshot };
(cmds[process.argv[2]] || (async () => { throw new Error('unknown command ' + process.argv[2]); }))()
  .then(() => process.exit(0), (err) => { process.stderr.write(String(err && err.stack || err) + '\n'); process.exit(1); });
