// Verifying the owner's signed approval of a request against the owner's
// pinned keys (a trust file), with the semantics of the Go SDK's
// client.VerifyApproval and package approval. See docs/design.md,
// "Approval statements".

import { AgentOTPError, ValidationError } from './errors.js';
import { concatBytes, fromBase64, toBase64 } from './encoding.js';
import { fingerprint, importPublicKey, keyEncryption } from './keys.js';

/** How a statement was signed, as the request's `approval.method` says. */
export const ApprovalMethod = {
  /** An owner signing key (`agentotp owner keygen`; CLI approvals). */
  ED25519: 'ed25519',
  /** One of the owner's passkeys, in the dashboard. */
  WEBAUTHN: 'webauthn',
  /** No owner key signed it: the owner token alone, Telegram or a policy. */
  NONE: 'none',
} as const;
/** One of the {@link ApprovalMethod} values. */
export type ApprovalMethod = (typeof ApprovalMethod)[keyof typeof ApprovalMethod];

/**
 * A decided request's `approval` member, as the client returns it: the
 * canonical statement bytes and the signature, both base64.
 */
export interface SignedApproval {
  statement: string;
  method: ApprovalMethod | string;
  keyId?: string;
  signature?: string;
}

/** A WebAuthn credential record as the trust file pins it (go-webauthn's JSON). */
export interface PasskeyCredential {
  /** The credential id, base64. */
  id: string;
  /** The COSE public key, base64. */
  publicKey: string;
  flags?: { userPresent?: boolean; userVerified?: boolean; backupEligible?: boolean; backupState?: boolean };
  [extra: string]: unknown;
}

/** One owner public key of a trust file. */
export interface TrustedKey {
  keyId: string;
  method: ApprovalMethod | string;
  /** The raw 32-byte Ed25519 key, base64 (method ed25519). */
  publicKey?: string;
  /** The passkey's credential record (method webauthn). */
  credential?: PasskeyCredential;
  name?: string;
}

/** What an agent pins about its owner: `GET /v1/owner/trust`, `agentotp owner trust`. */
export interface OwnerTrust {
  ownerId: string;
  /** The relying party passkeys were made for (the dashboard's host). */
  rpId?: string;
  origins?: string[];
  keys: TrustedKey[];
}

/** The owner's decision on one request, as its canonical bytes state it. */
export interface ApprovalStatement {
  v: number;
  requestId: string;
  ownerId: string;
  agentId: string;
  keyFingerprint: string;
  encryption: string;
  filter: { sources: string[]; senderPattern: string; contentPattern: string; receivedAfter: string };
  includeMessage: boolean;
  expiresAt: string;
  /** `'approve'` or `'deny'`. */
  decision: string;
  decidedAt: string;
}

/** The request members verifyApproval reads (an OTPRequest has them). */
export interface ApprovedRequest {
  id: string;
  agentId: string;
  status?: string;
  approval?: SignedApproval | null;
}

/**
 * Thrown by verifyApproval: the request was not shown to be approved by its
 * owner. The message says why.
 */
export class ApprovalVerificationError extends AgentOTPError {}

const ED25519_CONTEXT = 'agentotp approval statement v1\x00';
const PASSKEY_CONTEXT = 'agentotp approval statement v1 passkey\x00';
/** The bounds of package approval: MaxStatementLen and MaxAssertionLen. */
const MAX_STATEMENT_LEN = 8 << 10;
const MAX_ASSERTION_LEN = 16 << 10;

const utf8 = new TextEncoder();

function b64url(bytes: Uint8Array): string {
  return toBase64(bytes).replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
}

/** base64 as Go writes []byte; raw is what failed, for the message. */
function bytesOf(s: unknown, what: string): Uint8Array<ArrayBuffer> {
  if (typeof s !== 'string') throw new ValidationError(`${what} is not a base64 string`);
  try {
    return fromBase64(s);
  } catch {
    throw new ValidationError(`${what} is not valid base64`);
  }
}

