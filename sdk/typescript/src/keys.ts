// Agent key pairs and decryption of the sealed code. RSA-OAEP-256 and HPKE
// X25519 use WebCrypto keys; the ML-KEM-768+X25519 (X-Wing) keys are the
// CryptoKey-shaped keys of @hpke/hybridkem-x-wing, since WebCrypto has no
// ML-KEM. The wire encodings are those of the relay's docs/api.md.
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from '@hpke/core';
import { Chacha20Poly1305 } from '@hpke/chacha20poly1305';
import { XWing } from '@hpke/hybridkem-x-wing';

import { DecryptionError, ValidationError } from './errors.js';
import {
  derAlgorithmOID,
  fromBase64,
  fromPEM,
  OID_RSA,
  OID_X25519,
  pkcs1ToPkcs8,
  toBase64,
  toBase64Raw,
  toPEM,
} from './encoding.js';

/** The encryption algorithms, named as in the API's `encryption` field. */
export const Encryption = {
  RSA_OAEP_256: 'RSA-OAEP-256',
  /** RSA-OAEP-256 with the OAEP label "agentotp/v1:" + request id: what exportPublicKey asks for with an RSA key. */
  RSA_OAEP_256_BOUND: 'RSA-OAEP-256-BOUND',
  HPKE_X25519: 'HPKE-X25519-SHA256-CHACHA20POLY1305',
  HPKE_MLKEM768X25519: 'HPKE-MLKEM768X25519-SHA256-CHACHA20POLY1305',
} as const;
/** One of the {@link Encryption} values. */
export type Encryption = (typeof Encryption)[keyof typeof Encryption];

/**
 * What generateKeyPair makes: `'rsa'` (RSA-OAEP-2048 with SHA-256, the
 * default), `'x25519'` or `'mlkem768x25519'`, or an {@link Encryption} name.
 */
export type KeyAlgorithm = 'rsa' | 'x25519' | 'mlkem768x25519' | Encryption;

/** A key pair of an agent. */
export interface KeyPair {
  publicKey: CryptoKey;
  privateKey: CryptoKey;
}

/** Options of generateKeyPair. */
export interface GenerateKeyPairOptions {
  /**
   * Whether the private key may be exported (exportPrivateKey). Default
   * true. A non-extractable RSA or X25519 key still works with consumeOTP
   * in the session that made it. ML-KEM keys are always extractable.
   */
  extractable?: boolean;
  /** RSA modulus length, 2048 (default) to 4096. */
  modulusLength?: number;
}

const HYBRID_PREFIX = 'mlkem768x25519:';
const BOUND_RSA_PREFIX = 'rsa-oaep-256-bound:';
const INFO_PREFIX = 'agentotp/v1:';
const XWING_NAME = 'X-Wing';
const RSA_PARAMS = { name: 'RSA-OAEP', hash: 'SHA-256' } as const;

const subtle = (): SubtleCrypto => {
  const s = globalThis.crypto?.subtle;
  if (!s) throw new ValidationError('WebCrypto (crypto.subtle) is not available: use Node 20+ or a page served over HTTPS or from localhost');
  return s;
};

// The public half of each private key this SDK made or imported, so that
// consumeOTP can check a key against the request before consuming, even
// when the private key is not extractable.
const publicOf = new WeakMap<CryptoKey, CryptoKey>();

let xwing: XWing | undefined;
const xwingKEM = (): XWing => (xwing ??= new XWing());

function normalizeAlgorithm(alg: KeyAlgorithm | undefined): Encryption {
  switch (alg === undefined ? 'rsa' : String(alg).toLowerCase()) {
    case 'rsa':
    case 'rsa-oaep':
    case 'rsa-oaep-256':
    case 'rsa-oaep-256-bound':
      return Encryption.RSA_OAEP_256;
    case 'x25519':
    case Encryption.HPKE_X25519.toLowerCase():
      return Encryption.HPKE_X25519;
    case 'mlkem768x25519':
    case 'x-wing':
    case Encryption.HPKE_MLKEM768X25519.toLowerCase():
      return Encryption.HPKE_MLKEM768X25519;
  }
  throw new ValidationError(`unknown key algorithm ${JSON.stringify(alg)}; use 'rsa', 'x25519' or 'mlkem768x25519'`);
}

