// Drives the live dashboard in Debian's headless Chromium (playwright-core)
// for internal/dashboard's console browser tests. Usage:
//   node console.js '{"base":"http://127.0.0.1:N","token":"…","queue":"media",
//                     "jobs":{"ok":4,"flaky":2},"scheduler":"dash-tick","dir":"/tmp/…"}'
// Protocol on stdout: the line "ready" once logged in and watching the
// overview (the Go test then starts workers and adds jobs), the line
// "stop-failing" before the bulk retry (flaky jobs then succeed), and
// finally one JSON object with what it saw. Screenshots go to dir.
'use strict';

const { chromium } = require('playwright-core');

const arg = JSON.parse(process.argv[2] || '{}');
const T = 90000;

function say(line) { process.stdout.write(line + '\n'); }

async function counts(page) {
  return page.$$eval(`#queues tr[data-queue="${arg.queue}"] td[data-state]`, (tds) =>
    Object.fromEntries(tds.map((td) => [td.dataset.state, Number(td.innerText)])));
}

async function main() {
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const out = { shots: {}, errors: [] };
  const shot = async (page, name) => {
    out.shots[name] = `${arg.dir}/${name}.png`;
    await page.screenshot({ path: out.shots[name], fullPage: true });
  };
  try {
    const page = await browser.newPage({ viewport: { width: 1360, height: 900 } });
    page.on('dialog', async (d) => { out.errors.push('dialog: ' + d.message()); await d.dismiss(); });
    page.on('pageerror', (e) => { out.errors.push('pageerror: ' + e.message); });
    page.on('console', (m) => {
      if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) out.errors.push('console: ' + m.text());
    });
    // Every answer but the browser's own favicon probe must succeed (304 is
    // the live poll's "no change").
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) out.errors.push(`HTTP ${r.status()} ${r.url()}`);
    });

    // Log in.
    await page.goto(arg.base + '/admin/jobs');
    await page.fill('#token', arg.token);
    await Promise.all([page.waitForURL('**/admin/jobs'), page.click('button[type=submit]')]);

    // Watch the overview while jobs run: no navigation may happen.
    out.before = await counts(page);
    let navigations = 0;
    page.on('framenavigated', (f) => { if (f === page.mainFrame()) navigations++; });
    say('ready');
    const want = { completed: out.before.completed + arg.jobs.ok, failed: out.before.failed + arg.jobs.flaky };
    await page.waitForFunction(([q, w]) => {
      const cell = (s) => Number(document.querySelector(`#queues tr[data-queue="${q}"] td[data-state="${s}"]`).innerText);
      return cell('completed') >= w.completed && cell('failed') >= w.failed;
    }, [arg.queue, want], { timeout: T, polling: 200 });
    out.after = await counts(page);
    out.navigationsWhileWatching = navigations;
    out.liveBadge = await page.innerText('#live');
    await shot(page, 'overview-live');

    // Pause the live updates and check the badge says so.
    await page.click('#live-toggle');
    out.pausedBadge = await page.innerText('#live');
    await page.click('#live-toggle');

    // The queue page: workers online, then a failed job and its stack trace.
    await page.goto(`${arg.base}/admin/jobs/${arg.queue}?state=failed`);
    out.workers = await page.$$eval('#workers tr[data-worker]', (rows) => rows.map((r) => r.dataset.worker));
    out.failedIds = await page.$$eval('#jobs tr[data-job]', (rows) => rows.map((r) => r.dataset.job));
    const flaky = out.failedIds.find((id) => id.startsWith('flaky-'));
    await Promise.all([page.waitForURL(`**/${arg.queue}/${flaky}`), page.click(`#jobs tr[data-job="${flaky}"] a`)]);
    out.failedJob = { id: flaky, state: await page.innerText('#state'), reason: await page.innerText('#reason'),
      stack: await page.$$eval('pre.stack', (ps) => ps.map((p) => p.innerText)) };
    await shot(page, 'job-failed');

    // Search for it by id from the queue page.
    await page.goto(`${arg.base}/admin/jobs/${arg.queue}?state=failed`);
    await page.fill('#q', flaky);
    await Promise.all([page.waitForURL('**q=**'), page.click('#search button')]);
    out.searchRows = await page.$$eval('#jobs tr[data-job]', (rows) => rows.map((r) => r.dataset.job));
    out.searchSummary = await page.innerText('#search-summary');
    await shot(page, 'search');

    // Bulk-retry all failed jobs, with the confirmation naming the count.
    say('stop-failing');
    await page.goto(`${arg.base}/admin/jobs/${arg.queue}?state=failed`);
    out.failedBeforeRetry = Number(await page.innerText('nav.tabs a[data-state="failed"] .count'));
    await page.selectOption('#bulk-op', 'retry');
    await page.check('#bulk-all');
    await Promise.all([page.waitForURL('**/bulk'), page.click('#bulk-go')]);
    out.confirmMessage = await page.innerText('#confirm-message');
    await shot(page, 'confirm-retry');
    await Promise.all([page.waitForURL('**done=bulk-retry**'), page.click('#confirm-yes')]);
    out.bulkNotice = await page.innerText('.notice');
    // Live: the failed tab drops to 0 and the jobs complete, no reload.
    navigations = 0;
    await page.waitForFunction(() => document.querySelector('nav.tabs a[data-state="failed"] .count').innerText === '0',
      null, { timeout: T, polling: 200 });
    out.navigationsAfterRetry = navigations;
    out.completedAfterRetry = Number(await page.innerText('nav.tabs a[data-state="completed"] .count'));
    await shot(page, 'after-retry');

    // Pause and resume the queue.
    await Promise.all([page.waitForURL('**done=pause**'), page.click('#pause')]);
    out.pausedStatus = await page.innerText('#qstatus');
    await shot(page, 'queue-paused');
    await Promise.all([page.waitForURL('**done=resume**'), page.click('#resume')]);
    out.resumedStatus = await page.innerText('#qstatus');

    // Trigger the scheduler from the overview and watch its job complete.
    await page.goto(arg.base + '/admin/jobs');
    const mq = arg.schedulerQueue;
    const sel = (s) => `#queues tr[data-queue="${mq}"] td[data-state="${s}"]`;
    out.schedulerCompletedBefore = Number(await page.innerText(sel('completed')));
    await Promise.all([page.waitForURL('**done=scheduler-run**'), page.click(`tr[data-scheduler="${arg.scheduler}"] button.run-now`)]);
    out.schedulerNotice = await page.innerText('.notice');
    await page.waitForFunction(([s, n]) => Number(document.querySelector(s).innerText) > n,
      [sel('completed'), out.schedulerCompletedBefore], { timeout: T, polling: 200 });
    out.schedulerCompletedAfter = Number(await page.innerText(sel('completed')));
    await shot(page, 'overview-after');
    out.inlineScripts = await page.$$eval('script:not([src])', (s) => s.length);
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(String((err && err.stack) || err) + '\n');
  process.exit(1);
});
