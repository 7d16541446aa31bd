// The client waits across a relay restart: the relay is stopped (SIGTERM)
// or killed (kill -9) while requestOTP waits; a new relay starts on the
// same data directory and port; the owner approves, the message arrives,
// and the wait still ends with the code. Faults a restart (or a proxy in
// front of the relay) produces — 502/503/504 with and without
// Retry-After, an empty or truncated 200 — are ridden out the same way.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';

import { AgentOTPClient, AuthenticationError, NetworkError, ServerError, exportPublicKey, generateKeyPair, isTransient } from '../dist/index.js';
import { skipReason, startRelay, waitForOwnerRequest } from './relay.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

describe('waiting across a relay restart', { skip: skipReason }, () => {
  for (const signal of ['SIGTERM', 'SIGKILL']) {
    it(`requestOTP with waitForOTP gets the code after ${signal} and a restart`, async () => {
      let relay = await startRelay();
      try {
        const agent = await relay.createAgent(false);
        const source = await relay.createSource('sms');
        const otp = new AgentOTPClient({ apiKey: agent.apiKey, baseUrl: relay.url });
        const { publicKey, privateKey } = await generateKeyPair('x25519');
        const sender = `+1555030${signal === 'SIGTERM' ? 1 : 2}`;
        let settled = false;
        const waiting = otp.requestOTP({
          reason: `restart ${signal}`, publicKey: await exportPublicKey(publicKey),
          filter: { sources: ['sms'], senderPattern: sender }, waitForOTP: true, timeout: 90_000,
        }).finally(() => { settled = true; });
        waiting.catch(() => {}); // examined below
        const pending = await waitForOwnerRequest(relay, agent.id, (r) => r.status === 'pending_approval');
        await relay.kill(signal);
        await sleep(4000); // down for longer than the quick retries of one call last
        assert.equal(settled, false, 'the wait ended while the relay was down');
        relay = await startRelay([], { dir: relay.dir, port: relay.port });
        await relay.approve(pending.id);
        const sent = await relay.ingest(source, { source: 'sms', sender, text: 'Your verification code is 530917', external_id: pending.id });
        assert.equal(sent.matched, true);
        const request = await waiting;
        assert.equal(request.status, 'otp_received');
        assert.equal((await otp.consumeOTP(request.id, privateKey)).code, '530917');
      } finally {
        await relay.close();
      }
    });
  }
});

describe('waits ride out transient faults', { skip: skipReason }, () => {
  let relay;
  before(async () => { relay = await startRelay(); });
  after(() => relay?.close());

  it('reset, 503 + Retry-After, 502, 504, truncated and empty 200, then the code', async () => {
    const agent = await relay.createAgent(true);
    const faults = [
      (res) => res.socket.destroy(),
      (res) => { res.writeHead(503, { 'Retry-After': '1', 'Content-Type': 'application/problem+json' }); res.end('{"status":503,"message":"restarting"}'); },
      (res) => { res.writeHead(502); res.end(); },
      (res) => { res.writeHead(504, { 'Content-Type': 'application/problem+json' }); res.end('{"status":504}'); },
      (res) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{"id":"otp_x","status":"pend'); },
      (res) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end(''); },
      (res) => { res.writeHead(200, { 'Content-Type': 'application/json' }); res.end('{}'); },
    ];
    const total = faults.length;
    let served;
    const allServed = new Promise((r) => { served = r; });
    // A proxy in front of the real relay: the faults first, then the relay.
    const proxy = createServer(async (req, res) => {
      if (req.url.includes('?wait=') && faults.length > 0) {
        faults.shift()(res);
        if (faults.length === 0) served();
        return;
      }
      const chunks = [];
      for await (const c of req) chunks.push(c);
      const r = await fetch(relay.url + req.url, { method: req.method, headers: { authorization: req.headers.authorization ?? '', 'content-type': req.headers['content-type'] ?? 'application/json' }, body: chunks.length ? Buffer.concat(chunks) : undefined });
      res.writeHead(r.status, { 'Content-Type': r.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await r.arrayBuffer()));
    });
    await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${proxy.address().port}`;
      const otp = new AgentOTPClient({ apiKey: agent.apiKey, baseUrl: url, retryBackoff: 10 });
      const { publicKey, privateKey } = await generateKeyPair('x25519');
      const req = await otp.requestOTP({ reason: 'faults', publicKey: await exportPublicKey(publicKey), filter: { senderPattern: 'FAULTS' } });
      allServed.then(() => otp.sendTestMessage({ source: 'sms', sender: 'FAULTS', text: 'Your code is 771203' }));
      const retried = [];
      const done = await otp.waitForOTP(req.id, { timeout: 60_000, pollSeconds: 2, onWait: (_, e) => { if (e) retried.push(e); } });
      assert.equal(done.status, 'otp_received');
      assert.ok(retried.length >= total - 1 && retried.length <= total, `retried ${retried.length}: ${retried.map((e) => e.message).join(' | ')}`);
      assert.ok(retried.every(isTransient));
      assert.ok(retried.some((e) => e instanceof ServerError && e.retryAfter === 1));
      assert.ok(retried.some((e) => e instanceof NetworkError && /cut short/.test(e.message)));
      assert.equal((await otp.consumeOTP(req.id, privateKey)).code, '771203');
    } finally {
      proxy.close();
    }
  });

  it('an error that is not transient ends the wait at once', async () => {
    const refuse = createServer((_, res) => { res.writeHead(401, { 'Content-Type': 'application/problem+json' }); res.end('{"code":"AUTHENTICATION_ERROR","message":"no"}'); });
    await new Promise((r) => refuse.listen(0, '127.0.0.1', r));
    try {
      const otp = new AgentOTPClient({ apiKey: 'ak_test_x', baseUrl: `http://127.0.0.1:${refuse.address().port}` });
      await assert.rejects(otp.waitForOTP('otp_x', { timeout: 60_000 }), (e) => e instanceof AuthenticationError && !isTransient(e));
    } finally {
      refuse.close();
    }
  });
});