/** The encryption a key (public or private) is for. */
export function keyEncryption(key: CryptoKey): Encryption {
  const name = key?.algorithm?.name;
  if (name === 'RSA-OAEP') return Encryption.RSA_OAEP_256;
  if (name === 'X25519') return Encryption.HPKE_X25519;
  if (name === XWING_NAME) return Encryption.HPKE_MLKEM768X25519;
  throw new ValidationError(`unsupported key ${name === undefined ? '(not a CryptoKey)' : name}; use generateKeyPair or importPrivateKey`);
}

/**
 * Makes a key pair, once per agent session. With no argument it is
 * RSA-OAEP-2048 (SHA-256), as in the integration guide; `'x25519'` and
 * `'mlkem768x25519'` make HPKE keys (smaller, faster, and the only ones
 * that can carry `includeMessage`).
 */
export async function generateKeyPair(alg?: KeyAlgorithm, options: GenerateKeyPairOptions = {}): Promise<KeyPair> {
  const enc = normalizeAlgorithm(alg);
  const extractable = options.extractable ?? true;
  let pair: KeyPair;
  switch (enc) {
    case Encryption.RSA_OAEP_256:
    case Encryption.RSA_OAEP_256_BOUND: {
      const bits = options.modulusLength ?? 2048;
      if (!Number.isInteger(bits) || bits < 2048 || bits > 4096) {
        throw new ValidationError('modulusLength: the relay takes RSA keys of 2048 to 4096 bits');
      }
      pair = (await subtle().generateKey(
        { ...RSA_PARAMS, modulusLength: bits, publicExponent: new Uint8Array([1, 0, 1]) },
        extractable,
        ['encrypt', 'decrypt'],
      )) as CryptoKeyPair;
      break;
    }
    case Encryption.HPKE_X25519:
      pair = (await subtle().generateKey({ name: 'X25519' }, extractable, ['deriveBits'])) as CryptoKeyPair;
      break;
    case Encryption.HPKE_MLKEM768X25519:
      pair = await xwingKEM().generateKeyPair();
      break;
  }
  publicOf.set(pair.privateKey, pair.publicKey);
  return { publicKey: pair.publicKey, privateKey: pair.privateKey };
}

/** The canonical bytes of a public key: DER SPKI, or the raw hybrid key. */
async function publicKeyBytes(key: CryptoKey): Promise<Uint8Array> {
  if (key.type !== 'public') throw new ValidationError('exportPublicKey: this is not a public key');
  switch (keyEncryption(key)) {
    case Encryption.RSA_OAEP_256:
    case Encryption.RSA_OAEP_256_BOUND:
    case Encryption.HPKE_X25519:
      return new Uint8Array(await subtle().exportKey('spki', key));
    case Encryption.HPKE_MLKEM768X25519:
      return new Uint8Array(await xwingKEM().serializePublicKey(key));
  }
}

/** Options of exportPublicKey. */
export interface ExportPublicKeyOptions {
  /**
   * For an RSA key: ask for the request-bound form (default true), where
   * the relay seals with the OAEP label "agentotp/v1:" + request id so
   * that a ciphertext of one request cannot be passed off as another's.
   * `false` gives the integration guide's plain form (empty label), for a
   * consumer that decrypts with plain WebCrypto RSA-OAEP.
   */
  bound?: boolean;
}

/**
 * The public key in the form the relay's `public_key` field takes: for
 * RSA `rsa-oaep-256-bound:` and base64 of the DER SubjectPublicKeyInfo
 * (encryption RSA-OAEP-256-BOUND; `{ bound: false }`: the plain base64,
 * RSA-OAEP-256), for X25519 base64 of the DER, for ML-KEM-768+X25519
 * `mlkem768x25519:` and base64 of the raw 1216-byte hybrid key.
 */
