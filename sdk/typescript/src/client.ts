// The agent API client. Waiting uses the relay's long-poll
// (GET /v1/otp/{id}?wait=…), never a sleep loop. Calls are retried, with
// backoff, only where a retry cannot repeat an effect: GET and DELETE on
// network errors and 5xx, and POST only when the connection was refused.
import {
  AgentOTPError,
  AuthenticationError,
  DecryptionError,
  errorFromProblem,
  isTransient,
  NetworkError,
  ServerError,
  TimeoutError,
  ValidationError,
  type Problem,
} from './errors.js';
import { decryptOTPPayload, fingerprint, keyEncryption, publicKeyOf } from './keys.js';
import {
  OTPRequestStatus,
  type ConsumeOTPResult,
  type IngestResult,
  type OTPFilter,
  type OTPMetadata,
  type OTPRequest,
  type RequestOTPOptions,
  type TestMessage,
} from './types.js';

/** The relay's URL when neither baseUrl nor the environment names one. */
export const DEFAULT_BASE_URL = 'http://127.0.0.1:8787';

/** The options of {@link AgentOTPClient}. */
export interface AgentOTPClientOptions {
  /** `ak_live_…` or `ak_test_…`; default: the AGENT_OTP_API_KEY environment variable. */
  apiKey?: string;
  /**
   * The relay's URL; default: AGENT_OTP_BASE_URL or AGENTOTP_URL from the
   * environment (where `process` exists), else http://127.0.0.1:8787.
   */
  baseUrl?: string;
  /** Milliseconds one HTTP call may take (default 30000); long-polls get their wait on top. */
  timeout?: number;
  /** The fetch to use (default: globalThis.fetch). */
  fetch?: typeof fetch;
  /** Retries of a retryable call (default 3). */
  maxRetries?: number;
  /** First retry delay in milliseconds, doubling, with jitter (default 250). */
  retryBackoff?: number;
}

/** Options of the calls that take an abort signal. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** Options of waitForOTP. */
export interface WaitOptions extends CallOptions {
  /**
   * Milliseconds to wait in all (default 120000). Long-polls last whole
   * seconds, so the wait ends once less than a second is left; under a
   * second the status is read once.
   */
  timeout?: number;
  /** Seconds one long-poll may last (1–55, default 55), so that onWait is called at least that often. */
  pollSeconds?: number;
  /**
   * Called before each long-poll with the request as last seen (undefined
   * before the relay first answered) and, when the previous try failed
   * transiently and is being retried, its error.
   */
  onWait?: (last: OTPRequest | undefined, retrying: AgentOTPError | undefined) => void;
}

/** The longest pause between tries of a wait of our own choosing, in ms. */
const WAIT_BACKOFF_MAX = 5_000;
/** The longest Retry-After honoured, in ms. */
const RETRY_AFTER_LIMIT = 30_000;

/** Resolves after ms, or at once when signal aborts. */
function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

/** The Retry-After of an error, in ms, capped; 0 when none. */
function retryAfterMs(e: unknown): number {
  const s = e instanceof ServerError ? e.retryAfter : undefined;
  return typeof s === 'number' && s > 0 ? Math.min(s * 1000, RETRY_AFTER_LIMIT) : 0;
}

/** The longest ?wait= the relay accepts, in seconds. */
const MAX_WAIT_SECONDS = 55;

/** The environment, where there is one (Node, Deno, Bun; not browsers). */
function env(name: string): string | undefined {
  const p = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const v = p?.env?.[name];
  return v === undefined || v === '' ? undefined : v;
}

const waiting = (s: string): boolean => s === OTPRequestStatus.PENDING_APPROVAL || s === OTPRequestStatus.APPROVED;

/** snake_case keys to camelCase, recursively. */
function camelize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelize);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase())] = camelize(x);
  return out;
}

function isoTime(v: Date | string | undefined, field: string): string | undefined {
  if (v === undefined) return undefined;
  const d = v instanceof Date ? v : new Date(v);
  if (Number.isNaN(d.getTime())) throw new ValidationError(`${field}: not a valid time`, [{ field, message: 'not a valid time' }]);
  return d.toISOString();
}

const REQUEST_OPTIONS = new Set([
  'reason', 'publicKey', 'expectedSender', 'filter', 'ttl', 'waitForOTP', 'timeout',
  'webhookUrl', 'includeMessage', 'onPendingApproval', 'signal',
]);
const FILTER_OPTIONS = new Set(['sources', 'senderPattern', 'contentPattern', 'receivedAfter']);

