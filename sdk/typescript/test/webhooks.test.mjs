// verifyWebhook implements Standard Webhooks exactly: checked against the
// npm standardwebhooks package, and against what a real relay sends.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

import { AgentOTPClient, WebhookVerificationError, exportPublicKey, generateKeyPair, verifySignature, verifyWebhook } from '../dist/index.js';
import { skipReason, startRelay } from './relay.mjs';

const secret = 'whsec_' + randomBytes(24).toString('base64');
const body = JSON.stringify({ type: 'otp.status', request_id: 'otp_abc', status: 'otp_received', occurred_at: '2026-01-01T00:00:00Z' });

function signed(at = new Date(), id = 'msg_' + randomBytes(6).toString('hex'), payload = body, key = secret) {
  const sig = new Webhook(key).sign(id, at, payload);
  return { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': sig };
}

// Each case: headers and body; whether standardwebhooks accepts it; ours must agree.
const cases = [
  ['valid', () => [signed(), body]],
  ['valid, Buffer body', () => [signed(), Buffer.from(body)]],
  ['valid among several signatures', () => { const h = signed(); h['webhook-signature'] = `v1,${randomBytes(32).toString('base64')} ${h['webhook-signature']} v2,abc`; return [h, body]; }],
  ['body changed', () => [signed(), body.replace('otp_abc', 'otp_abd')]],
  ['other secret', () => [signed(new Date(), undefined, body, 'whsec_' + randomBytes(24).toString('base64')), body]],
  ['id changed', () => { const h = signed(); h['webhook-id'] += 'x'; return [h, body]; }],
  ['timestamp changed', () => { const h = signed(); h['webhook-timestamp'] = String(Number(h['webhook-timestamp']) + 1); return [h, body]; }],
  ['too old', () => [signed(new Date(Date.now() - 400_000)), body]],
  ['too new', () => [signed(new Date(Date.now() + 400_000)), body]],
  ['4 minutes old', () => [signed(new Date(Date.now() - 240_000)), body]],
  ['no signature header', () => { const h = signed(); delete h['webhook-signature']; return [h, body]; }],
  ['only an unknown version', () => { const h = signed(); h['webhook-signature'] = h['webhook-signature'].replace('v1,', 'v2,'); return [h, body]; }],
  ['timestamp not a number', () => { const h = signed(); h['webhook-timestamp'] = 'soon'; return [h, body]; }],
];

describe('verifyWebhook agrees with the standardwebhooks package', () => {
  for (const [name, make] of cases) {
    it(name, async () => {
      const [headers, raw] = make();
      let theirs = true;
      try {
        new Webhook(secret).verify(raw, headers);
      } catch {
        theirs = false;
      }
      let ours = true;
      try {
        const ev = await verifyWebhook(raw, headers, secret);
        assert.equal(ev.requestId, 'otp_abc');
        assert.equal(ev.status, 'otp_received');
      } catch (e) {
        assert.ok(e instanceof WebhookVerificationError, e);
        ours = false;
      }
      assert.equal(ours, theirs, `standardwebhooks says ${theirs}, verifyWebhook says ${ours}`);
      assert.equal(await verifySignature(raw, headers, secret), theirs);
      assert.equal(await verifySignature(raw, new Headers(headers), secret), theirs);
    });
  }

  it('toleranceSeconds narrows the window', async () => {
    const headers = signed(new Date(Date.now() - 120_000));
    await verifyWebhook(body, headers, secret);
    await assert.rejects(verifyWebhook(body, headers, secret, { toleranceSeconds: 60 }), /too old/);
  });
});

describe('webhooks from a real relay', { skip: skipReason }, () => {
  let relay;
  let receiver;
  const got = [];
  let notify;
  before(async () => {
    relay = await startRelay(['--allow-private-webhooks', '--webhook-retry-base', '200ms']);
    receiver = createServer((req, res) => {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        got.push({ headers: req.headers, raw: Buffer.concat(chunks) });
        res.writeHead(200).end('OK');
        notify?.();
      });
    });
    await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  });
  after(async () => { receiver?.close(); await relay?.close(); });

  it('every delivery verifies with both, and the signature headers agree', async () => {
    const agent = await relay.createAgent(true);
    const otp = new AgentOTPClient({ apiKey: agent.apiKey, baseUrl: relay.url });
    const { publicKey, privateKey } = await generateKeyPair('x25519');
    const arrived = new Promise((r) => { notify = () => { if (got.some((g) => JSON.parse(g.raw).status === 'otp_received')) r(); }; });
    const request = await otp.requestOTP({
      reason: 'webhook', publicKey: await exportPublicKey(publicKey), webhookUrl: `http://127.0.0.1:${receiver.address().port}/webhooks/otp`,
    });
    await arrived;
    const { code } = await otp.consumeOTP(request.id, privateKey);
    assert.match(code, /^\d+$/);
    for (const g of got) {
      const ev = await verifyWebhook(g.raw, g.headers, agent.webhookSecret);
      assert.equal(ev.requestId, request.id);
      new Webhook(agent.webhookSecret).verify(g.raw, g.headers);
      assert.equal(g.headers['x-otp-signature'], g.headers['webhook-signature']);
      assert.equal(await verifySignature(g.raw, g.headers, 'whsec_' + randomBytes(24).toString('base64')), false);
      assert.ok(!g.raw.toString().includes(code), 'a webhook carried the code');
    }
  });

  it('during a key rotation\'s grace period deliveries verify with the old secret and the new', async () => {
    const agent = await relay.createAgent(true);
    const rot = await relay.owner('POST', `/v1/owner/agents/${agent.id}/rotate`, { grace_period_seconds: 3600 });
    assert.notEqual(rot.webhook_secret, agent.webhookSecret);
    got.length = 0;
    const otp = new AgentOTPClient({ apiKey: rot.api_key, baseUrl: relay.url });
    const { publicKey } = await generateKeyPair('x25519');
    const arrived = new Promise((r) => { notify = () => { if (got.some((g) => JSON.parse(g.raw).status === 'otp_received')) r(); }; });
    await otp.requestOTP({ reason: 'rotated', publicKey: await exportPublicKey(publicKey), webhookUrl: `http://127.0.0.1:${receiver.address().port}/webhooks/otp` });
    await arrived;
    for (const g of got) {
      assert.equal(g.headers['webhook-signature'].split(' ').length, 2);
      for (const s of [agent.webhookSecret, rot.webhook_secret]) {
        assert.equal((await verifyWebhook(g.raw, g.headers, s)).status, JSON.parse(g.raw).status);
        assert.equal(await verifySignature(g.raw, g.headers, s), true);
        new Webhook(s).verify(g.raw, g.headers);
      }
    }
  });
});
