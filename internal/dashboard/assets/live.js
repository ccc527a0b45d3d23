// Atlas jobs dashboard: live updates. Polls the current page every few
// seconds with If-None-Match; on a change it swaps each element marked
// data-live (by id) with the new one, unless the operator is using it
// (a checked box or focus inside). The header shows the state; the button
// pauses and resumes (remembered per browser).
'use strict';
(function () {
  const main = document.querySelector('main[data-live-interval]');
  const badge = document.getElementById('live');
  const toggle = document.getElementById('live-toggle');
  if (!main || !badge || !toggle) return;
  const interval = Number(main.dataset.liveInterval) || 2000;
  let etag = main.dataset.etag || '';
  let paused = localStorage.getItem('atlas-live-paused') === '1';
  let timer = null;
  let failures = 0;

  function show(state, text) {
    badge.className = 'badge live-' + state;
    badge.textContent = text;
    toggle.textContent = paused ? 'Resume live' : 'Pause live';
  }

  function busy(el) {
    return el.querySelector('input[type=checkbox]:checked') !== null ||
      (document.activeElement && el.contains(document.activeElement) && document.activeElement !== document.body);
  }

  async function poll() {
    timer = null;
    if (paused) return;
    try {
      const res = await fetch(location.href, { headers: etag ? { 'If-None-Match': etag } : {}, credentials: 'same-origin', cache: 'no-store' });
      if (res.status === 200) {
        const html = await res.text();
        const doc = new DOMParser().parseFromString(html, 'text/html');
        let held = 0;
        document.querySelectorAll('[data-live][id]').forEach((el) => {
          const fresh = doc.getElementById(el.id);
          if (!fresh) return;
          if (busy(el)) { held++; return; }
          el.replaceWith(document.importNode(fresh, true));
        });
        etag = res.headers.get('ETag') || '';
        main.dataset.etag = etag;
        if (held > 0) {
          show('held', 'live (held while you select)');
        } else {
          show('on', 'live · updated ' + new Date().toLocaleTimeString());
        }
      } else if (res.status === 304) {
        show('on', 'live · no change ' + new Date().toLocaleTimeString());
      } else {
        throw new Error('HTTP ' + res.status);
      }
      failures = 0;
    } catch (e) {
      failures++;
      show('off', 'offline (' + e.message + ')');
    }
    schedule();
  }

  function schedule() {
    if (!paused && timer === null) timer = setTimeout(poll, interval * Math.min(1 + failures, 5));
  }

  toggle.addEventListener('click', () => {
    paused = !paused;
    localStorage.setItem('atlas-live-paused', paused ? '1' : '0');
    if (paused) {
      if (timer !== null) { clearTimeout(timer); timer = null; }
      show('paused', 'paused');
    } else {
      show('on', 'live');
      poll();
    }
  });

  if (paused) { show('paused', 'paused'); } else { show('on', 'live'); schedule(); }
})();
