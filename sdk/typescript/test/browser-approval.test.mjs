// verifyApproval in a real browser, headless Chromium, on the Go-made
// statements of sdk/testdata, loaded two ways from a loopback origin:
//   - the built package (dist/) and its dependencies as plain ES modules
//     through an import map (as browser.test.mjs loads the SDK): Ed25519
//     verifies with the browser's WebCrypto, but @simplewebauthn/server's
//     dependencies (@peculiar/asn1-*) are bundler-only ES modules
//     (extensionless relative imports), so a passkey statement is refused
//     with a message saying so;
//   - bundled with esbuild (--platform=browser): everything verifies,
//     passkeys included, and a swapped statement is refused.
// No relay is needed. Skips where Chromium is missing, except under CI=true.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { build } from 'esbuild';

import { freePort } from './relay.mjs';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const fixture = readFileSync(resolve(pkg, '..', 'testdata', 'approval-fixtures.json'), 'utf8');
const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
let skip;
if (!chromium) {
  if (process.env.CI === 'true') throw new Error('chromium is not installed (CI=true: a missing tool fails the run)');
  skip = 'chromium is not installed (apt-get install chromium); the browser test is skipped';
}

/** The import map: every package under node_modules that the SDK reaches, by its ESM entry. */
function importMap() {
  const imports = { '@agentotp/sdk': '/dist/index.js' };
  const todo = Object.keys(JSON.parse(readFileSync(join(pkg, 'package.json'), 'utf8')).dependencies);
  const pick = (x) => (typeof x === 'string' ? x : x && pick(x.browser ?? x.import ?? x.default));
  while (todo.length) {
    const name = todo.pop();
    if (imports[name]) continue;
    const meta = JSON.parse(readFileSync(join(pkg, 'node_modules', name, 'package.json'), 'utf8'));
    const entry = pick(meta.exports?.['.']) ?? meta.module ?? meta.main;
    imports[name] = `/node_modules/${name}/${entry.replace(/^\.\//, '')}`;
    todo.push(...Object.keys(meta.dependencies ?? {}));
  }
  return { imports };
}

const page = (map) => `<!doctype html><meta charset="utf-8"><title>agentotp approvals in a browser</title>
<script type="importmap">${JSON.stringify(map)}</script>
<script type="module">
const mode = new URLSearchParams(location.search).get('mode');
const { parseTrust, verifyApproval } = await import(mode === 'bundle' ? '/bundle.js' : '@agentotp/sdk');
const out = {};
try {
  const fx = await (await fetch('/fixture')).json();
  const trust = await parseTrust(fx.trust);
  const client = (r) => ({ ...r, agentId: r.agent_id, approval: { statement: r.approval.statement, method: r.approval.method, keyId: r.approval.key_id, signature: r.approval.signature } });
  for (const c of fx.cases) {
    try {
      out[c.name] = (await verifyApproval(trust, client(c.request), c.public_key)).keyFingerprint;
    } catch (e) {
      out[c.name] = 'refused: ' + e.message;
    }
  }
  const w = fx.cases.find((c) => c.method === 'webauthn' || c.name.startsWith('webauthn'));
  const other = fx.cases.find((c) => c.name === 'ed25519-x25519');
  try {
    await verifyApproval(trust, { ...client(other.request), approval: { ...client(w.request).approval, statement: other.request.approval.statement } }, other.public_key);
    out.swapped = 'accepted';
  } catch (e) {
    out.swapped = 'refused: ' + e.message;
  }
} catch (e) {
  out.error = String(e && e.stack || e);
}
await fetch('/result?mode=' + mode, { method: 'POST', body: JSON.stringify(out) });
</script>`;

const types = { '.js': 'text/javascript', '.mjs': 'text/javascript', '.html': 'text/html' };

describe('verifyApproval in headless Chromium', { skip }, () => {
  let server;
  let origin;
  let bundle;
  const results = new Map();
  const result = (mode) => new Promise((r) => results.set(mode, r));
  before(async () => {
    const port = await freePort();
    origin = `http://127.0.0.1:${port}`;
    const html = page(importMap());
    const built = await build({
      stdin: { contents: "export { parseTrust, verifyApproval } from './dist/index.js';", resolveDir: pkg, loader: 'js' },
      bundle: true, format: 'esm', platform: 'browser', write: false, logLevel: 'silent',
    });
    bundle = built.outputFiles[0].text;
    server = createServer((req, res) => {
      const url = new URL(req.url, origin);
      const path = url.pathname;
      if (req.method === 'POST' && path === '/result') {
        let body = '';
        req.on('data', (d) => { body += d; });
        req.on('end', () => { res.end('ok'); results.get(url.searchParams.get('mode'))?.(JSON.parse(body)); });
        return;
      }
      if (path === '/') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(html);
      if (path === '/fixture') return void res.writeHead(200, { 'Content-Type': 'application/json' }).end(fixture);
      if (path === '/bundle.js') return void res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(bundle);
      const file = normalize(join(pkg, path));
      if (!(file.startsWith(join(pkg, 'dist')) || file.startsWith(join(pkg, 'node_modules'))) || !existsSync(file) || statSync(file).isDirectory()) {
        return void res.writeHead(404).end();
      }
      res.writeHead(200, { 'Content-Type': types[extname(file)] ?? 'application/octet-stream' }).end(readFileSync(file));
    });
    await new Promise((r) => server.listen(port, '127.0.0.1', r));
  });
  after(() => server?.close());

  async function inChromium(mode) {
    const profile = mkdtempSync(join(tmpdir(), 'agentotp-chromium-'));
    const got = result(mode);
    const browser = spawn(chromium, [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      `--user-data-dir=${profile}`, `${origin}/?mode=${mode}`,
    ], { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    browser.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((r) => browser.on('exit', r));
    let timer;
    const timeout = new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`no result from the page in 60 s: ${stderr.slice(-2000)}`)), 60_000); });
    try {
      const out = await Promise.race([got, timeout]);
      assert.equal(out.error, undefined, out.error);
      return out;
    } finally {
      clearTimeout(timer);
      try { process.kill(-browser.pid, 'SIGKILL'); } catch { browser.kill('SIGKILL'); } // Chromium and its helper processes
      await exited;
      removeProfile(profile);
    }
  }

  it('bundled: verifies Go-made Ed25519 and passkey statements, and refuses a swapped one', async () => {
    const out = await inChromium('bundle');
    for (const c of JSON.parse(fixture).cases) assert.equal(out[c.name], c.request.public_key_fingerprint, c.name);
    assert.match(out.swapped, /^refused: .*passkey assertion does not verify/);
  });

  it('plain ES modules: Ed25519 verifies; a passkey statement is refused, saying why', async () => {
    const out = await inChromium('map');
    for (const c of JSON.parse(fixture).cases.filter((x) => x.name.startsWith('ed25519'))) assert.equal(out[c.name], c.request.public_key_fingerprint, c.name);
    assert.match(out['webauthn-x25519'], /^refused: .*@simplewebauthn\/server cannot be loaded here, so passkey \(webauthn\) approvals cannot be verified/);
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
