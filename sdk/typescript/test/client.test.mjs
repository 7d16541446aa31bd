// Client behaviour against a real relay: a live key's whole flow (owner
// approval, a message from a capture source), waits by long-poll, ten
// concurrent waits, camelCase mapping, and the environment defaults.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { AgentOTPClient, OTPRequestStatus, exportPublicKey, generateKeyPair } from '../dist/index.js';
import { skipReason, startRelay, waitForOwnerRequest } from './relay.mjs';

describe('client against a real relay', { skip: skipReason }, () => {
  let relay;
  before(async () => { relay = await startRelay(); });
  after(() => relay?.close());

  it('live key: pending approval → owner approves → message from a source → consume', async () => {
    const agent = await relay.createAgent(false);
    const source = await relay.createSource('email');
    const calls = [];
    const otp = new AgentOTPClient({
      apiKey: agent.apiKey, baseUrl: relay.url, maxRetries: 0,
      fetch: (url, init) => { calls.push(`${init.method} ${new URL(url).pathname}${new URL(url).search}`); return fetch(url, init); },
    });
    const { publicKey, privateKey } = await generateKeyPair();
    let told;
    const ingested = (async () => {
      const r = await waitForOwnerRequest(relay, agent.id, (x) => x.status === 'approved');
      return relay.ingest(source, { source: 'email', sender: 'no-reply@acme.example', subject: 'Acme sign-up', text: 'Your Acme verification code is 604512.' , external_id: r.id });
    })();
    const request = await otp.requestOTP({
      reason: 'Sign up for Acme Inc',
      expectedSender: 'Acme Inc',
      filter: { sources: ['email'], senderPattern: '*@acme.example', receivedAfter: new Date(Date.now() - 60_000) },
      publicKey: await exportPublicKey(publicKey),
      waitForOTP: true,
      timeout: 30_000,
      onPendingApproval: async (info) => { told = info; await relay.approve(info.id); },
    });
    assert.equal((await ingested).matched, true);
    assert.equal(told.id, request.id);
    assert.equal(request.status, OTPRequestStatus.OTP_RECEIVED);
    // camelCase at run time, not only in the types.
    assert.equal(request.expectedSender, 'Acme Inc');
    assert.deepEqual(request.filter.sources, ['email']);
    assert.equal(request.filter.senderPattern, '*@acme.example');
    assert.equal(request.decidedBy, 'owner');
    assert.match(request.publicKeyFingerprint, /^SHA256:/);
    assert.equal(request.metadata.sender, 'no-reply@acme.example');
    assert.ok(request.metadata.receivedAt);
    for (const k of Object.keys(request)) assert.doesNotMatch(k, /_/);
    const res = await otp.consumeOTP(request.id, privateKey);
    assert.equal(res.code, '604512');
    // The wait was long-polls, not a loop of plain reads.
    const waits = calls.filter((c) => c.startsWith('GET') && c.includes('?wait='));
    const plain = calls.filter((c) => c.startsWith('GET') && !c.includes('?wait='));
    assert.ok(waits.length >= 1 && waits.length <= 3, calls.join('\n'));
    assert.equal(plain.length, 1, calls.join('\n')); // consumeOTP's fingerprint check
  });

  it('ten concurrent waits on one key are not rate limited', async () => {
    const agent = await relay.createAgent(true);
    const otp = new AgentOTPClient({ apiKey: agent.apiKey, baseUrl: relay.url, maxRetries: 0 });
    const { publicKey, privateKey } = await generateKeyPair('x25519');
    const pk = await exportPublicKey(publicKey);
    const requests = await Promise.all(Array.from({ length: 10 }, (_, i) =>
      otp.requestOTP({ reason: `concurrent ${i}`, publicKey: pk, filter: { contentPattern: `job-${i}\\b` } })));
    const waits = requests.map((r) => otp.waitForOTP(r.id, { timeout: 30_000 }));
    for (let i = 0; i < 10; i++) {
      const sent = await otp.sendTestMessage({ source: 'sms', sender: '+15550100', text: `code ${100000 + i} for job-${i}` });
      assert.equal(sent.matched, true);
    }
    const done = await Promise.all(waits);
    assert.deepEqual(done.map((d) => d.status), Array(10).fill('otp_received'));
    const codes = await Promise.all(requests.map((r) => otp.consumeOTP(r.id, privateKey)));
    assert.deepEqual(codes.map((c) => c.code), Array.from({ length: 10 }, (_, i) => String(100000 + i)));
  });

  it('getOTPStatus and cancelOTPRequest map the request object', async () => {
    const agent = await relay.createAgent(true);
    const otp = new AgentOTPClient({ apiKey: agent.apiKey, baseUrl: relay.url });
    const { publicKey } = await generateKeyPair('mlkem768x25519');
    const r = await otp.requestOTP({ reason: 'map', publicKey: await exportPublicKey(publicKey), ttl: 120, filter: { sources: ['sms'] } });
    assert.equal(r.status, 'approved');
    assert.equal(r.test, true);
    assert.equal(r.decidedBy, 'test_key');
    assert.equal(r.webhookUrl, null);
    assert.ok(Date.parse(r.expiresAt) - Date.parse(r.createdAt) === 120_000);
    assert.equal((await otp.cancelOTPRequest(r.id)).status, 'cancelled');
    assert.equal((await otp.getOTPStatus(r.id)).status, OTPRequestStatus.CANCELLED);
  });

  it('baseUrl and apiKey come from the environment', async () => {
    const agent = await relay.createAgent(true);
    const saved = { ...process.env };
    try {
      process.env.AGENT_OTP_API_KEY = agent.apiKey;
      delete process.env.AGENT_OTP_BASE_URL;
      process.env.AGENTOTP_URL = relay.url;
      let otp = new AgentOTPClient();
      assert.equal(otp.baseUrl, relay.url);
      const { publicKey, privateKey } = await generateKeyPair('x25519');
      const r = await otp.requestOTP({ reason: 'env', publicKey: await exportPublicKey(publicKey) });
      assert.match((await otp.consumeOTP(r.id, privateKey)).code, /^\d+$/);
      process.env.AGENT_OTP_BASE_URL = 'http://127.0.0.1:1';
      otp = new AgentOTPClient({ apiKey: 'ak_test_x' });
      assert.equal(otp.baseUrl, 'http://127.0.0.1:1');
      delete process.env.AGENT_OTP_BASE_URL;
      delete process.env.AGENTOTP_URL;
      assert.equal(new AgentOTPClient({ apiKey: 'ak_test_x' }).baseUrl, 'http://127.0.0.1:8787');
    } finally {
      for (const k of ['AGENT_OTP_API_KEY', 'AGENT_OTP_BASE_URL', 'AGENTOTP_URL']) {
        if (saved[k] === undefined) delete process.env[k]; else process.env[k] = saved[k];
      }
    }
  });
});
