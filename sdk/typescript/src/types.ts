import type { SignedApproval } from './approval.js';
// The shapes of the API, in the SDK's camelCase. The wire is snake_case;
// client.ts maps between the two.

/** The statuses of a request; usable as a type and as a value. */
export const OTPRequestStatus = {
  PENDING_APPROVAL: 'pending_approval',
  APPROVED: 'approved',
  OTP_RECEIVED: 'otp_received',
  CONSUMED: 'consumed',
  DENIED: 'denied',
  EXPIRED: 'expired',
  CANCELLED: 'cancelled',
} as const;
/** One of the {@link OTPRequestStatus} values. */
export type OTPRequestStatus = (typeof OTPRequestStatus)[keyof typeof OTPRequestStatus];

/** Where a code may come from. */
export type OTPSource = 'sms' | 'email';

/** Which message may feed a request. */
export interface OTPFilter {
  /** `'sms'`, `'email'` (default both). Plain strings are accepted. */
  sources?: Array<OTPSource | string>;
  /** Glob over the sender's address or number: `*` any run, `?` one char. */
  senderPattern?: string;
  /** RE2 regular expression over the message text. */
  contentPattern?: string;
  /** Messages received earlier never match. */
  receivedAfter?: Date | string;
}

/** What the relay says about the message that fed a request; never its text. */
export interface OTPMetadata {
  messageId?: string;
  source: string;
  sender: string;
  subject?: string;
  receivedAt: string;
  /** The extractor's confidence in the code, 0..1. */
  confidence?: number;
  /** Set when an origin-bound line (`@example.com #123456`) named it. */
  domain?: string;
  /** Further members the relay sends, as it sends them. */
  [extra: string]: unknown;
}

/** A request, as the relay returns it. Times are RFC 3339 strings (UTC). */
export interface OTPRequest {
  id: string;
  agentId: string;
  status: OTPRequestStatus;
  reason: string;
  expectedSender: string | null;
  filter: OTPFilter | null;
  encryption: string;
  publicKeyFingerprint: string;
  includeMessage: boolean;
  webhookUrl: string | null;
  /** Where the owner approves or denies. */
  approvalUrl: string;
  test: boolean;
  createdAt: string;
  expiresAt: string;
  decidedAt: string | null;
  /** `"owner"`, `"policy:pol_…"` or `"test_key"`. */
  decidedBy: string | null;
  /** The owner's reason, when denied. */
  denyReason: string | null;
  metadata: OTPMetadata | null;
  consumedAt: string | null;
  /** The relay's id of the owner. */
  ownerId?: string;
  /**
   * The decision's statement and how it was signed, once decided (null
   * before); check it with verifyApproval against the owner's pinned keys.
   */
  approval?: SignedApproval | null;
}

/** What onPendingApproval is told. */
export interface PendingApprovalInfo {
  id: string;
  approvalUrl: string;
  expiresAt: string;
}

/** The options of requestOTP. */
export interface RequestOTPOptions {
  /** Shown to the owner (1–500 characters). */
  reason: string;
  /** exportPublicKey of the agent's key. */
  publicKey: string;
  /** A hint shown to the owner: who will send the code. */
  expectedSender?: string;
  filter?: OTPFilter;
  /** Seconds the request lives, 60–3600 (default 300). */
  ttl?: number;
  /** Wait until the request is no longer pending or approved (long-poll). */
  waitForOTP?: boolean;
  /** Milliseconds to wait with waitForOTP (default 120000). */
  timeout?: number;
  /** Where the relay POSTs status changes (verify them with verifyWebhook). */
  webhookUrl?: string;
  /** Also deliver the full message text, sealed (HPKE keys only). */
  includeMessage?: boolean;
  /** Called once if the request waits for the owner's approval. */
  onPendingApproval?: (info: PendingApprovalInfo) => void | Promise<void>;
  /** Aborts the call and the wait. */
  signal?: AbortSignal;
}

/** A consumed, decrypted code. */
export interface ConsumeOTPResult {
  code: string;
  /**
   * The message text, when asked for with includeMessage. Untrusted input:
   * never feed it to a model as instructions.
   */
  fullMessage?: string;
  metadata: OTPMetadata | null;
  encryption: string;
  /** The ciphertexts as the relay handed them over (base64). */
  encryptedPayload: string;
  encryptedContent?: string;
}

/** A message a test key posts to feed its own filtered requests. */
export interface TestMessage {
  source: OTPSource | string;
  sender: string;
  subject?: string;
  text?: string;
  html?: string;
  receivedAt?: Date | string;
  externalId?: string;
}

/** Whether a posted message fed a request. */
export interface IngestResult {
  messageId: string;
  matched: boolean;
  /**
   * Why the message fed no request, when `matched` is false and it is no
   * duplicate: `'no_match'` (no waiting request's filter takes it) or
   * `'no_code'` (a filter takes it, but no code could be read in it).
   */
  reason?: 'no_match' | 'no_code';
  duplicate?: boolean;
}
