// Key kinds round-trip through a real relay: the relay seals, the SDK
// opens. Also: keys move between the SDK and the relay's own CLI
// (`agentotp keygen`), and an HPKE payload is bound to its request.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  AgentOTPClient,
  DecryptionError,
  Encryption,
  decryptOTPPayload,
  exportPrivateKey,
  exportPublicKey,
  fingerprint,
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
} from '../dist/index.js';
import { skipReason, startRelay } from './relay.mjs';

const kinds = [
  { alg: 'rsa', encryption: Encryption.RSA_OAEP_256_BOUND, includeMessage: false },
  { alg: 'x25519', encryption: Encryption.HPKE_X25519, includeMessage: true },
  { alg: 'mlkem768x25519', encryption: Encryption.HPKE_MLKEM768X25519, includeMessage: true },
];

describe('key kinds against the relay', { skip: skipReason }, () => {
  let relay;
  let otp;
  before(async () => {
    relay = await startRelay();
    const agent = await relay.createAgent(true);
    otp = new AgentOTPClient({ apiKey: agent.apiKey, baseUrl: relay.url, maxRetries: 0 });
  });
  after(() => relay?.close());

  for (const k of kinds) {
    it(`${k.alg}: request, message, consume${k.includeMessage ? ' with includeMessage' : ''}`, async () => {
      const { publicKey, privateKey } = await generateKeyPair(k.alg);
      const request = await otp.requestOTP({
        reason: `round-trip ${k.alg}`,
        publicKey: await exportPublicKey(publicKey),
        filter: { sources: ['email'], senderPattern: '*@acme.example', contentPattern: `ref-${k.alg}` },
        includeMessage: k.includeMessage,
      });
      assert.equal(request.encryption, k.encryption);
      assert.equal(request.publicKeyFingerprint, await fingerprint(publicKey));
      assert.equal(request.status, 'approved');
      const text = `Your Acme code is 739204 (ref-${k.alg}). Ünïcode ✓`;
      const sent = await otp.sendTestMessage({ source: 'email', sender: 'noreply@acme.example', subject: 'Your code', text });
      assert.equal(sent.matched, true);
      const ready = await otp.waitForOTP(request.id, { timeout: 10_000 });
      assert.equal(ready.status, 'otp_received');
      assert.equal(ready.metadata.sender, 'noreply@acme.example');
      const res = await otp.consumeOTP(request.id, privateKey);
      assert.equal(res.code, '739204');
      assert.equal(res.encryption, k.encryption);
      assert.equal(res.metadata.source, 'email');
      if (k.includeMessage) {
        assert.equal(res.fullMessage, `Subject: Your code\n\n${text}`);
      } else {
        assert.equal(res.fullMessage, undefined);
      }
      assert.equal((await otp.getOTPStatus(request.id)).status, 'consumed');
    });
  }

  for (const k of kinds) {
    it(`${k.alg}: a payload sealed for request A does not open as request B`, async () => {
      const { publicKey, privateKey } = await generateKeyPair(k.alg);
      const pk = await exportPublicKey(publicKey);
      const a = await otp.requestOTP({ reason: 'binding A', publicKey: pk, includeMessage: k.includeMessage });
      const b = await otp.requestOTP({ reason: 'binding B', publicKey: pk });
      const res = await otp.consumeOTP(a.id, privateKey);
      assert.equal(await decryptOTPPayload(res.encryptedPayload, privateKey, a.id, a.encryption), res.code);
      await assert.rejects(decryptOTPPayload(res.encryptedPayload, privateKey, b.id, b.encryption), DecryptionError);
      if (k.includeMessage) await assert.rejects(decryptOTPPayload(res.encryptedContent, privateKey, b.id, b.encryption), DecryptionError);
      await assert.rejects(decryptOTPPayload(res.encryptedPayload, privateKey, undefined, a.encryption), DecryptionError);
      await otp.cancelOTPRequest(b.id);
    });
  }

  it('rsa with { bound: false }: the guide\'s plain RSA-OAEP-256 still works', async () => {
    const { publicKey, privateKey } = await generateKeyPair('rsa');
    const pk = await exportPublicKey(publicKey, { bound: false });
    assert.doesNotMatch(pk, /:/);
    const request = await otp.requestOTP({ reason: 'plain rsa', publicKey: pk });
    assert.equal(request.encryption, Encryption.RSA_OAEP_256);
    const res = await otp.consumeOTP(request.id, privateKey);
    assert.match(res.code, /^\d{6}$/);
    assert.equal(await decryptOTPPayload(res.encryptedPayload, privateKey), res.code);
  });

  for (const k of kinds) {
    it(`${k.alg}: export and import keep the key working`, async () => {
      const { publicKey, privateKey } = await generateKeyPair(k.alg);
      const pem = await exportPrivateKey(privateKey);
      const again = await importPrivateKey(pem);
      const pk = await exportPublicKey(publicKey);
      assert.equal(await exportPublicKey(await importPublicKey(pk)), pk);
      const request = await otp.requestOTP({ reason: `import ${k.alg}`, publicKey: pk });
      const res = await otp.consumeOTP(request.id, again);
      assert.match(res.code, /^\d+$/);
    });
  }

  for (const k of kinds) {
    it(`${k.alg}: a key written by \`agentotp keygen\` imports and consumes`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'keygen-'));
      const out = join(dir, 'key.pem');
      const pub = execFileSync(process.env.AGENTOTP_BIN, ['keygen', '--alg', k.alg, '--out', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
      const priv = await importPrivateKey(readFileSync(out, 'utf8'));
      const request = await otp.requestOTP({ reason: `keygen ${k.alg}`, publicKey: pub });
      assert.equal(request.encryption, k.encryption);
      const res = await otp.consumeOTP(request.id, priv);
      assert.match(res.code, /^\d+$/);
    });
  }

  it('non-extractable keys made by the SDK still consume', async () => {
    const { publicKey, privateKey } = await generateKeyPair('x25519', { extractable: false });
    assert.equal(privateKey.extractable, false);
    const request = await otp.requestOTP({ reason: 'non-extractable', publicKey: await exportPublicKey(publicKey) });
    assert.match((await otp.consumeOTP(request.id, privateKey)).code, /^\d+$/);
  });
});

