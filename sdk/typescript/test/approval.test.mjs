// verifyApproval / parseTrust: Go-made statements (sdk/testdata, written by
// go run ./sdk/testdata/approvalfixture and checked by Go's own
// client.VerifyApproval there) for every key kind and a passkey, and a real
// relay where the owner registers a signing key and approves with the real
// CLI (agentotp owner keygen / agentotp approve --sign-key), then the
// refusals: unsigned, another agent's key, tampered, unknown key, another
// owner, another request, a signed denial.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import {
  AgentOTPClient, ApprovalVerificationError, ValidationError, exportPublicKey, generateKeyPair, importPublicKey,
  parseStatement, parseTrust, verifyApproval,
} from '../dist/index.js';
import { skipReason, startRelay } from './relay.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const fixture = JSON.parse(readFileSync(resolve(here, '..', '..', 'testdata', 'approval-fixtures.json'), 'utf8'));

/** A wire request object as the client hands it back (camelCase approval). */
const asClient = (r) => ({ ...r, agentId: r.agent_id, approval: r.approval && { statement: r.approval.statement, method: r.approval.method, keyId: r.approval.key_id, signature: r.approval.signature } });
const caseOf = (name) => fixture.cases.find((c) => c.name === name);
const b64 = (s) => Buffer.from(s, 'base64');
const refused = (re) => (e) => e instanceof ApprovalVerificationError && re.test(e.message);