function checkKeys(o: object, allowed: Set<string>, where: string): void {
  const unknown = Object.keys(o).filter((k) => !allowed.has(k) && (o as Record<string, unknown>)[k] !== undefined);
  if (unknown.length > 0) {
    throw new ValidationError(`${where}: unknown option ${unknown.join(', ')} (options are camelCase: ${[...allowed].join(', ')})`,
      unknown.map((field) => ({ field, message: 'unknown option' })));
  }
}

function filterToWire(f: OTPFilter | undefined): Record<string, unknown> | undefined {
  if (f === undefined || f === null) return undefined;
  checkKeys(f, FILTER_OPTIONS, 'filter');
  const out: Record<string, unknown> = {};
  if (f.sources !== undefined) out.sources = f.sources;
  if (f.senderPattern !== undefined) out.sender_pattern = f.senderPattern;
  if (f.contentPattern !== undefined) out.content_pattern = f.contentPattern;
  const after = isoTime(f.receivedAfter, 'filter.receivedAfter');
  if (after !== undefined) out.received_after = after;
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Error codes of a refused connection: the relay never saw the call. */
const REFUSED = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

function connectionRefused(e: unknown, depth = 0): boolean {
  if (e === null || typeof e !== 'object' || depth > 4) return false;
  const x = e as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof x.code === 'string' && REFUSED.has(x.code)) return true;
  if (Array.isArray(x.errors) && x.errors.length > 0 && x.errors.every((y) => connectionRefused(y, depth + 1))) return true;
  return connectionRefused(x.cause, depth + 1);
}

interface Call {
  method: 'GET' | 'POST' | 'DELETE';
  path: string;
  body?: unknown;
  signal?: AbortSignal;
  /** Seconds the relay may hold the call (a long-poll). */
  holdSeconds?: number;
  requestId?: string;
}

/**
 * A client of one relay's agent API with one API key.
 *
 * ```ts
 * const otp = new AgentOTPClient({ apiKey: process.env.AGENT_OTP_API_KEY! });
 * const { publicKey, privateKey } = await generateKeyPair();
 * const request = await otp.requestOTP({ reason: 'Sign up for Acme', publicKey: await exportPublicKey(publicKey), waitForOTP: true });
 * if (request.status === 'otp_received') console.log((await otp.consumeOTP(request.id, privateKey)).code);
 * ```
 */
export class AgentOTPClient {
  readonly baseUrl: string;
  readonly timeout: number;
  readonly #apiKey: string;
  readonly #fetch: typeof fetch;
  readonly #maxRetries: number;
  readonly #backoff: number;

  constructor(options: AgentOTPClientOptions = {}) {
    const apiKey = options.apiKey ?? env('AGENT_OTP_API_KEY');
    if (!apiKey) throw new AuthenticationError('no API key: pass apiKey or set AGENT_OTP_API_KEY');
    this.#apiKey = apiKey;
    this.baseUrl = (options.baseUrl ?? env('AGENT_OTP_BASE_URL') ?? env('AGENTOTP_URL') ?? DEFAULT_BASE_URL).replace(/\/+$/, '');
    this.timeout = options.timeout ?? 30_000;
    const f = options.fetch ?? globalThis.fetch;
    if (typeof f !== 'function') throw new NetworkError('no fetch available: pass options.fetch');
    this.#fetch = (input, init) => f.call(globalThis, input, init);
    this.#maxRetries = options.maxRetries ?? 3;
    this.#backoff = options.retryBackoff ?? 250;
  }

  /**
   * Asks the relay for one code. With `waitForOTP` it then waits (long-poll,
   * up to `timeout` ms) and returns the request in the status it reached:
   * check `status` as the guide does. A wait that runs out returns the
   * request as it stands, still waiting. A wait that fails otherwise throws
   * an error whose `requestId` names the created request, so that it can
   * be cancelled.
   */
  async requestOTP(options: RequestOTPOptions): Promise<OTPRequest> {
    if (options === null || typeof options !== 'object') throw new ValidationError('requestOTP: options are required');
    checkKeys(options, REQUEST_OPTIONS, 'requestOTP');
    const body: Record<string, unknown> = { reason: options.reason, public_key: options.publicKey };
    if (options.expectedSender !== undefined) body.expected_sender = options.expectedSender;
    const filter = filterToWire(options.filter);
    if (filter !== undefined) body.filter = filter;
    if (options.ttl !== undefined) body.ttl = options.ttl;
    if (options.webhookUrl !== undefined) body.webhook_url = options.webhookUrl;
    if (options.includeMessage !== undefined) body.include_message = options.includeMessage;
    const request = await this.#call<OTPRequest>({ method: 'POST', path: '/v1/otp/request', body, signal: options.signal });
    if (request.status === OTPRequestStatus.PENDING_APPROVAL && options.onPendingApproval) {
      await options.onPendingApproval({ id: request.id, approvalUrl: request.approvalUrl, expiresAt: request.expiresAt });
    }
    if (!options.waitForOTP || !waiting(request.status)) return request;
    try {
      return await this.waitForOTP(request.id, { timeout: options.timeout ?? 120_000, signal: options.signal });
    } catch (e) {
      // The wait ran out: the request as it stands (as created, if the
      // relay never answered meanwhile).
      if (e instanceof TimeoutError && e.requestId === request.id) return (e.request as OTPRequest | undefined) ?? request;
      throw e;
    }
  }

