// Times requestOTP + consumeOTP with a test key through the SDK, and the same
// two calls with raw fetch + WebCrypto (RSA-OAEP-256), side by side in one run.
//
//   AGENTOTP_URL=http://127.0.0.1:8787 AGENTOTP_OWNER_TOKEN=ok_… npm run bench -- [N]
//
// The relay holds one key to 120 calls a minute (bursts of 60), so fresh
// test keys are made through the owner API (before the clock starts), one
// per 10 rounds.
import { AgentOTPClient, exportPublicKey, generateKeyPair } from '../dist/index.js';

const n = Number(process.argv[2] ?? 200);
const url = process.env.AGENTOTP_URL;
const owner = process.env.AGENTOTP_OWNER_TOKEN;
if (!url || !owner) {
  console.error('set AGENTOTP_URL and AGENTOTP_OWNER_TOKEN');
  process.exit(2);
}

async function freshKey(name) {
  const r = await fetch(`${url}/v1/owner/agents`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${owner}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ name, test: true }),
  });
  return (await r.json()).api_key;
}

const rounds = n + 5;
const pools = { sdk: [], raw: [] };
for (let i = 0; i <= rounds / 10; i++) {
  pools.sdk.push(new AgentOTPClient({ apiKey: await freshKey(`bench-sdk-${i}`), baseUrl: url }));
  pools.raw.push(await freshKey(`bench-raw-${i}`));
}
const used = { sdk: 0, raw: 0 };
const next = (kind) => pools[kind][Math.floor(used[kind]++ / 10)];

const { publicKey, privateKey } = await generateKeyPair();
const spki = await exportPublicKey(publicKey);
async function sdk() {
  const otp = next('sdk');
  const r = await otp.requestOTP({ reason: 'bench', publicKey: spki, waitForOTP: true });
  const { code } = await otp.consumeOTP(r.id, privateKey);
  if (!code) throw new Error('no code');
}

const raw = await crypto.subtle.generateKey({ name: 'RSA-OAEP', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' }, true, ['encrypt', 'decrypt']);
const rawSpki = Buffer.from(await crypto.subtle.exportKey('spki', raw.publicKey)).toString('base64');
async function plain() {
  const headers = { Authorization: `Bearer ${next('raw')}`, 'Content-Type': 'application/json' };
  const r = await (await fetch(`${url}/v1/otp/request`, { method: 'POST', headers, body: JSON.stringify({ reason: 'bench', public_key: rawSpki }) })).json();
  const c = await (await fetch(`${url}/v1/otp/${r.id}/consume`, { method: 'POST', headers })).json();
  const code = new TextDecoder().decode(await crypto.subtle.decrypt({ name: 'RSA-OAEP' }, raw.privateKey, Buffer.from(c.encrypted_payload, 'base64')));
  if (!code) throw new Error('no code');
}

async function timed(count, fn) {
  const t = [];
  for (let i = 0; i < count; i++) {
    const s = performance.now();
    await fn();
    t.push(performance.now() - s);
  }
  return t.sort((a, b) => a - b);
}
await timed(5, sdk);
await timed(5, plain);
const rows = { '@agentotp/sdk': await timed(n, sdk), 'raw fetch': await timed(n, plain) };
console.log(`requestOTP + consumeOTP, test key, RSA-OAEP-2048, ${n} rounds each`);
console.log(`${''.padEnd(16)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'mean ms'.padStart(8)}`);
for (const [name, t] of Object.entries(rows)) {
  const mean = t.reduce((a, b) => a + b, 0) / t.length;
  console.log(`${name.padEnd(16)} ${t[Math.floor(t.length / 2)].toFixed(2).padStart(8)} ${t[Math.ceil(t.length * 0.99) - 1].toFixed(2).padStart(8)} ${mean.toFixed(2).padStart(8)}`);
}