describe('keys without a relay', () => {
  it('PKCS #1 RSA keys import (openssl genrsa -traditional)', async () => {
    let pem;
    try {
      pem = execFileSync('openssl', ['genrsa', '-traditional', '2048'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    } catch {
      if (process.env.CI === 'true') throw new Error('openssl is missing (CI=true)');
      return; // openssl missing: nothing to cross-check against
    }
    assert.match(pem, /BEGIN RSA PRIVATE KEY/);
    const key = await importPrivateKey(pem);
    assert.equal(key.algorithm.name, 'RSA-OAEP');
  });

  it('RSA payloads from openssl pkeyutl decrypt', async () => {
    const { publicKey, privateKey } = await generateKeyPair();
    const dir = mkdtempSync(join(tmpdir(), 'ossl-'));
    const pubPem = `-----BEGIN PUBLIC KEY-----\n${(await exportPublicKey(publicKey, { bound: false })).replace(/.{1,64}/g, '$&\n')}-----END PUBLIC KEY-----\n`;
    let ct;
    try {
      const { writeFileSync } = await import('node:fs');
      writeFileSync(join(dir, 'pub.pem'), pubPem);
      writeFileSync(join(dir, 'msg'), '551233');
      ct = execFileSync('openssl', ['pkeyutl', '-encrypt', '-pubin', '-inkey', join(dir, 'pub.pem'), '-in', join(dir, 'msg'),
        '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256']);
    } catch (e) {
      if (process.env.CI === 'true') throw e;
      return;
    }
    assert.equal(await decryptOTPPayload(ct.toString('base64'), privateKey), '551233');
    // The bound form: openssl's rsa_oaep_label is the hex of "agentotp/v1:" + request id.
    const label = Buffer.from('agentotp/v1:otp_3kQ9zX2mB7').toString('hex');
    const bound = execFileSync('openssl', ['pkeyutl', '-encrypt', '-pubin', '-inkey', join(dir, 'pub.pem'), '-in', join(dir, 'msg'),
      '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', 'rsa_oaep_md:sha256', '-pkeyopt', 'rsa_mgf1_md:sha256', '-pkeyopt', `rsa_oaep_label:${label}`]);
    assert.equal(await decryptOTPPayload(bound.toString('base64'), privateKey, 'otp_3kQ9zX2mB7', Encryption.RSA_OAEP_256_BOUND), '551233');
    await assert.rejects(decryptOTPPayload(bound.toString('base64'), privateKey, 'otp_other', Encryption.RSA_OAEP_256_BOUND), DecryptionError);
    // A plain payload does not open as the bound form.
    await assert.rejects(decryptOTPPayload(ct.toString('base64'), privateKey, 'otp_3kQ9zX2mB7', Encryption.RSA_OAEP_256_BOUND), DecryptionError);
  });

  it('refuses junk with clear errors', async () => {
    await assert.rejects(generateKeyPair('dsa'), /unknown key algorithm/);
    await assert.rejects(importPublicKey('not base64!'), /public_key: not valid base64/);
    await assert.rejects(importPrivateKey('nothing here'), /no PEM block/);
    const { privateKey } = await generateKeyPair('x25519');
    await assert.rejects(decryptOTPPayload('AAAA', privateKey, 'otp_x'), DecryptionError);
  });
});