export async function exportPublicKey(key: CryptoKey, options: ExportPublicKeyOptions = {}): Promise<string> {
  const bytes = await publicKeyBytes(key);
  switch (keyEncryption(key)) {
    case Encryption.HPKE_MLKEM768X25519:
      return HYBRID_PREFIX + toBase64(bytes);
    case Encryption.RSA_OAEP_256:
      return options.bound === false ? toBase64(bytes) : BOUND_RSA_PREFIX + toBase64(bytes);
    default:
      return toBase64(bytes);
  }
}

/** Reads a public key in the `public_key` form (what exportPublicKey writes). */
export async function importPublicKey(text: string): Promise<CryptoKey> {
  const s = text.trim();
  try {
    if (s.toLowerCase().startsWith(HYBRID_PREFIX)) {
      const raw = fromBase64(s.slice(HYBRID_PREFIX.length));
      if (raw.length !== 1216) throw new Error(`a hybrid key is 1216 bytes, not ${raw.length}`);
      return await xwingKEM().deserializePublicKey(raw.buffer);
    }
    const bound = s.toLowerCase().startsWith(BOUND_RSA_PREFIX);
    const der = fromBase64(bound ? s.slice(BOUND_RSA_PREFIX.length) : s);
    const oid = derAlgorithmOID(der, false);
    if (bound && oid !== OID_RSA) throw new Error(`the "${BOUND_RSA_PREFIX}" prefix is for RSA keys`);
    if (oid === OID_RSA) return await subtle().importKey('spki', der, RSA_PARAMS, true, ['encrypt']);
    if (oid === OID_X25519) return await subtle().importKey('spki', der, { name: 'X25519' }, true, []);
    throw new Error(oid ? `unsupported key type (OID ${oid})` : 'not a DER SubjectPublicKeyInfo');
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw new ValidationError(`public_key: ${(e as Error).message}`, [{ field: 'public_key', message: (e as Error).message }], { cause: e });
  }
}

/**
 * The private key as PEM, in the same forms as the relay's CLI
 * (`agentotp keygen`) and Go SDK: PKCS #8 "PRIVATE KEY" for RSA and X25519,
 * and an "AGENTOTP MLKEM768X25519 PRIVATE KEY" block holding the 32-byte
 * seed for ML-KEM-768+X25519. Keep it secret.
 */
export async function exportPrivateKey(key: CryptoKey): Promise<string> {
  if (key.type !== 'private') throw new ValidationError('exportPrivateKey: this is not a private key');
  if (!key.extractable) throw new ValidationError('exportPrivateKey: the key was made non-extractable');
  switch (keyEncryption(key)) {
    case Encryption.RSA_OAEP_256:
    case Encryption.RSA_OAEP_256_BOUND:
    case Encryption.HPKE_X25519:
      return toPEM('PRIVATE KEY', new Uint8Array(await subtle().exportKey('pkcs8', key)));
    case Encryption.HPKE_MLKEM768X25519:
      return toPEM('AGENTOTP MLKEM768X25519 PRIVATE KEY', new Uint8Array(await xwingKEM().serializePrivateKey(key)));
  }
}

/** Options of importPrivateKey. */
export interface ImportPrivateKeyOptions {
  /** Whether the imported RSA or X25519 key may be exported again (default true). */
  extractable?: boolean;
}

/**
 * Reads a PEM private key: what exportPrivateKey or `agentotp keygen`
 * writes, an openssl PKCS #8 key, or a PKCS #1 "RSA PRIVATE KEY".
 */