async function sha256(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/** "ed25519:" and the base64url SHA-256 of the raw public key (approval.KeyID). */
export async function signingKeyId(rawPublicKey: Uint8Array): Promise<string> {
  return 'ed25519:' + b64url(await sha256(rawPublicKey));
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A member of a JSON object by its wire (snake_case) or client (camelCase) name. */
function member(o: Record<string, unknown>, snake: string): unknown {
  if (snake in o) return o[snake];
  return o[snake.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())];
}

/**
 * Reads and checks a trust file (its JSON text, or the parsed object in its
 * wire form or camelCase) like Go's approval.ParseTrust: an owner id, and
 * every key well formed and named by its key id. Throws ValidationError.
 */
export async function parseTrust(trust: string | Record<string, unknown> | OwnerTrust): Promise<OwnerTrust> {
  let raw: unknown = trust;
  if (typeof trust === 'string') {
    try {
      raw = JSON.parse(trust);
    } catch (e) {
      throw new ValidationError(`trust file: ${(e as Error).message}`);
    }
  }
  if (!isRecord(raw)) throw new ValidationError('trust file: not a JSON object');
  const ownerId = member(raw, 'owner_id');
  if (typeof ownerId !== 'string' || ownerId === '') throw new ValidationError('trust file names no owner_id');
  const rpId = member(raw, 'rp_id') ?? '';
  const origins = member(raw, 'origins') ?? [];
  if (typeof rpId !== 'string') throw new ValidationError('trust file: rp_id is not a string');
  if (!Array.isArray(origins) || !origins.every((o) => typeof o === 'string')) throw new ValidationError('trust file: origins is not a list of strings');
  const keysIn = member(raw, 'keys') ?? [];
  if (!Array.isArray(keysIn)) throw new ValidationError('trust file: keys is not a list');
  const keys: TrustedKey[] = [];
  for (const [i, k] of keysIn.entries()) {
    if (!isRecord(k)) throw new ValidationError(`trust file key ${i}: not a JSON object`);
    const keyId = member(k, 'key_id');
    const method = k.method;
    const name = k.name;
    if (typeof keyId !== 'string') throw new ValidationError(`trust file key ${i}: key_id is not a string`);
    if (name !== undefined && typeof name !== 'string') throw new ValidationError(`trust file key ${i}: name is not a string`);
    const out: TrustedKey = { keyId, method: String(method), ...(name === undefined ? {} : { name }) };
    if (method === ApprovalMethod.ED25519) {
      const pub = bytesOf(member(k, 'public_key'), `trust file key ${i}: public_key`);
      if (pub.length !== 32) throw new ValidationError(`trust file key ${i}: an Ed25519 key is 32 bytes, not ${pub.length}`);
      if ((await signingKeyId(pub)) !== keyId) throw new ValidationError(`trust file key ${i}: key_id ${JSON.stringify(keyId)} does not name its public key`);
      out.publicKey = toBase64(pub);
    } else if (method === ApprovalMethod.WEBAUTHN) {
      const c = k.credential;
      if (!isRecord(c)) throw new ValidationError(`trust file key ${i}: passkey credential is not a JSON object`);
      const id = c.id === undefined || c.id === null ? new Uint8Array() : bytesOf(c.id, `trust file key ${i}: passkey credential id`);
      const pk = c.publicKey === undefined || c.publicKey === null ? new Uint8Array() : bytesOf(c.publicKey, `trust file key ${i}: passkey credential publicKey`);
      if (id.length === 0 || pk.length === 0) throw new ValidationError(`trust file key ${i}: passkey credential has no id or public key`);
      if ('webauthn:' + b64url(id) !== keyId) throw new ValidationError(`trust file key ${i}: key_id ${JSON.stringify(keyId)} does not name its credential`);
      if (rpId === '' || origins.length === 0) throw new ValidationError(`trust file key ${i} is a passkey, but the file names no rp_id and origins`);
      out.credential = c as PasskeyCredential;
    } else {
      throw new ValidationError(`trust file key ${i}: unknown method ${JSON.stringify(method)}`);
    }
    keys.push(out);
  }
  return { ownerId, ...(rpId === '' ? {} : { rpId }), ...(origins.length ? { origins: origins as string[] } : {}), keys };
}

/** A string as Go's encoding/json writes it with HTML escaping off. */
function goString(s: string): string {
  return JSON.stringify(s).replace(/[\u2028\u2029]/g, (c) => (c === '\u2028' ? '\\u2028' : '\\u2029'));
}

/** The canonical bytes of a statement (approval.Statement.Canonical). */
function canonical(s: ApprovalStatement): string {
  const f = s.filter;
  return (
    `{"v":${s.v},"request_id":${goString(s.requestId)},"owner_id":${goString(s.ownerId)},"agent_id":${goString(s.agentId)},` +
    `"key_fingerprint":${goString(s.keyFingerprint)},"encryption":${goString(s.encryption)},` +
    `"filter":{"sources":${f.sources === null ? 'null' : `[${f.sources.map(goString).join(',')}]`},"sender_pattern":${goString(f.senderPattern)},` +
    `"content_pattern":${goString(f.contentPattern)},"received_after":${goString(f.receivedAfter)}},` +
    `"include_message":${s.includeMessage},"expires_at":${goString(s.expiresAt)},"decision":${goString(s.decision)},"decided_at":${goString(s.decidedAt)}}`
  );
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * Reads canonical statement bytes like Go's approval.Parse: bytes that are
 * not the canonical encoding of what they hold are refused, so a signature
 * covers one meaning. Throws ApprovalVerificationError.
 */
export function parseStatement(bytes: Uint8Array): ApprovalStatement {
  const bad = (why: string) => new ApprovalVerificationError(`approval refused: approval: ${why}`);
  if (bytes.length > MAX_STATEMENT_LEN) throw bad(`statement is ${bytes.length} bytes; at most ${MAX_STATEMENT_LEN}`);
  let text: string;
  let o: unknown;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
    o = JSON.parse(text);
  } catch (e) {
    throw bad(`statement: ${(e as Error).message}`);
  }
  const str = (v: unknown) => (typeof v === 'string' ? v : undefined);
  if (!isRecord(o) || !isRecord(o.filter)) throw bad('statement: not a statement object');
  const f = o.filter;
  const sources = f.sources;
  const s: ApprovalStatement = {
    v: typeof o.v === 'number' ? o.v : NaN,
    requestId: str(o.request_id) ?? '',
    ownerId: str(o.owner_id) ?? '',
    agentId: str(o.agent_id) ?? '',
    keyFingerprint: str(o.key_fingerprint) ?? '',
    encryption: str(o.encryption) ?? '',
    filter: {
      sources: Array.isArray(sources) && sources.every((x) => typeof x === 'string') ? (sources as string[]) : [],
      senderPattern: str(f.sender_pattern) ?? '',
      contentPattern: str(f.content_pattern) ?? '',
      receivedAfter: str(f.received_after) ?? '',
    },
    includeMessage: o.include_message === true,
    expiresAt: str(o.expires_at) ?? '',
    decision: str(o.decision) ?? '',
    decidedAt: str(o.decided_at) ?? '',
  };
  if (s.v !== 1) throw bad(`statement version ${String(o.v)}; this SDK reads 1`);
  if (canonical(s) !== text) throw bad('statement is not in canonical form');
  if (s.decision !== 'approve' && s.decision !== 'deny') throw bad(`unknown decision ${JSON.stringify(s.decision)}`);
  const src = s.filter.sources;
  if (src.length === 0 || src.some((x, i) => i > 0 && src[i - 1]! > x)) throw bad('filter sources must be listed, sorted');
  for (const t of [s.expiresAt, s.decidedAt]) {
    if (!RFC3339.test(t) || Number.isNaN(Date.parse(t))) throw bad(`statement time ${JSON.stringify(t)} is not RFC 3339`);
  }
  return s;
}

async function verifyEd25519(k: TrustedKey, statement: Uint8Array, signature: Uint8Array): Promise<void> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) throw new ApprovalVerificationError('WebCrypto (crypto.subtle) is not available: use Node 20+ or a page served over HTTPS or from localhost');
  let key: CryptoKey;
  try {
    key = await subtle.importKey('raw', bytesOf(k.publicKey, 'the pinned Ed25519 key'), { name: 'Ed25519' }, false, ['verify']);
  } catch (e) {
    throw new ApprovalVerificationError(`this runtime's WebCrypto cannot import an Ed25519 key: ${(e as Error).message}`, { cause: e });
  }
  const ok = await subtle.verify({ name: 'Ed25519' }, key, signature as Uint8Array<ArrayBuffer>, concatBytes(utf8.encode(ED25519_CONTEXT), statement));
  if (!ok) throw new Error('approval: the signature does not verify');
}

