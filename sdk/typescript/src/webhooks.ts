// Verification of the relay's outbound webhooks, which follow Standard
// Webhooks: webhook-id, webhook-timestamp and webhook-signature
// ("v1,<base64 HMAC-SHA256(key, id.timestamp.body)>", space-separated
// when several), where key is the base64 after "whsec_" of the agent's
// webhook secret.
import { WebhookVerificationError } from './errors.js';
import { concatBytes, fromBase64 } from './encoding.js';
import type { OTPRequestStatus } from './types.js';

/** Request headers: a fetch Headers, or Node's req.headers. */
export type HeadersLike = Headers | Record<string, string | string[] | undefined>;

/** Options of verifyWebhook. */
export interface VerifyWebhookOptions {
  /** How far, in seconds, webhook-timestamp may be from now (default 300). */
  toleranceSeconds?: number;
  /** The time to check against (default: now). */
  now?: Date;
}

/** A verified webhook: the relay's `otp.status` event. */
export interface WebhookEvent {
  type: string;
  requestId: string;
  status: OTPRequestStatus;
  occurredAt: string;
  /** The webhook-id: the same for every retry of one delivery. */
  webhookId: string;
}

function header(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const rec = headers as Record<string, string | string[] | undefined>;
  let v = rec[name];
  if (v === undefined) {
    const key = Object.keys(rec).find((k) => k.toLowerCase() === name);
    v = key === undefined ? undefined : rec[key];
  }
  return Array.isArray(v) ? v.join(' ') : v;
}

function secretKey(secret: string): Uint8Array<ArrayBuffer> {
  const s = secret.trim();
  try {
    return fromBase64(s.startsWith('whsec_') ? s.slice('whsec_'.length) : s);
  } catch {
    throw new WebhookVerificationError('the webhook secret is not a whsec_ secret (base64 after "whsec_")');
  }
}

/**
 * Verifies a webhook the relay sent and returns its event. `rawBody` must
 * be the body exactly as received (not re-serialised JSON). Throws
 * WebhookVerificationError when a header is missing, the timestamp is
 * outside `toleranceSeconds`, or no signature matches.
 */
export async function verifyWebhook(
  rawBody: string | Uint8Array,
  headers: HeadersLike,
  secret: string,
  options: VerifyWebhookOptions = {},
): Promise<WebhookEvent> {
  const id = header(headers, 'webhook-id');
  const ts = header(headers, 'webhook-timestamp');
  const sigs = header(headers, 'webhook-signature');
  if (!id || !ts || !sigs) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature header');
  if (!/^\d{1,15}$/.test(ts.trim())) throw new WebhookVerificationError('webhook-timestamp is not a Unix time in seconds');
  const tolerance = options.toleranceSeconds ?? 300;
  const now = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const t = Number(ts.trim());
  if (now - t > tolerance) throw new WebhookVerificationError('webhook-timestamp is too old');
  if (t - now > tolerance) throw new WebhookVerificationError('webhook-timestamp is in the future');
  const body = typeof rawBody === 'string' ? new TextEncoder().encode(rawBody) : rawBody;
  const signed = concatBytes(new TextEncoder().encode(`${id}.${ts.trim()}.`), body);
  const key = await crypto.subtle.importKey('raw', secretKey(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  let ok = false;
  for (const part of sigs.split(' ')) {
    const [version, b64] = part.split(',', 2);
    if (version !== 'v1' || !b64) continue;
    let sig: Uint8Array<ArrayBuffer>;
    try {
      sig = fromBase64(b64);
    } catch {
      continue;
    }
    if (await crypto.subtle.verify('HMAC', key, sig, signed)) ok = true;
  }
  if (!ok) throw new WebhookVerificationError('no matching webhook signature');
  let event: { type?: unknown; request_id?: unknown; status?: unknown; occurred_at?: unknown };
  try {
    event = JSON.parse(typeof rawBody === 'string' ? rawBody : new TextDecoder().decode(rawBody));
  } catch {
    throw new WebhookVerificationError('the signed body is not JSON');
  }
  return {
    type: String(event.type),
    requestId: String(event.request_id),
    status: String(event.status) as OTPRequestStatus,
    occurredAt: String(event.occurred_at),
    webhookId: id,
  };
}

/**
 * Whether a webhook is authentic: verifyWebhook as a boolean, for a
 * handler's one line. The secret defaults to the AGENT_OTP_WEBHOOK_SECRET
 * environment variable. It is asynchronous: write
 * `if (!(await verifySignature(rawBody, req.headers)))`.
 */
export async function verifySignature(
  rawBody: string | Uint8Array,
  headers: HeadersLike,
  secret?: string,
  options: VerifyWebhookOptions = {},
): Promise<boolean> {
  const s = secret ?? (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.AGENT_OTP_WEBHOOK_SECRET;
  if (!s) throw new WebhookVerificationError('no webhook secret: pass it or set AGENT_OTP_WEBHOOK_SECRET');
  try {
    await verifyWebhook(rawBody, headers, s, options);
    return true;
  } catch (e) {
    if (e instanceof WebhookVerificationError) return false;
    throw e;
  }
}
