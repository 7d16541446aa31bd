// Issue 13 item 10 in the TypeScript SDK: a capture source replays the RSA
// ciphertext it delivered for one request into the agent's next request
// with the same key. With the guide's plain form the old code opens; with
// the bound form exportPublicKey sends by default, consumeOTP refuses it
// (and a plain ciphertext too).
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { AgentOTPClient, DecryptionError, Encryption, exportPublicKey, generateKeyPair, importPublicKey } from '../dist/index.js';
import { skipReason, startRelay } from './relay.mjs';

describe('RSA payloads bound to their request', { skip: skipReason }, () => {
  let relay;
  before(async () => { relay = await startRelay(); });
  after(() => relay?.close());

  it('a replayed RSA ciphertext is refused in the bound form', async () => {
    const agent = await relay.createAgent(false);
    const source = await relay.createSource('generic');
    const otp = new AgentOTPClient({ apiKey: agent.apiKey, baseUrl: relay.url });
    const { publicKey, privateKey } = await generateKeyPair('rsa');
    const edge = async (method, path, body) => {
      const r = await fetch(relay.url + path, { method, headers: { Authorization: `Bearer ${source}`, 'Content-Type': 'application/json' }, body: body && JSON.stringify(body) });
      const text = await r.text();
      if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
      return JSON.parse(text);
    };
    let n = 0;
    const open = async (bound) => {
      const sender = `REPLAY${++n}`;
      const req = await otp.requestOTP({ reason: `replay ${n}`, publicKey: await exportPublicKey(publicKey, { bound }), filter: { sources: ['sms'], senderPattern: sender } });
      await relay.approve(req.id);
      const offered = (await edge('GET', '/v1/capture/requests')).data.find((r) => r.id === req.id);
      assert.ok(offered, 'the edge is offered the request');
      return { ...offered, sender };
    };
    // What an edge does: seal the code to the request's key in its form.
    const seal = async (r, code) => {
      const key = await importPublicKey(r.public_key);
      const params = r.encryption === Encryption.RSA_OAEP_256_BOUND
        ? { name: 'RSA-OAEP', label: new TextEncoder().encode(`agentotp/v1:${r.id}`) }
        : { name: 'RSA-OAEP' };
      return Buffer.from(await crypto.subtle.encrypt(params, key, new TextEncoder().encode(code))).toString('base64');
    };
    const deliver = (r, payload) => edge('POST', '/v1/capture/deliveries', { request_id: r.id, encrypted_payload: payload, metadata: { source: 'sms', sender: r.sender } });
    for (const [name, first, again, refused] of [
      ['plain into plain (the guide\'s form is not bound)', false, false, false],
      ['bound into bound', true, true, true],
      ['plain into bound', false, true, true],
    ]) {
      const old = await open(first);
      const oldCT = await seal(old, '111111');
      await deliver(old, oldCT);
      assert.equal((await otp.consumeOTP(old.id, privateKey)).code, '111111', name);
      const next = await open(again);
      assert.equal(next.encryption, again ? Encryption.RSA_OAEP_256_BOUND : Encryption.RSA_OAEP_256, name);
      await deliver(next, oldCT); // the replay: the relay cannot tell
      if (refused) {
        await assert.rejects(otp.consumeOTP(next.id, privateKey), (e) => e instanceof DecryptionError && e.encryptedPayload === oldCT, name);
      } else {
        assert.equal((await otp.consumeOTP(next.id, privateKey)).code, '111111', name);
      }
    }
  });
});