async function verifyPasskey(trust: OwnerTrust, k: TrustedKey, ownerId: string, statement: Uint8Array, assertion: Uint8Array): Promise<void> {
  if (assertion.length > MAX_ASSERTION_LEN) throw new Error(`the passkey assertion is ${assertion.length} bytes; at most ${MAX_ASSERTION_LEN}`);
  if (!trust.rpId || !trust.origins?.length) throw new Error('the trust file pins no relying party (rp_id, origins) to check passkeys against');
  const cred = k.credential;
  if (!cred) throw new Error('passkey credential has no id or public key');
  const credId = b64url(bytesOf(cred.id, 'passkey credential id'));
  let response: Record<string, unknown>;
  try {
    const r: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(assertion));
    if (!isRecord(r) || !isRecord(r.response) || typeof r.rawId !== 'string' || typeof r.response.authenticatorData !== 'string') throw new Error('not a PublicKeyCredential');
    response = r;
  } catch (e) {
    throw new Error(`the passkey assertion does not parse: ${(e as Error).message}`);
  }
  const inner = response.response as Record<string, unknown>;
  if (response.rawId !== credId) throw new Error('the passkey assertion comes from another credential than its key id names');
  // go-webauthn's login checks that simplewebauthn leaves to its caller: the
  // user handle, when given, is the owner's; the backup-eligible flag is the
  // one the credential was registered with.
  if (typeof inner.userHandle === 'string' && inner.userHandle !== '' && inner.userHandle !== b64url(utf8.encode(ownerId))) {
    throw new Error('the passkey assertion does not verify: the user handle is not the owner');
  }
  let server: typeof import('@simplewebauthn/server');
  try {
    server = await import('@simplewebauthn/server');
  } catch (e) {
    throw new Error(`@simplewebauthn/server cannot be loaded here, so passkey (webauthn) approvals cannot be verified: ${(e as Error).message}`);
  }
  let flags: number | undefined;
  try {
    const u = (inner.authenticatorData as string).replace(/-/g, '+').replace(/_/g, '/');
    flags = fromBase64(u + '='.repeat((4 - (u.length % 4)) % 4))[32];
  } catch {
    flags = undefined;
  }
  if (flags !== undefined && cred.flags?.backupEligible !== undefined && ((flags & 0x08) !== 0) !== cred.flags.backupEligible) {
    throw new Error('the passkey assertion does not verify: its backup-eligible flag differs from the pinned credential');
  }
  const challenge = b64url(await sha256(concatBytes(utf8.encode(PASSKEY_CONTEXT), statement)));
  let verified: boolean;
  try {
    const res = await server.verifyAuthenticationResponse({
      response: response as unknown as Parameters<typeof server.verifyAuthenticationResponse>[0]['response'],
      expectedChallenge: challenge,
      expectedOrigin: trust.origins,
      expectedRPID: trust.rpId,
      expectedType: 'webauthn.get',
      // A pinned trust file keeps no signature counter: like go-webauthn, a
      // counter is not enforced.
      credential: { id: credId, publicKey: bytesOf(cred.publicKey, 'passkey credential publicKey'), counter: 0 },
      requireUserVerification: true,
    });
    verified = res.verified && res.authenticationInfo.userVerified;
  } catch (e) {
    throw new Error(`the passkey assertion does not verify: ${(e as Error).message}`);
  }
  if (!verified) throw new Error('the passkey assertion does not verify');
}

