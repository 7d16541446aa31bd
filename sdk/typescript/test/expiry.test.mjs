// OTPExpiredError from a real expiry. The relay's shortest TTL is 60 s,
// so this file takes a minute; npm test runs it beside the others.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { AgentOTPClient, OTPExpiredError, exportPublicKey, generateKeyPair } from '../dist/index.js';
import { skipReason, startRelay } from './relay.mjs';

describe('expiry', { skip: skipReason }, () => {
  let relay;
  before(async () => { relay = await startRelay(); });
  after(() => relay?.close());

  it('a request left unapproved expires: waitForOTP sees it, consume throws OTPExpiredError', { timeout: 110_000 }, async () => {
    const agent = await relay.createAgent(false);
    const otp = new AgentOTPClient({ apiKey: agent.apiKey, baseUrl: relay.url, maxRetries: 0 });
    const { publicKey, privateKey } = await generateKeyPair('x25519');
    const request = await otp.requestOTP({ reason: 'expire me', publicKey: await exportPublicKey(publicKey), ttl: 60 });
    const done = await otp.waitForOTP(request.id, { timeout: 90_000 });
    assert.equal(done.status, 'expired');
    const e = await otp.consumeOTP(request.id, privateKey).catch((x) => x);
    assert.ok(e instanceof OTPExpiredError, e);
    assert.equal(e.status, 410);
    assert.equal(e.code, 'OTP_EXPIRED');
  });
});
