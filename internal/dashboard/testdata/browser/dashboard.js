// Drives the /admin/jobs dashboard in Debian's headless Chromium
// (playwright-core, no browser download) for internal/dashboard's browser
// test. Usage:
//   node dashboard.js '{"base":"http://127.0.0.1:N","token":"…","queue":"media",
//                       "failedId":"boom-1","dir":"/tmp/…"}'
// Logs in through the form, reads the overview, opens the failed job's page,
// retries it from the queue page, and prints one JSON object with what it
// saw; screenshots go to dir.
'use strict';

const { chromium } = require('playwright-core');

const arg = JSON.parse(process.argv[2] || '{}');

async function main() {
  const browser = await chromium.launch({
    executablePath: arg.executablePath || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  const out = { dialogs: [], shots: {} };
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('dialog', async (d) => { out.dialogs.push(d.message()); await d.dismiss(); });
    page.on('pageerror', (e) => { out.dialogs.push('pageerror: ' + e.message); });

    // Unauthenticated: the dashboard sends the browser to the login form.
    await page.goto(arg.base + '/admin/jobs');
    out.loginURL = new URL(page.url()).pathname;
    await page.fill('#token', arg.token);
    await Promise.all([page.waitForURL('**/admin/jobs'), page.click('button[type=submit]')]);

    // Overview.
    out.queues = await page.$$eval('#queues tr[data-queue]', (rows) => rows.map((r) => ({
      name: r.dataset.queue,
      status: r.children[1].innerText.trim(),
      counts: Object.fromEntries([...r.querySelectorAll('td[data-state]')].map((td) => [td.dataset.state, Number(td.innerText)])),
    })));
    out.sections = await page.$$eval('h2', (hs) => hs.map((h) => h.innerText));
    out.shots.overview = arg.dir + '/overview.png';
    await page.screenshot({ path: out.shots.overview, fullPage: true });

    // The failed job's page: untrusted data shows as text, runs nothing.
    await page.goto(`${arg.base}/admin/jobs/${arg.queue}/${encodeURIComponent(arg.failedId)}`);
    out.jobState = await page.innerText('#state');
    out.jobData = await page.innerText('#data');
    out.scriptsInPage = await page.$$eval('script:not([src])', (s) => s.length); // only the dashboard's own live.js
    out.shots.job = arg.dir + '/job.png';
    await page.screenshot({ path: out.shots.job, fullPage: true });

    // The queue's failed list; retry the job from its row.
    await page.goto(`${arg.base}/admin/jobs/${arg.queue}?state=failed`);
    const row = `#jobs tr[data-job="${arg.failedId}"]`;
    out.failedBefore = await page.$$eval('#jobs tr[data-job]', (rows) => rows.map((r) => r.dataset.job));
    out.shots.queueBefore = arg.dir + '/queue-failed-before.png';
    await page.screenshot({ path: out.shots.queueBefore, fullPage: true });
    await Promise.all([page.waitForURL('**done=retry**'), page.click(`${row} button.retry`)]);
    out.notice = await page.innerText('.notice');
    out.failedAfter = await page.$$eval('#jobs tr[data-job]', (rows) => rows.map((r) => r.dataset.job));
    out.shots.queueAfter = arg.dir + '/queue-failed-after.png';
    await page.screenshot({ path: out.shots.queueAfter, fullPage: true });
    await Promise.all([page.waitForURL('**state=waiting**'), page.click('nav.tabs a[data-state="waiting"]')]);
    out.waitingAfter = await page.$$eval('#jobs tr[data-job]', (rows) => rows.map((r) => r.dataset.job));
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(() => process.exit(0), (err) => {
  process.stderr.write(String((err && err.stack) || err) + '\n');
  process.exit(1);
});