/**
 * Checks that a statement is well formed and signed by one of trust's
 * keys, about trust's owner (Go's Trust.Verify), and returns it. It does not
 * look at what the statement says beyond its owner. Throws
 * ApprovalVerificationError.
 */
export async function verifyStatement(trust: OwnerTrust, approval: SignedApproval): Promise<ApprovalStatement> {
  const refuse = (why: string, cause?: unknown) => new ApprovalVerificationError(`approval refused: ${why}`, cause === undefined ? {} : { cause });
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = bytesOf(approval.statement, 'the statement');
  } catch (e) {
    throw refuse((e as Error).message);
  }
  const s = parseStatement(bytes);
  if (approval.method !== ApprovalMethod.ED25519 && approval.method !== ApprovalMethod.WEBAUTHN) {
    throw refuse(`signing method ${JSON.stringify(approval.method)} is not one this checker knows`);
  }
  const keyId = approval.keyId ?? (approval as { key_id?: string }).key_id ?? '';
  const k = trust.keys.find((x) => x.keyId === keyId);
  if (!k || k.method !== approval.method) throw refuse(`signed by key ${JSON.stringify(keyId)}, which is not one of the owner's pinned keys`);
  try {
    const sig = approval.signature === undefined ? new Uint8Array() : bytesOf(approval.signature, 'the signature');
    if (approval.method === ApprovalMethod.WEBAUTHN) await verifyPasskey(trust, k, trust.ownerId, bytes, sig);
    else await verifyEd25519(k, bytes, sig);
  } catch (e) {
    if (e instanceof ApprovalVerificationError) throw e;
    throw refuse((e as Error).message, e);
  }
  if (s.ownerId !== trust.ownerId) throw refuse(`the statement is for owner ${JSON.stringify(s.ownerId)}, not the pinned owner ${JSON.stringify(trust.ownerId)}`);
  return s;
}

