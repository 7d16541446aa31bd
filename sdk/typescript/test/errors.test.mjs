// Every error class, each produced by a real relay condition (or, for
// the network and server classes, by a real socket on loopback).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createServer as createTCPServer } from 'node:net';

import {
  AgentOTPClient,
  AgentOTPError,
  AuthenticationError,
  DecryptionError,
  NetworkError,
  OTPAlreadyConsumedError,
  OTPApprovalDeniedError,
  OTPCancelledError,
  OTPNotFoundError,
  OTPNotReadyError,
  RateLimitError,
  ServerError,
  TimeoutError,
  ValidationError,
  exportPublicKey,
  generateKeyPair,
} from '../dist/index.js';
import { freePort, skipReason, startRelay, waitForOwnerRequest } from './relay.mjs';

describe('errors from a real relay', { skip: skipReason }, () => {
  let relay;
  let keys;
  let pk;
  const client = async (test = true, opts = {}) => {
    const agent = await relay.createAgent(test);
    return { otp: new AgentOTPClient({ apiKey: agent.apiKey, baseUrl: relay.url, maxRetries: 0, ...opts }), agent };
  };
  before(async () => {
    relay = await startRelay();
    keys = await generateKeyPair('x25519');
    pk = await exportPublicKey(keys.publicKey);
  });
  after(() => relay?.close());

  it('AuthenticationError: unknown API key', async () => {
    const otp = new AgentOTPClient({ apiKey: 'ak_test_doesnotexist0000000000000000', baseUrl: relay.url, maxRetries: 0 });
    const e = await otp.requestOTP({ reason: 'x', publicKey: pk }).catch((x) => x);
    assert.ok(e instanceof AuthenticationError, e);
    assert.ok(e instanceof AgentOTPError);
    assert.equal(e.status, 401);
    assert.equal(e.code, 'AUTHENTICATION_ERROR');
  });

  it('ValidationError with fields: bad public key, empty reason, bad ttl, RSA with includeMessage', async () => {
    const { otp } = await client();
    let e = await otp.requestOTP({ reason: '', publicKey: 'bm90IGEga2V5' }).catch((x) => x);
    assert.ok(e instanceof ValidationError, e);
    assert.equal(e.status, 422);
    const fields = e.fields.map((f) => f.field);
    assert.ok(fields.includes('public_key'), JSON.stringify(e.fields));
    assert.ok(fields.includes('reason'), JSON.stringify(e.fields));
    e = await otp.requestOTP({ reason: 'ttl', publicKey: pk, ttl: 5 }).catch((x) => x);
    assert.ok(e instanceof ValidationError);
    assert.deepEqual(e.fields.map((f) => f.field), ['ttl']);
    const rsa = await generateKeyPair();
    e = await otp.requestOTP({ reason: 'rsa msg', publicKey: await exportPublicKey(rsa.publicKey), includeMessage: true }).catch((x) => x);
    assert.ok(e instanceof ValidationError);
    assert.ok(e.fields.some((f) => f.field === 'include_message'), JSON.stringify(e.fields));
    // A snake_case option is a mistake in TypeScript's camelCase API.
    e = await otp.requestOTP({ reason: 'x', publicKey: pk, expected_sender: 'Acme' }).catch((x) => x);
    assert.ok(e instanceof ValidationError);
    assert.match(e.message, /unknown option expected_sender/);
  });

  it('RateLimitError with retryAfter: over the per-key burst', async () => {
    const { otp } = await client();
    const results = await Promise.allSettled(Array.from({ length: 90 }, () => otp.getOTPStatus('otp_none')));
    const limited = results.filter((r) => r.status === 'rejected' && r.reason instanceof RateLimitError);
    assert.ok(limited.length > 0, 'no call was rate limited');
    for (const r of limited) {
      assert.equal(r.reason.status, 429);
      assert.ok(Number.isInteger(r.reason.retryAfter) && r.reason.retryAfter > 0, `retryAfter ${r.reason.retryAfter}`);
    }
    assert.ok(results.some((r) => r.status === 'rejected' && r.reason instanceof OTPNotFoundError));
  });

  it('OTPNotFoundError: no such request', async () => {
    const { otp } = await client();
    const e = await otp.getOTPStatus('otp_nosuchrequest').catch((x) => x);
    assert.ok(e instanceof OTPNotFoundError, e);
    assert.equal(e.status, 404);
  });

  it("OTPApprovalDeniedError carries the owner's reason, not the agent's", async () => {
    const { otp, agent } = await client(false);
    const pending = [];
    const request = await otp.requestOTP({
      reason: 'the agent says: please',
      publicKey: pk,
      waitForOTP: true,
      timeout: 20_000,
      onPendingApproval: async (info) => {
        pending.push(info);
        await relay.deny(info.id, 'not this one, owner says');
      },
    });
    assert.equal(pending.length, 1);
    assert.equal(pending[0].id, request.id);
    assert.match(pending[0].approvalUrl, /^http:\/\/127\.0\.0\.1:\d+\//);
    assert.ok(!Number.isNaN(Date.parse(pending[0].expiresAt)));
    assert.equal(request.status, 'denied');
    assert.equal(request.denyReason, 'not this one, owner says');
    const e = await otp.consumeOTP(request.id, keys.privateKey).catch((x) => x);
    assert.ok(e instanceof OTPApprovalDeniedError, e);
    assert.equal(e.status, 403);
    assert.equal(e.reason, 'not this one, owner says');
    assert.ok((await relay.requests(agent.id)).length === 1);
  });

  it('OTPAlreadyConsumedError: the second consume', async () => {
    const { otp } = await client();
    const request = await otp.requestOTP({ reason: 'twice', publicKey: pk });
    await otp.consumeOTP(request.id, keys.privateKey);
    const e = await otp.consumeOTP(request.id, keys.privateKey).catch((x) => x);
    assert.ok(e instanceof OTPAlreadyConsumedError, e);
    assert.equal(e.status, 410);
    // Cancelling a consumed request is a 409 with the same class.
    const c = await otp.cancelOTPRequest(request.id).catch((x) => x);
    assert.ok(c instanceof OTPAlreadyConsumedError, c);
    assert.equal(c.status, 409);
  });

  it('OTPCancelledError: consume after cancel', async () => {
    const { otp } = await client();
    const request = await otp.requestOTP({ reason: 'cancel', publicKey: pk, filter: { sources: ['sms'] } });
    const cancelled = await otp.cancelOTPRequest(request.id);
    assert.equal(cancelled.status, 'cancelled');
    const e = await otp.consumeOTP(request.id, keys.privateKey).catch((x) => x);
    assert.ok(e instanceof OTPCancelledError, e);
    assert.equal(e.status, 410);
  });

  it('OTPNotReadyError: consume before the code arrived', async () => {
    const { otp } = await client();
    const request = await otp.requestOTP({ reason: 'early', publicKey: pk, filter: { sources: ['sms'], senderPattern: '+1555*' } });
    const e = await otp.consumeOTP(request.id, keys.privateKey).catch((x) => x);
    assert.ok(e instanceof OTPNotReadyError, e);
    assert.equal(e.status, 409);
  });

  it('DecryptionError: a wrong private key consumes nothing', async () => {
    const { otp } = await client();
    const request = await otp.requestOTP({ reason: 'wrong key', publicKey: pk });
    for (const alg of ['x25519', 'rsa', 'mlkem768x25519']) {
      const other = await generateKeyPair(alg);
      const e = await otp.consumeOTP(request.id, other.privateKey).catch((x) => x);
      assert.ok(e instanceof DecryptionError, e);
      assert.match(e.message, /nothing was consumed/);
    }
    const e = await otp.consumeOTP(request.id, keys.publicKey).catch((x) => x);
    assert.ok(e instanceof DecryptionError, e);
    assert.equal((await otp.getOTPStatus(request.id)).status, 'otp_received');
    assert.match((await otp.consumeOTP(request.id, keys.privateKey)).code, /^\d+$/);
  });

  it('TimeoutError: waitForOTP runs out, with the request as it stands', async () => {
    const { otp, agent } = await client(false);
    const request = await otp.requestOTP({ reason: 'slow owner', publicKey: pk });
    const e = await otp.waitForOTP(request.id, { timeout: 2500 }).catch((x) => x);
    assert.ok(e instanceof TimeoutError, e);
    assert.equal(e.request.status, 'pending_approval');
    // requestOTP with waitForOTP returns the request still waiting, as the guide expects.
    const again = await otp.requestOTP({ reason: 'slow owner 2', publicKey: pk, waitForOTP: true, timeout: 1500 });
    assert.equal(again.status, 'pending_approval');
    await waitForOwnerRequest(relay, agent.id, (r) => r.id === again.id);
  });

  it('TimeoutError: one call longer than the client timeout', async () => {
    const sockets = [];
    const silent = createTCPServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise((r) => silent.listen(0, '127.0.0.1', r));
    const otp = new AgentOTPClient({ apiKey: 'ak_test_x', baseUrl: `http://127.0.0.1:${silent.address().port}`, timeout: 300, maxRetries: 0 });
    const e = await otp.getOTPStatus('otp_x').catch((x) => x);
    sockets.forEach((s) => s.destroy());
    silent.close();
    assert.ok(e instanceof TimeoutError, e);
  });

  it('NetworkError: relay unreachable, GET retried with backoff, POST too when refused', async () => {
    const port = await freePort(); // nothing listens there
    const calls = [];
    const otp = new AgentOTPClient({
      apiKey: 'ak_test_x', baseUrl: `http://127.0.0.1:${port}`, maxRetries: 2, retryBackoff: 20,
      fetch: (url, init) => { calls.push(init.method); return fetch(url, init); },
    });
    let e = await otp.getOTPStatus('otp_x').catch((x) => x);
    assert.ok(e instanceof NetworkError, e);
    assert.deepEqual(calls, ['GET', 'GET', 'GET']);
    calls.length = 0;
    e = await otp.requestOTP({ reason: 'x', publicKey: pk }).catch((x) => x);
    assert.ok(e instanceof NetworkError, e);
    assert.deepEqual(calls, ['POST', 'POST', 'POST']);
  });
});

describe('errors from a failing server', () => {
  it('ServerError: 5xx retried for GET and DELETE, never for POST', async () => {
    const seen = [];
    const srv = createServer((req, res) => {
      seen.push(req.method);
      res.writeHead(503, { 'Content-Type': 'application/problem+json' });
      res.end(JSON.stringify({ status: 503, code: 'SERVICE_UNAVAILABLE', message: 'the store is not reachable' }));
    });
    await new Promise((r) => srv.listen(0, '127.0.0.1', r));
    const otp = new AgentOTPClient({ apiKey: 'ak_test_x', baseUrl: `http://127.0.0.1:${srv.address().port}`, maxRetries: 2, retryBackoff: 10 });
    const { publicKey } = await generateKeyPair('x25519');
    let e = await otp.getOTPStatus('otp_x').catch((x) => x);
    assert.ok(e instanceof ServerError, e);
    assert.equal(e.status, 503);
    assert.match(e.message, /store is not reachable/);
    e = await otp.cancelOTPRequest('otp_x').catch((x) => x);
    assert.ok(e instanceof ServerError);
    e = await otp.requestOTP({ reason: 'x', publicKey: await exportPublicKey(publicKey) }).catch((x) => x);
    assert.ok(e instanceof ServerError);
    assert.deepEqual(seen, ['GET', 'GET', 'GET', 'DELETE', 'DELETE', 'DELETE', 'POST']);
    srv.close();
  });

  it('AuthenticationError without a key', () => {
    const saved = process.env.AGENT_OTP_API_KEY;
    delete process.env.AGENT_OTP_API_KEY;
    try {
      assert.throws(() => new AgentOTPClient({}), AuthenticationError);
    } finally {
      if (saved !== undefined) process.env.AGENT_OTP_API_KEY = saved;
    }
  });
});