export async function importPrivateKey(pem: string, options: ImportPrivateKeyOptions = {}): Promise<CryptoKey> {
  const extractable = options.extractable ?? true;
  let block: { type: string; der: Uint8Array<ArrayBuffer> };
  try {
    block = fromPEM(pem);
  } catch (e) {
    throw new ValidationError(`private key: ${(e as Error).message}`, [], { cause: e });
  }
  try {
    switch (block.type) {
      case 'AGENTOTP MLKEM768X25519 PRIVATE KEY': {
        if (block.der.length !== 32) throw new Error(`the seed is 32 bytes, not ${block.der.length}`);
        const pair = await xwingKEM().generateKeyPairDerand(block.der);
        publicOf.set(pair.privateKey, pair.publicKey);
        return pair.privateKey;
      }
      case 'RSA PRIVATE KEY':
        return await importPKCS8(pkcs1ToPkcs8(block.der), OID_RSA, extractable);
      case 'PRIVATE KEY':
        return await importPKCS8(block.der, derAlgorithmOID(block.der, true), extractable);
      case 'ENCRYPTED PRIVATE KEY':
        throw new Error('encrypted PEM is not supported; decrypt it first (openssl pkey -in key.pem -out plain.pem)');
    }
    throw new Error(`unsupported PEM block "${block.type}"`);
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw new ValidationError(`private key: ${(e as Error).message}`, [], { cause: e });
  }
}

async function importPKCS8(der: Uint8Array<ArrayBuffer>, oid: string | undefined, extractable: boolean): Promise<CryptoKey> {
  if (oid === OID_RSA) {
    // Import extractable once to recover the public half, then as asked.
    const full = await subtle().importKey('pkcs8', der, RSA_PARAMS, true, ['decrypt']);
    const jwk = await subtle().exportKey('jwk', full);
    const pub = await subtle().importKey('jwk', { kty: 'RSA', n: jwk.n, e: jwk.e, alg: 'RSA-OAEP-256', ext: true }, RSA_PARAMS, true, ['encrypt']);
    const key = extractable ? full : await subtle().importKey('pkcs8', der, RSA_PARAMS, false, ['decrypt']);
    publicOf.set(key, pub);
    return key;
  }
  if (oid === OID_X25519) {
    const full = await subtle().importKey('pkcs8', der, { name: 'X25519' }, true, ['deriveBits']);
    const jwk = await subtle().exportKey('jwk', full);
    const pub = await subtle().importKey('jwk', { kty: 'OKP', crv: 'X25519', x: jwk.x }, { name: 'X25519' }, true, []);
    const key = extractable ? full : await subtle().importKey('pkcs8', der, { name: 'X25519' }, false, ['deriveBits']);
    publicOf.set(key, pub);
    return key;
  }
  throw new Error(oid ? `unsupported key type (OID ${oid}); use RSA, X25519 or ML-KEM-768+X25519` : 'not a PKCS #8 key');
}

/** The public key of a private key, or undefined when it cannot be known. */
export async function publicKeyOf(privateKey: CryptoKey): Promise<CryptoKey | undefined> {
  const known = publicOf.get(privateKey);
  if (known) return known;
  if (privateKey.type !== 'private') return undefined;
  const enc = keyEncryption(privateKey);
  if (enc === Encryption.HPKE_MLKEM768X25519) {
    const seed = new Uint8Array(await xwingKEM().serializePrivateKey(privateKey));
    const pair = await xwingKEM().generateKeyPairDerand(seed);
    publicOf.set(privateKey, pair.publicKey);
    return pair.publicKey;
  }
  if (!privateKey.extractable) return undefined;
  const jwk = await subtle().exportKey('jwk', privateKey);
  const pub =
    enc === Encryption.RSA_OAEP_256
      ? await subtle().importKey('jwk', { kty: 'RSA', n: jwk.n, e: jwk.e, alg: 'RSA-OAEP-256', ext: true }, RSA_PARAMS, true, ['encrypt'])
      : await subtle().importKey('jwk', { kty: 'OKP', crv: 'X25519', x: jwk.x }, { name: 'X25519' }, true, []);
  publicOf.set(privateKey, pub);
  return pub;
}