/**
 * Checks, against the owner's pinned keys, that a request was approved by
 * its owner and not only by the relay: its statement is signed by one of
 * trust's keys, approves this request of this owner and agent, and names
 * the key the agent made the request with. `agentPublicKey` is the agent's
 * own public key (a CryptoKey or its exportPublicKey text): its fingerprint
 * and algorithm are computed here, never taken from the relay. Resolves to
 * the statement; throws ApprovalVerificationError otherwise (an unsigned
 * approval, `method: 'none'`, included).
 */
export async function verifyApproval(trust: OwnerTrust, request: ApprovedRequest, agentPublicKey: CryptoKey | string): Promise<ApprovalStatement> {
  const fail = (why: string, cause?: unknown) =>
    new ApprovalVerificationError(`agentotp: request ${request.id}: ${why}`, { requestId: request.id, ...(cause === undefined ? {} : { cause }) });
  const a = request.approval;
  if (!a) throw new ApprovalVerificationError(`agentotp: request ${request.id} carries no approval (status ${request.status ?? 'unknown'})`, { requestId: request.id });
  let s: ApprovalStatement;
  try {
    s = await verifyStatement(trust, a);
  } catch (e) {
    throw fail((e as Error).message, e);
  }
  const pub = typeof agentPublicKey === 'string' ? await importPublicKey(agentPublicKey) : agentPublicKey;
  const fp = await fingerprint(pub);
  const alg = keyEncryption(pub);
  if (s.decision !== 'approve') throw fail(`the owner's statement says ${s.decision}`);
  if (s.requestId !== request.id) throw fail(`the statement is about request ${s.requestId}`);
  if (s.agentId !== request.agentId) throw fail(`the statement is about agent ${s.agentId}`);
  if (s.keyFingerprint !== fp || s.encryption !== alg) throw fail(`the owner approved key ${s.keyFingerprint} (${s.encryption}), not this agent's key ${fp}`);
  return s;
}
