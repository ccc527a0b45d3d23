// Checks Atlas's public pages in Debian's headless Chromium (playwright-core,
// no browser download) for internal/site's browser test. Usage:
//   node site.js '{"base":"http://127.0.0.1:N","pages":{"home":"/",…},
//                  "dir":"/tmp/…","lighthouse":["/salons/x","/cities/y"]}'
// For each page: console errors, failed requests, broken images (after
// scrolling, so lazy images load), a full-page screenshot, axe-core's
// violations and html-validate's report of the served HTML. Then
// Lighthouse 12 (desktop preset) on the listed paths. Prints one JSON
// object.
'use strict';

const fs = require('fs');
const { chromium } = require('playwright-core');
const axeSource = require('axe-core').source;
const { HtmlValidate } = require('html-validate');

const arg = JSON.parse(process.argv[2] || '{}');
const chromeFlags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', '--disable-dev-shm-usage'];

async function checkPages(out) {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: chromeFlags });
  const validator = new HtmlValidate({ extends: ['html-validate:standard'] });
  try {
    for (const [name, path] of Object.entries(arg.pages)) {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const r = { path, consoleErrors: [], failedRequests: [], badResponses: [] };
      page.on('console', (m) => { if (m.type() === 'error') r.consoleErrors.push(m.text()); });
      page.on('pageerror', (e) => r.consoleErrors.push('pageerror: ' + e.message));
      page.on('requestfailed', (q) => r.failedRequests.push(q.url() + ' ' + (q.failure() || {}).errorText));
      page.on('response', (s) => { if (s.status() >= 400) r.badResponses.push(s.status() + ' ' + s.url()); });
      const res = await page.goto(arg.base + path, { waitUntil: 'load' });
      r.status = res.status();
      r.lang = await page.getAttribute('html', 'lang');
      r.dir = await page.getAttribute('html', 'dir');
      // Scroll through the page so lazy images load, then wait for them.
      await page.evaluate(async () => {
        for (let y = 0; y < document.body.scrollHeight; y += 400) { window.scrollTo(0, y); await new Promise((ok) => setTimeout(ok, 30)); }
        window.scrollTo(0, 0);
        await Promise.all([...document.images].map((i) => i.complete ? null : new Promise((ok) => { i.onload = i.onerror = ok; })));
      });
      const imgs = await page.$$eval('img', (is) => is.map((i) => ({ src: i.currentSrc, ok: i.complete && i.naturalWidth > 0 })));
      r.images = imgs.length;
      r.brokenImages = imgs.filter((i) => !i.ok).map((i) => i.src);
      r.shot = `${arg.dir}/${name}.png`;
      await page.screenshot({ path: r.shot, fullPage: true });
      await page.addScriptTag({ content: axeSource });
      const axe = await page.evaluate(async () => (await window.axe.run(document)).violations);
      r.axe = axe.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
      const html = await (await fetch(arg.base + path)).text();
      const report = await validator.validateString(html);
      r.htmlValid = report.valid;
      r.htmlErrors = report.results.flatMap((f) => f.messages.map((m) => `${m.ruleId} ${m.line}:${m.column} ${m.message}`));
      out.pages[name] = r;
      await page.close();
    }
  } finally {
    await browser.close();
  }
}

async function runLighthouse(out) {
  const { default: lighthouse } = await import('lighthouse');
  const { default: desktop } = await import('lighthouse/core/config/desktop-config.js');
  const chromeLauncher = await import('chrome-launcher');
  const chrome = await chromeLauncher.launch({ chromePath: '/usr/bin/chromium', chromeFlags: chromeFlags });
  try {
    for (const path of arg.lighthouse || []) {
      const res = await lighthouse(arg.base + path, { port: chrome.port, output: 'json', logLevel: 'error' }, desktop);
      const lhr = res.lhr;
      const scores = {};
      for (const [k, c] of Object.entries(lhr.categories)) scores[k] = Math.round(c.score * 100);
      const failing = Object.values(lhr.audits)
        .filter((a) => a.score !== null && a.score < 0.9 && a.scoreDisplayMode !== 'informative' && a.scoreDisplayMode !== 'manual')
        .map((a) => `${a.id} (${a.score})`);
      if (arg.dir) fs.writeFileSync(`${arg.dir}/lighthouse-${path.replace(/[^a-z0-9]+/gi, '_')}.json`, res.report);
      out.lighthouse.push({ path, scores, failing, lcpMs: lhr.audits['largest-contentful-paint'].numericValue });
    }
  } finally {
    await chrome.kill();
  }
}

async function main() {
  const out = { pages: {}, lighthouse: [] };
  await checkPages(out);
  await runLighthouse(out);
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => { console.error(e); process.exit(1); });