  /** The request now. */
  async getOTPStatus(id: string, options: CallOptions = {}): Promise<OTPRequest> {
    return this.#call<OTPRequest>({ method: 'GET', path: `/v1/otp/${encodeURIComponent(id)}`, signal: options.signal, requestId: id });
  }

  /**
   * Long-polls once: returns when the request leaves pending_approval or
   * approved, or after `waitSeconds` (1–55).
   */
  async waitOTPStatus(id: string, waitSeconds: number, options: CallOptions = {}): Promise<OTPRequest> {
    const secs = Math.max(1, Math.min(MAX_WAIT_SECONDS, Math.round(waitSeconds)));
    return this.#call<OTPRequest>({
      method: 'GET', path: `/v1/otp/${encodeURIComponent(id)}?wait=${secs}`, signal: options.signal, holdSeconds: secs, requestId: id,
    });
  }

  /**
   * Waits until the request is no longer pending or approved and returns
   * it. Throws TimeoutError, with the request as it stands in `request`, if
   * `timeout` ms pass first.
   *
   * It waits across a relay restart: an error for which isTransient holds
   * (the connection refused, reset or cut short, 502/503/504, an empty or
   * truncated answer) is retried with backoff (from retryBackoff, doubling,
   * at most 5 s; Retry-After honoured up to 30 s) until the timeout, and
   * the TimeoutError then carries that error as its `cause`. Any other
   * error is thrown at once.
   */
  async waitForOTP(id: string, options: WaitOptions = {}): Promise<OTPRequest> {
    const poll = Math.max(1, Math.min(MAX_WAIT_SECONDS, Math.round(options.pollSeconds ?? MAX_WAIT_SECONDS)));
    const deadline = Date.now() + (options.timeout ?? 120_000);
    const base = this.#backoff > 0 ? this.#backoff : 250;
    let delay = base;
    let last: OTPRequest | undefined;
    let retrying: AgentOTPError | undefined;
    for (;;) {
      const left = deadline - Date.now();
      if ((left < 1000 && last) || (left <= 0 && retrying)) {
        throw new TimeoutError(
          `request ${id} still ${last?.status ?? 'waiting'}${retrying ? '; the relay was not answering' : ''} after waiting`,
          { requestId: id, request: last, cause: retrying },
        );
      }
      options.onWait?.(last, retrying);
      const started = Date.now();
      let secs = 0;
      let got: OTPRequest | undefined;
      let error: AgentOTPError | undefined;
      const path = `/v1/otp/${encodeURIComponent(id)}`;
      if (left < 1000 && !last) {
        ({ value: got, error } = await this.#attempt<OTPRequest>({ method: 'GET', path, signal: options.signal, requestId: id }));
      } else {
        secs = Math.max(1, Math.min(MAX_WAIT_SECONDS, Math.floor(Math.min(left, poll * 1000) / 1000)));
        ({ value: got, error } = await this.#attempt<OTPRequest>({
          method: 'GET', path: `${path}?wait=${secs}`, signal: options.signal, holdSeconds: secs, requestId: id,
        }));
      }
      if (!error && (!got || typeof got.status !== 'string' || (got.status as string) === '')) {
        error = new NetworkError("the relay's answer was cut short: it holds no status", { requestId: id });
      }
      if (!error && got) {
        // A long-poll answered early with nothing new (a relay ending its
        // waits as it shuts down) pauses, so as not to spin.
        const early = secs > 0 && last !== undefined && got.status === last.status && Date.now() - started < (secs * 1000) / 2;
        last = got;
        retrying = undefined;
        if (!waiting(got.status)) return got;
        if (!early) {
          delay = base;
          continue;
        }
      } else {
        if (options.signal?.aborted) throw error;
        if (!isTransient(error)) throw error;
        retrying = error;
      }
      const wait = Math.min(Math.max(delay + Math.random() * (delay / 2), retryAfterMs(error)), Math.max(0, deadline - Date.now()));
      delay = Math.min(delay * 2, WAIT_BACKOFF_MAX);
      await pause(wait, options.signal);
      if (options.signal?.aborted) throw new NetworkError('the call was aborted', { cause: options.signal.reason, requestId: id, aborted: true });
    }
  }

  /**
   * Reads the sealed code once and decrypts it with the agent's private
   * key; a second call throws OTPAlreadyConsumedError.
   *
   * The relay deletes the ciphertext when it hands it over, so a key that
   * cannot open it would lose the code. consumeOTP therefore first reads
   * the request and refuses, consuming nothing, a key whose public key's
   * fingerprint is not the request's `publicKeyFingerprint`. Should
   * decryption fail all the same, the DecryptionError carries the
   * ciphertext (`encryptedPayload`, …).
   */
  async consumeOTP(id: string, privateKey: CryptoKey, options: CallOptions = {}): Promise<ConsumeOTPResult> {
    if (!privateKey || privateKey.type !== 'private') {
      throw new DecryptionError('consumeOTP needs the private key of the request; nothing was consumed', { requestId: id });
    }
    let pub: CryptoKey | undefined;
    try {
      keyEncryption(privateKey);
      pub = await publicKeyOf(privateKey);
    } catch (e) {
      throw new DecryptionError(`${(e as Error).message}; nothing was consumed`, { cause: e, requestId: id });
    }
    if (!pub) {
      throw new DecryptionError('this private key is not extractable and was not made by this SDK, so it cannot be checked against the request; nothing was consumed', { requestId: id });
    }
    const request = await this.getOTPStatus(id, options);
    const fp = await fingerprint(pub);
    if (fp !== request.publicKeyFingerprint) {
      throw new DecryptionError(
        `the private key (${fp}) does not belong to the request's public key (${request.publicKeyFingerprint}); nothing was consumed`,
        { requestId: id },
      );
    }
    const body = await this.#call<{
      id: string; encryption: string; encryptedPayload: string; encryptedContent?: string; metadata: OTPMetadata | null;
    }>({ method: 'POST', path: `/v1/otp/${encodeURIComponent(id)}/consume`, signal: options.signal, requestId: id });
    const kept = { encryptedPayload: body.encryptedPayload, encryptedContent: body.encryptedContent, encryption: body.encryption };
    // The payload must be in the form the request asked for: a request made
    // with a bound RSA key never takes a plain one (which any earlier request
    // with the same key could have produced).
    if (body.encryption !== request.encryption || body.id !== id) {
      throw new DecryptionError(
        `the payload is ${body.encryption} for ${body.id}; the request ${id} asked for ${request.encryption} (the code was consumed; the error keeps its ciphertext)`,
        { requestId: id, ...kept },
      );
    }
    try {
      const code = await decryptOTPPayload(body.encryptedPayload, privateKey, id, request.encryption);
      const result: ConsumeOTPResult = { code, metadata: body.metadata ?? null, ...kept };
      if (result.encryptedContent === undefined) delete result.encryptedContent;
      if (body.encryptedContent) result.fullMessage = await decryptOTPPayload(body.encryptedContent, privateKey, id, request.encryption);
      return result;
    } catch (e) {
      throw new DecryptionError(`${(e as Error).message} (the code was consumed; the error keeps its ciphertext)`, { cause: e, requestId: id, ...kept });
    }
  }

  /** Cancels a live request. */
  async cancelOTPRequest(id: string, options: CallOptions = {}): Promise<OTPRequest> {
    return this.#call<OTPRequest>({ method: 'DELETE', path: `/v1/otp/${encodeURIComponent(id)}`, signal: options.signal, requestId: id });
  }

  /**
   * Posts a message with a test key (`ak_test_…`), so that the agent's
   * filtered requests can be tested end to end.
   */
  async sendTestMessage(message: TestMessage, options: CallOptions = {}): Promise<IngestResult> {
    const body: Record<string, unknown> = { source: message.source, sender: message.sender };
    if (message.subject !== undefined) body.subject = message.subject;
    if (message.text !== undefined) body.text = message.text;
    if (message.html !== undefined) body.html = message.html;
    const at = isoTime(message.receivedAt, 'receivedAt');
    if (at !== undefined) body.received_at = at;
    if (message.externalId !== undefined) body.external_id = message.externalId;
    return this.#call<IngestResult>({ method: 'POST', path: '/v1/test/messages', body, signal: options.signal });
  }

  /** One API call, retried where that is safe. */
  async #call<T>(call: Call): Promise<T> {
    const payload = call.body === undefined ? undefined : JSON.stringify(call.body);
    let delay = this.#backoff;
    for (let attempt = 0; ; attempt++) {
      const { error, retryable, value } = await this.#once(call, payload);
      if (!error) return camelize(value) as T;
      if (!retryable || attempt >= this.#maxRetries || call.signal?.aborted) throw error;
      await pause(Math.max(delay + Math.random() * (delay / 2), retryAfterMs(error)), call.signal);
      if (call.signal?.aborted) throw new NetworkError('the call was aborted', { cause: call.signal.reason, requestId: call.requestId, aborted: true });
      delay *= 2;
    }
  }

  /** One try of a call, not retried: the wait loop retries on its own terms. */
  async #attempt<T>(call: Call): Promise<{ value?: T; error?: AgentOTPError }> {
    const { error, value } = await this.#once(call, undefined);
    return error ? { error } : { value: camelize(value) as T };
  }

  async #once(call: Call, payload: string | undefined): Promise<{ error?: AgentOTPError; retryable?: boolean; value?: unknown }> {
    const limit = this.timeout + (call.holdSeconds ?? 0) * 1000;
    const timer = new AbortController();
    const t = setTimeout(() => timer.abort(), limit);
    const onAbort = (): void => timer.abort();
    call.signal?.addEventListener('abort', onAbort, { once: true });
    if (call.signal?.aborted) timer.abort();
    const headers: Record<string, string> = { Authorization: `Bearer ${this.#apiKey}`, Accept: 'application/json' };
    if (payload !== undefined) headers['Content-Type'] = 'application/json';
    const requestId = call.requestId;
    try {
      let resp: Response;
      try {
        resp = await this.#fetch(this.baseUrl + call.path, {
          method: call.method, headers, body: payload, signal: timer.signal, credentials: 'omit',
        });
      } catch (e) {
        if (call.signal?.aborted) return { error: new NetworkError('the call was aborted', { cause: call.signal.reason, requestId, aborted: true }) };
        if (timer.signal.aborted) {
          return { error: new TimeoutError(`${call.method} ${call.path.split('?')[0]} took longer than ${limit} ms`, { cause: e, requestId }) };
        }
        const refused = connectionRefused(e);
        const why = refused ? 'the relay refused the connection' : 'the call failed';
        return {
          error: new NetworkError(`cannot reach the relay at ${this.baseUrl}: ${why} (${(e as Error).message})`, { cause: e, requestId }),
          // A refused connection never reached the relay: safe to retry
          // any method. Other failures may have, so only GET and DELETE.
          retryable: call.method !== 'POST' || refused,
        };
      }
      let text: string;
      try {
        text = await resp.text();
      } catch (e) {
        if (timer.signal.aborted && !call.signal?.aborted) {
          return { error: new TimeoutError(`${call.method} ${call.path.split('?')[0]} took longer than ${limit} ms`, { cause: e, requestId }) };
        }
        return { error: new NetworkError(`reading the relay's answer failed: ${(e as Error).message}`, { cause: e, requestId }), retryable: call.method !== 'POST' };
      }
      if (resp.ok) {
        try {
          if (text.trim() === '') throw new SyntaxError('empty answer');
          return { value: JSON.parse(text) };
        } catch (e) {
          // An empty or cut-short answer (a relay shutting down mid-answer)
          // is like a dropped connection; anything else is not JSON at all.
          const t = text.trim();
          if (t === '' || t.startsWith('{') || t.startsWith('[')) {
            return {
              error: new NetworkError(`the relay's answer was cut short (HTTP ${resp.status}, ${text.length} bytes)`, { status: resp.status, cause: e, requestId }),
              retryable: call.method !== 'POST',
            };
          }
          return { error: new AgentOTPError(`the relay's answer is not JSON (HTTP ${resp.status})`, { status: resp.status, cause: e, requestId }) };
        }
      }
      let problem: Problem = {};
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed && typeof parsed === 'object') problem = parsed as Problem;
      } catch {
        problem = { message: text.slice(0, 200) || resp.statusText };
      }
      // A 5xx to a POST may come after the relay acted (a proxy's 504): a
      // retried consume would lose the code, a retried request would ask
      // the owner twice. Only GET and DELETE are retried on 5xx.
      return { error: errorFromProblem(resp.status, problem, resp.headers.get('Retry-After'), requestId), retryable: resp.status >= 500 && call.method !== 'POST' };
    } finally {
      clearTimeout(t);
      call.signal?.removeEventListener('abort', onAbort);
    }
  }
}
