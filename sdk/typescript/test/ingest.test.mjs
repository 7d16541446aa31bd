// sendTestMessage's answer says why a message fed no request (reason
// no_match / no_code), as the relay does.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { AgentOTPClient, exportPublicKey, generateKeyPair } from '../dist/index.js';
import { skipReason, startRelay } from './relay.mjs';

describe('ingest result', { skip: skipReason }, () => {
  let relay;
  before(async () => { relay = await startRelay(); });
  after(() => relay?.close());

  it('carries the reason of a message that fed nothing', async () => {
    const agent = await relay.createAgent(true);
    const otp = new AgentOTPClient({ apiKey: agent.apiKey, baseUrl: relay.url });
    const { publicKey } = await generateKeyPair('x25519');
    const req = await otp.requestOTP({ reason: 'ingest reason', publicKey: await exportPublicKey(publicKey), filter: { sources: ['sms'], senderPattern: '+15550199' } });
    const cases = [
      [{ source: 'sms', sender: '+15550100', text: 'Your code is 482913' }, false, 'no_match'],
      [{ source: 'sms', sender: '+15550199', text: 'Welcome aboard, see you soon' }, false, 'no_code'],
      [{ source: 'sms', sender: '+15550199', text: 'Your code is 482913' }, true, undefined],
    ];
    for (const [msg, matched, reason] of cases) {
      const res = await otp.sendTestMessage(msg);
      assert.equal(res.matched, matched, JSON.stringify(res));
      assert.equal(res.reason, reason, JSON.stringify(res));
    }
    await otp.cancelOTPRequest(req.id).catch(() => {});
  });
});
