// The SDK in a real browser: a page served from a loopback origin loads the
// built package (dist/) and its @hpke/* dependencies as plain ES modules
// through an import map, and headless Chromium runs a full request →
// consume against a relay started with --cors-origin for that origin, for
// each key kind. Skips where Chromium is missing, except under CI=true.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { freePort, skipReason, startRelay } from './relay.mjs';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
let skip = skipReason;
if (!skip && !chromium) {
  if (process.env.CI === 'true') throw new Error('chromium is not installed (CI=true: a missing tool fails the run)');
  skip = 'chromium is not installed (apt-get install chromium); the browser test is skipped';
}

/** The import map: every package under node_modules that the SDK reaches, by its ESM entry. */
function importMap() {
  const imports = { '@agentotp/sdk': '/dist/index.js' };
  const todo = Object.keys(JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).dependencies);
  while (todo.length) {
    const name = todo.pop();
    if (imports[name]) continue;
    const meta = JSON.parse(readFileSync(join(pkg, 'node_modules', name, 'package.json'), 'utf8'));
    const dot = meta.exports?.['.'];
    // Conditions may nest (tslib: import → { node, default: { default } }).
    const pick = (x) => (typeof x === 'string' ? x : x && pick(x.browser ?? x.import ?? x.default));
    const entry = pick(dot) ?? meta.module ?? meta.main;
    imports[name] = `/node_modules/${name}/${entry.replace(/^\.\//, '')}`;
    todo.push(...Object.keys(meta.dependencies ?? {}));
  }
  return { imports };
}

const page = (map) => `<!doctype html><meta charset="utf-8"><title>agentotp in a browser</title>
<script type="importmap">${JSON.stringify(map)}</script>
<script type="module">
import { AgentOTPClient, generateKeyPair, exportPublicKey } from '@agentotp/sdk';
const q = new URLSearchParams(location.search);
const out = {};
try {
  const otp = new AgentOTPClient({ apiKey: q.get('key'), baseUrl: q.get('relay') });
  for (const alg of ['rsa', 'x25519', 'mlkem768x25519']) {
    const { publicKey, privateKey } = alg === 'rsa' ? await generateKeyPair() : await generateKeyPair(alg);
    const request = await otp.requestOTP({ reason: 'browser ' + alg, publicKey: await exportPublicKey(publicKey), waitForOTP: true });
    const { code } = await otp.consumeOTP(request.id, privateKey);
    out[alg] = { status: request.status, code, encryption: request.encryption };
  }
} catch (e) {
  out.error = String(e && e.stack || e);
}
await fetch('/result', { method: 'POST', body: JSON.stringify(out) });
</script>`;

const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html' };

describe('the SDK in headless Chromium', { skip }, () => {
  let relay;
  let server;
  let profile;
  let result;
  let gotResult;
  let origin;
  before(async () => {
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    const html = page(importMap());
    result = new Promise((r) => { gotResult = r; });
    server = createServer((req, res) => {
      const path = new URL(req.url, origin).pathname;
      if (req.method === 'POST' && path === '/result') {
        let body = '';
        req.on('data', (d) => { body += d; });
        req.on('end', () => { res.end('ok'); gotResult(JSON.parse(body)); });
        return;
      }
      if (path === '/') {
        res.writeHead(200, { 'Content-Type': 'text/html' }).end(html);
        return;
      }
      const file = normalize(join(pkg, path));
      if (!(file.startsWith(join(pkg, 'dist')) || file.startsWith(join(pkg, 'node_modules'))) || !existsSync(file)) {
        res.writeHead(404).end();
        return;
      }
      res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
    });
    await new Promise((r) => server.listen(port, '127.0.0.1', r));
    relay = await startRelay(['--cors-origin', origin]);
    profile = mkdtempSync(join(tmpdir(), 'agentotp-chromium-'));
  });
  after(async () => {
    server?.close();
    await relay?.close();
    if (profile) removeProfile(profile);
  });

  it('request → consume for every key kind, across origins with CORS', async () => {
    const agent = await relay.createAgent(true);
    const url = `${origin}/?key=${encodeURIComponent(agent.apiKey)}&relay=${encodeURIComponent(relay.url)}`;
    const browser = spawn(chromium, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`, url,
    ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    browser.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((r) => browser.on('exit', r));
    let timer;
    const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no result from the page in 60 s: ${stderr.slice(-2000)}`)), 60_000); });
    try {
      const out = await Promise.race([result, timeout]);
      assert.equal(out.error, undefined, out.error);
      for (const [alg, enc] of [['rsa', 'RSA-OAEP-256-BOUND'], ['x25519', 'HPKE-X25519-SHA256-CHACHA20POLY1305'], ['mlkem768x25519', 'HPKE-MLKEM768X25519-SHA256-CHACHA20POLY1305']]) {
        assert.equal(out[alg].status, 'otp_received', alg);
        assert.match(out[alg].code, /^\d{6}$/, alg);
        assert.equal(out[alg].encryption, enc, alg);
      }
    } finally {
      clearTimeout(timer);
      try { process.kill(-browser.pid, 'SIGKILL'); } catch { browser.kill('SIGKILL'); } // Chromium and its helper processes
      await exited;
    }
  });
});

// removeProfile deletes a Chromium profile directory. A helper process that
// outlived the browser may still be writing to it; what it leaves behind is
// in the OS temp directory, and is no test's failure.
function removeProfile(dir) {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  } catch (err) {
    if (err.code !== 'ENOTEMPTY' && err.code !== 'EBUSY') throw err;
  }
}
