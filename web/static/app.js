// agentotp dashboard: progressive enhancement only. Every page works
// without this script; it adds live updates (Server-Sent Events from
// /events), countdowns, local times, confirmations and copy buttons.
(function () {
  'use strict';

  function pad(n) { return n < 10 ? '0' + n : '' + n; }

  // The same words as the server's "left" template function.
  function leftText(secs) {
    if (secs <= 0) { return 'expired'; }
    if (secs >= 3600) {
      return Math.floor(secs / 3600) + ':' + pad(Math.floor(secs / 60) % 60) + ':' + pad(secs % 60) + ' left';
    }
    return Math.floor(secs / 60) + ':' + pad(secs % 60) + ' left';
  }

  function tick() {
    var now = Date.now();
    document.querySelectorAll('time[data-expires]').forEach(function (el) {
      var secs = Math.floor((Date.parse(el.getAttribute('data-expires')) - now) / 1000);
      el.textContent = leftText(secs);
      el.classList.toggle('urgent', secs > 0 && secs < 60);
      el.classList.toggle('gone', secs <= 0);
    });
  }

  function localize(root) {
    root.querySelectorAll('time.local').forEach(function (el) {
      var d = new Date(el.getAttribute('datetime'));
      if (isNaN(d.getTime())) { return; }
      if (el.classList.contains('short')) {
        el.textContent = d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
      } else {
        el.textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
      }
    });
  }

  var submitting = false;
  document.addEventListener('submit', function (e) {
    var msg = e.target.getAttribute('data-confirm');
    if (msg && !window.confirm(msg)) {
      e.preventDefault();
      return;
    }
    submitting = true;
  });

  document.addEventListener('click', function (e) {
    var b = e.target.closest('button[data-copy]');
    if (!b || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(b.getAttribute('data-copy')).then(function () {
      b.textContent = 'Copied';
      setTimeout(function () { b.textContent = 'Copy'; }, 2000);
    });
  });
  document.addEventListener('focusin', function (e) {
    if (e.target.classList && e.target.classList.contains('select-all')) { e.target.select(); }
  });

  function live() {
    if (!document.body.hasAttribute('data-live') || !window.EventSource) { return; }
    var url = '/events';
    var shown = document.querySelector('[data-request][data-version]');
    if (shown) {
      url += '?request=' + encodeURIComponent(shown.getAttribute('data-request')) +
        '&v=' + encodeURIComponent(shown.getAttribute('data-version'));
    }
    var es = new EventSource(url);
    es.addEventListener('pending', function (e) {
      var el = document.getElementById('pending-lists');
      if (!el) { return; }
      el.innerHTML = e.data;
      localize(el);
      tick();
    });
    es.addEventListener('request', function (e) {
      var r = document.querySelector('[data-request]');
      if (r && r.getAttribute('data-request') === e.data && !submitting) {
        window.location.reload();
      }
    });
    es.addEventListener('logout', function () {
      es.close();
      window.location.href = '/login';
    });
    es.addEventListener('open', function () {
      document.documentElement.setAttribute('data-live-connected', '1');
    });
  }

  document.addEventListener('DOMContentLoaded', function () {
    localize(document);
    tick();
    setInterval(tick, 1000);
    live();
  });
})();