/**
 * The fingerprint of a public key, as the relay's `public_key_fingerprint`:
 * "SHA256:" and unpadded base64 of SHA-256 of the canonical key bytes.
 */
export async function fingerprint(publicKey: CryptoKey): Promise<string> {
  const bytes = await publicKeyBytes(publicKey);
  const digest = new Uint8Array(await subtle().digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
  return 'SHA256:' + toBase64Raw(digest);
}

function hpkeSuite(enc: Encryption): CipherSuite {
  return new CipherSuite({
    kem: enc === Encryption.HPKE_X25519 ? new DhkemX25519HkdfSha256() : xwingKEM(),
    kdf: new HkdfSha256(),
    aead: new Chacha20Poly1305(),
  });
}

const ENC_SIZE = { [Encryption.HPKE_X25519]: 32, [Encryption.HPKE_MLKEM768X25519]: 1120 } as const;

/**
 * Opens a base64 `encrypted_payload` (or `encrypted_content`) with the
 * agent's private key. HPKE payloads are bound to their request, so
 * `requestId` is required for them. An RSA payload is opened in the form
 * `encryption` names (the request's `encryption`): RSA-OAEP-256-BOUND
 * with the label "agentotp/v1:" + `requestId`, which a plain payload does
 * not pass; RSA-OAEP-256 (the default) with none. Throws DecryptionError.
 */
export async function decryptOTPPayload(encryptedPayload: string, privateKey: CryptoKey, requestId?: string, encryption?: string): Promise<string> {
  let enc: Encryption;
  try {
    enc = keyEncryption(privateKey);
  } catch (e) {
    throw new DecryptionError((e as Error).message, { cause: e, requestId });
  }
  if (privateKey.type !== 'private') throw new DecryptionError('decryption needs the private key, not the public one', { requestId });
  let ct: Uint8Array<ArrayBuffer>;
  try {
    ct = fromBase64(encryptedPayload);
  } catch (e) {
    throw new DecryptionError(`the payload is ${(e as Error).message}`, { cause: e, requestId });
  }
  try {
    if (enc === Encryption.RSA_OAEP_256) {
      if (encryption !== undefined && encryption !== Encryption.RSA_OAEP_256 && encryption !== Encryption.RSA_OAEP_256_BOUND) {
        throw new Error(`an RSA key does not open ${encryption}`);
      }
      if (encryption === Encryption.RSA_OAEP_256_BOUND) {
        if (!requestId) throw new Error('an RSA-OAEP-256-BOUND payload opens only with the id of its request');
        const label = new TextEncoder().encode(INFO_PREFIX + requestId);
        return new TextDecoder('utf-8', { fatal: true }).decode(await subtle().decrypt({ name: 'RSA-OAEP', label }, privateKey, ct));
      }
      return new TextDecoder('utf-8', { fatal: true }).decode(await subtle().decrypt({ name: 'RSA-OAEP' }, privateKey, ct));
    }
    if (encryption !== undefined && encryption !== enc) throw new Error(`a ${enc} key does not open ${encryption}`);
    if (!requestId) throw new Error('an HPKE payload opens only with the id of its request');
    const size = ENC_SIZE[enc as keyof typeof ENC_SIZE];
    if (ct.length < size + 16) throw new Error(`the payload is ${ct.length} bytes, too short for ${enc}`);
    const pub = await publicKeyOf(privateKey);
    const recipientKey = pub ? { privateKey, publicKey: pub } : privateKey;
    const pt = await hpkeSuite(enc).open(
      { recipientKey, enc: ct.slice(0, size).buffer, info: new TextEncoder().encode(INFO_PREFIX + requestId).buffer },
      ct.slice(size).buffer,
    );
    return new TextDecoder('utf-8', { fatal: true }).decode(pt);
  } catch (e) {
    const why = e instanceof Error && e.message ? `: ${e.message}` : '';
    throw new DecryptionError(`cannot decrypt the payload with this private key (${enc})${why}; check that it is the key of the request's public key`, {
      cause: e,
      requestId,
    });
  }
}