describe('verifyApproval: Go-made statements', () => {
  it('verifies every key kind and the passkey; the fingerprint is Go\'s', async () => {
    const trust = await parseTrust(fixture.trust);
    assert.equal(fixture.cases.length, 4);
    for (const c of fixture.cases) {
      const s = await verifyApproval(trust, asClient(c.request), c.public_key);
      assert.equal(s.keyFingerprint, c.request.public_key_fingerprint, c.name);
      assert.equal(s.requestId, c.request.id);
      assert.equal(s.decision, 'approve');
      // A CryptoKey works as well as the exported text.
      await verifyApproval(trust, asClient(c.request), await importPublicKey(c.public_key));
    }
  });

  it('accepts the trust file as JSON text and as the request in wire form', async () => {
    const trust = await parseTrust(JSON.stringify(fixture.trust));
    const c = caseOf('ed25519-x25519');
    await verifyApproval(trust, { ...c.request, agentId: c.request.agent_id }, c.public_key);
  });

  it('refuses a passkey assertion that is tampered, for another statement, or for another relying party', async () => {
    const trust = await parseTrust(fixture.trust);
    const c = caseOf('webauthn-x25519');
    const req = asClient(c.request);
    const assertion = JSON.parse(b64(req.approval.signature).toString());
    const sig = Buffer.from(assertion.response.signature, 'base64url');
    sig[sig.length - 1] ^= 1;
    const bad = { ...assertion, response: { ...assertion.response, signature: sig.toString('base64url') } };
    await assert.rejects(verifyApproval(trust, { ...req, approval: { ...req.approval, signature: Buffer.from(JSON.stringify(bad)).toString('base64') } }, c.public_key), refused(/passkey assertion does not verify/));
    // The assertion of another statement: the challenge differs.
    const other = asClient(caseOf('ed25519-x25519').request);
    await assert.rejects(verifyApproval(trust, { ...other, approval: { ...req.approval, statement: other.approval.statement } }, caseOf('ed25519-x25519').public_key), refused(/passkey assertion does not verify/));
    const elsewhere = await parseTrust({ ...fixture.trust, rp_id: 'evil.example', origins: ['https://evil.example'] });
    await assert.rejects(verifyApproval(elsewhere, req, c.public_key), refused(/passkey assertion does not verify/));
    // Another user's handle.
    const handle = { ...assertion, response: { ...assertion.response, userHandle: Buffer.from('own_other').toString('base64url') } };
    await assert.rejects(verifyApproval(trust, { ...req, approval: { ...req.approval, signature: Buffer.from(JSON.stringify(handle)).toString('base64') } }, c.public_key), refused(/user handle/));
  });

  it('refuses an Ed25519 signature that does not verify, and a key of another kind than the statement names', async () => {
    const trust = await parseTrust(fixture.trust);
    const c = caseOf('ed25519-rsa');
    const req = asClient(c.request);
    const sig = b64(req.approval.signature);
    sig[0] ^= 1;
    await assert.rejects(verifyApproval(trust, { ...req, approval: { ...req.approval, signature: sig.toString('base64') } }, c.public_key), refused(/signature does not verify/));
    await assert.rejects(verifyApproval(trust, req, caseOf('ed25519-x25519').public_key), refused(/not this agent's key/));
    // The passkey's key id with the Ed25519 method: not a pinned key of that method.
    await assert.rejects(verifyApproval(trust, { ...req, approval: { ...req.approval, keyId: fixture.trust.keys[1].key_id } }, c.public_key), refused(/not one of the owner's pinned keys/));
  });

  it('parseStatement refuses bytes that are not canonical', () => {
    const st = b64(caseOf('ed25519-x25519').request.approval.statement).toString();
    assert.equal(parseStatement(new TextEncoder().encode(st)).v, 1);
    const o = JSON.parse(st);
    for (const [why, text] of [
      ['spacing', JSON.stringify(o, null, 1)],
      ['order', JSON.stringify({ request_id: o.request_id, ...o })],
      ['unknown member', st.replace(/}$/, ',"x":1}')],
      ['version', st.replace('"v":1', '"v":2')],
      ['needless escape', st.replace('"approve"', '"appro\\u0076e"')],
      ['unsorted sources', JSON.stringify({ ...o, filter: { ...o.filter, sources: ['sms', 'email'] } })],
      ['decision', st.replace('"approve"', '"maybe"')],
      ['not JSON', 'nope'],
    ]) {
      assert.throws(() => parseStatement(new TextEncoder().encode(text)), ApprovalVerificationError, why);
    }
    assert.throws(() => parseStatement(new Uint8Array(9000).fill(0x20)), /at most 8192/);
    assert.throws(() => parseStatement(new Uint8Array([0xff, 0xfe])), ApprovalVerificationError);
  });

  it('mutated statements, approvals and trust files are refused with the SDK\'s errors, never anything else', async () => {
    // A bounded, seeded mutation run over the parsers (the Go side has FuzzParse).
    let seed = 20261202;
    const rand = (n) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
    const mutate = (b) => {
      const out = [...b];
      for (let k = 1 + rand(3); k > 0; k--) {
        const i = rand(out.length + 1);
        const op = rand(3);
        if (op === 0 && out.length) out[Math.min(i, out.length - 1)] = rand(256);
        else if (op === 1) out.splice(i, 0, [0x22, 0x2c, 0x7b, 0x7d, 0x5c, 0x30, rand(256)][rand(7)]);
        else out.splice(i, 1);
      }
      return Uint8Array.from(out);
    };
    const trust = await parseTrust(fixture.trust);
    const c = caseOf('ed25519-x25519');
    const req = asClient(c.request);
    const st = b64(req.approval.statement);
    for (let n = 0; n < 1500; n++) {
      const m = mutate(st);
      if (Buffer.from(m).equals(st)) continue; // a mutation that undid itself
      try {
        parseStatement(m);
      } catch (e) {
        assert.ok(e instanceof ApprovalVerificationError, `parseStatement threw ${e}`);
      }
      await assert.rejects(verifyApproval(trust, { ...req, approval: { ...req.approval, statement: Buffer.from(m).toString('base64') } }, c.public_key), ApprovalVerificationError);
      const text = new TextDecoder().decode(mutate(new TextEncoder().encode(JSON.stringify(fixture.trust))));
      try {
        await parseTrust(text);
      } catch (e) {
        assert.ok(e instanceof ValidationError, `parseTrust threw ${e}`);
      }
    }
    for (const approval of [null, {}, { statement: 42 }, { statement: '%%' }, { ...req.approval, signature: '%%' }, { ...req.approval, method: 'webauthn', keyId: fixture.trust.keys[1].key_id, signature: Buffer.from('{"rawId":1}').toString('base64') }]) {
      await assert.rejects(verifyApproval(trust, { ...req, approval }, c.public_key), ApprovalVerificationError);
    }
  });

  it('parseTrust refuses what Go\'s approval.ParseTrust refuses', async () => {
    const t = fixture.trust;
    const [ed, pk] = t.keys;
    for (const [why, bad] of [
      ['not JSON', '{'],
      ['no owner', { ...t, owner_id: '' }],
      ['key id of another key', { ...t, keys: [{ ...ed, key_id: 'ed25519:AAAA' }] }],
      ['short key', { ...t, keys: [{ ...ed, public_key: 'AAAA' }] }],
      ['not base64', { ...t, keys: [{ ...ed, public_key: '!!' }] }],
      ['unknown method', { ...t, keys: [{ ...ed, method: 'rsa' }] }],
      ['passkey without relying party', { ...t, rp_id: '', keys: [pk] }],
      ['passkey key id', { ...t, keys: [{ ...pk, key_id: 'webauthn:AAAA' }] }],
      ['passkey without key', { ...t, keys: [{ ...pk, credential: { ...pk.credential, publicKey: '' } }] }],
    ]) {
      await assert.rejects(parseTrust(bad), ValidationError, why);
    }
    assert.deepEqual((await parseTrust({ owner_id: 'own_x', keys: [] })).keys, []);
  });
});

describe('verifyApproval against a real relay and the real CLI', { skip: skipReason }, () => {
  let relay;
  let keyFile;
  const cli = (...args) => execFileSync(process.env.AGENTOTP_BIN, [...args, '--server', relay.url, '--data', relay.dir], { encoding: 'utf8', env: { PATH: process.env.PATH } });
  before(async () => {
    relay = await startRelay();
    keyFile = join(relay.dir, 'owner-signing.pem');
    cli('owner', 'keygen', '--out', keyFile, '--name', 'ts tests');
  });
  after(() => relay?.close());

  async function ask(otp) {
    const { publicKey } = await generateKeyPair('x25519');
    const r = await otp.requestOTP({ reason: 'Sign up for Acme', publicKey: await exportPublicKey(publicKey), filter: { sources: ['email'], senderPattern: '*@acme.example' } });
    return { id: r.id, publicKey };
  }

  it('a CLI-signed approval verifies; the refusals are refused', async () => {
    const trust = await parseTrust(await relay.owner('GET', '/v1/owner/trust'));
    assert.equal(trust.keys.length, 1);
    assert.equal(trust.keys[0].method, 'ed25519');
    const agent = await relay.createAgent(false);
    const otp = new AgentOTPClient({ apiKey: agent.apiKey, baseUrl: relay.url, maxRetries: 0 });

    const signed = await ask(otp);
    cli('approve', signed.id, '--sign-key', keyFile);
    const got = await otp.getOTPStatus(signed.id);
    assert.equal(got.approval.method, 'ed25519');
    assert.equal(got.approval.keyId, trust.keys[0].keyId);
    const s = await verifyApproval(trust, got, signed.publicKey);
    assert.equal(s.ownerId, trust.ownerId);
    assert.equal(s.agentId, agent.id);

    // Unsigned: the owner token alone.
    const plain = await ask(otp);
    await relay.approve(plain.id);
    const unsigned = await otp.getOTPStatus(plain.id);
    assert.equal(unsigned.approval.method, 'none');
    await assert.rejects(verifyApproval(trust, unsigned, plain.publicKey), refused(/signing method "none"/));

    // Another agent key than the one the owner approved.
    const { publicKey: other } = await generateKeyPair('x25519');
    await assert.rejects(verifyApproval(trust, got, other), refused(/not this agent's key/));
    const { publicKey: rsa } = await generateKeyPair('rsa');
    await assert.rejects(verifyApproval(trust, got, rsa), refused(/not this agent's key/));

    // A tampered statement: one byte of another agent id.
    const st = Buffer.from(got.approval.statement, 'base64').toString().replace(agent.id, agent.id.slice(0, -1) + (agent.id.endsWith('a') ? 'b' : 'a'));
    await assert.rejects(verifyApproval(trust, { ...got, approval: { ...got.approval, statement: Buffer.from(st).toString('base64') } }, signed.publicKey), refused(/signature does not verify/));

    // A key the agent did not pin, and a trust file of another owner.
    await assert.rejects(verifyApproval({ ...trust, keys: [] }, got, signed.publicKey), refused(/not one of the owner's pinned keys/));
    await assert.rejects(verifyApproval({ ...trust, ownerId: 'own_someoneelse' }, got, signed.publicKey), refused(/not the pinned owner/));

    // The statement of one request presented on another.
    await assert.rejects(verifyApproval(trust, { ...unsigned, approval: got.approval }, signed.publicKey), refused(/about request/));
    await assert.rejects(verifyApproval(trust, { ...got, agentId: 'agt_other' }, signed.publicKey), refused(/about agent/));

    // A signed denial is the owner's word, but not an approval.
    const denied = await ask(otp);
    cli('deny', denied.id, '--sign-key', keyFile);
    const d = await otp.getOTPStatus(denied.id);
    assert.equal(d.approval.method, 'ed25519');
    await assert.rejects(verifyApproval(trust, d, denied.publicKey), refused(/statement says deny/));

    // A pending request carries none.
    const pending = await ask(otp);
    await assert.rejects(verifyApproval(trust, await otp.getOTPStatus(pending.id), pending.publicKey), refused(/carries no approval \(status pending_approval\)/));
  });
});
