/**
 * Error classes. Every error the SDK throws is an {@link AgentOTPError};
 * relay answers (RFC 9457 problem documents) become the class of their
 * `code`, so callers can switch with `instanceof` as the integration guide
 * does.
 */

/** One invalid field of a rejected request (`errors` of a 422). */
export interface FieldError {
  field: string;
  message: string;
}

/** Details of a relay answer that became an error. */
export interface ErrorDetails {
  /** The relay's error code (`OTP_EXPIRED`, …); undefined for local errors. */
  code?: string;
  /** HTTP status; undefined when no answer arrived. */
  status?: number;
  /** The underlying error (a failed fetch, a failed decryption). */
  cause?: unknown;
  /** The request this error is about, when known. */
  requestId?: string;
}

/** The base class of every error of the SDK. */
export class AgentOTPError extends Error {
  readonly code?: string;
  readonly status?: number;
  readonly requestId?: string;

  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = details.code;
    this.status = details.status;
    this.requestId = details.requestId;
  }
}

/** The API key is missing, unknown, revoked or of the wrong kind (401). */
export class AuthenticationError extends AgentOTPError {}

/** The relay refused the request's content (422, 400, 413, 415). */
export class ValidationError extends AgentOTPError {
  /** The invalid fields, as the relay named them. */
  readonly fields: FieldError[];
  constructor(message: string, fields: FieldError[] = [], details: ErrorDetails = {}) {
    super(message, details);
    this.fields = fields;
  }
}

/** Too many calls (429). Wait `retryAfter` seconds before trying again. */
export class RateLimitError extends AgentOTPError {
  /** Seconds to wait, from the problem's `retry_after` or `Retry-After`. */
  readonly retryAfter?: number;
  constructor(message: string, retryAfter: number | undefined, details: ErrorDetails = {}) {
    super(message, details);
    this.retryAfter = retryAfter;
  }
}

/** No such request for this agent (404). */
export class OTPNotFoundError extends AgentOTPError {}

/** The request is approved but no code has arrived yet (409 on consume). */
export class OTPNotReadyError extends AgentOTPError {}

/** The request expired before its code was read (410). */
export class OTPExpiredError extends AgentOTPError {}

/** The code was already read once (410). */
export class OTPAlreadyConsumedError extends AgentOTPError {}

/** The owner (or a policy) denied the request (403). */
export class OTPApprovalDeniedError extends AgentOTPError {
  /** The owner's reason for the denial, when given (`deny_reason`). */
  readonly reason?: string;
  constructor(message: string, reason: string | undefined, details: ErrorDetails = {}) {
    super(message, details);
    this.reason = reason;
  }
}

/** The request was cancelled (410). */
export class OTPCancelledError extends AgentOTPError {}

/**
 * The private key cannot open the code: it does not belong to the
 * request's public key, or the ciphertext is damaged. When the key was
 * checked before consuming (see consumeOTP), nothing was consumed.
 */
export class DecryptionError extends AgentOTPError {
  /** The consume answer, when the code had been read: keep it to retry. */
  readonly encryptedPayload?: string;
  readonly encryptedContent?: string;
  readonly encryption?: string;
  constructor(
    message: string,
    details: ErrorDetails & { encryptedPayload?: string; encryptedContent?: string; encryption?: string } = {},
  ) {
    super(message, details);
    this.encryptedPayload = details.encryptedPayload;
    this.encryptedContent = details.encryptedContent;
    this.encryption = details.encryption;
  }
}

/** A call or a wait took longer than allowed. */
export class TimeoutError extends AgentOTPError {
  /** For a wait: the request as it last stood. */
  readonly request?: unknown;
  constructor(message: string, details: ErrorDetails & { request?: unknown } = {}) {
    super(message, details);
    this.request = details.request;
  }
}

/** The relay could not be reached, the connection failed, or its answer was cut short. */
export class NetworkError extends AgentOTPError {
  /** The caller aborted the call (its signal): not worth retrying. */
  readonly aborted: boolean;
  constructor(message: string, details: ErrorDetails & { aborted?: boolean } = {}) {
    super(message, details);
    this.aborted = details.aborted ?? false;
  }
}

/** The relay failed (5xx). */
export class ServerError extends AgentOTPError {
  /** Seconds the relay (or a proxy before it) asked to wait (Retry-After), when it did. */
  readonly retryAfter?: number;
  constructor(message: string, details: ErrorDetails & { retryAfter?: number } = {}) {
    super(message, details);
    this.retryAfter = details.retryAfter;
  }
}

/**
 * Whether an error is one a restarting relay causes and a later try may
 * not: the connection refused, reset or cut short (not an abort), a 502,
 * 503 or 504, or an empty or truncated answer. Waits (waitForOTP, and
 * requestOTP with waitForOTP) retry these until their timeout.
 */
export function isTransient(e: unknown): boolean {
  if (e instanceof NetworkError) return !e.aborted;
  if (e instanceof ServerError) return e.status === 502 || e.status === 503 || e.status === 504;
  return false;
}

/** A webhook's signature or timestamp is not valid. */
export class WebhookVerificationError extends AgentOTPError {}

/** The fields of a problem document the SDK reads. */
export interface Problem {
  code?: string;
  message?: string;
  detail?: string;
  title?: string;
  errors?: FieldError[];
  retry_after?: number;
  deny_reason?: string;
}

/** Turns a relay's error answer into the error of its class. */
export function errorFromProblem(
  status: number,
  problem: Problem,
  retryAfterHeader: string | null,
  requestId?: string,
): AgentOTPError {
  const code = problem.code;
  const text = problem.message || problem.detail || problem.title || `HTTP ${status}`;
  const message = code ? `${text} (${code})` : text;
  const details: ErrorDetails = { code, status, requestId };
  switch (code) {
    case 'AUTHENTICATION_ERROR':
      return new AuthenticationError(message, details);
    case 'VALIDATION_ERROR':
    case 'PAYLOAD_TOO_LARGE':
    case 'UNSUPPORTED_MEDIA_TYPE':
      return new ValidationError(message, problem.errors ?? [], details);
    case 'RATE_LIMIT_ERROR':
      return new RateLimitError(message, retryAfterOf(problem, retryAfterHeader), details);
    case 'OTP_NOT_FOUND':
    case 'NOT_FOUND':
      return new OTPNotFoundError(message, details);
    case 'OTP_NOT_READY':
      return new OTPNotReadyError(message, details);
    case 'OTP_EXPIRED':
      return new OTPExpiredError(message, details);
    case 'OTP_ALREADY_CONSUMED':
      return new OTPAlreadyConsumedError(message, details);
    case 'OTP_APPROVAL_DENIED':
      return new OTPApprovalDeniedError(message, problem.deny_reason || undefined, details);
    case 'OTP_CANCELLED':
      return new OTPCancelledError(message, details);
  }
  if (status === 401) return new AuthenticationError(message, details);
  if (status === 429) return new RateLimitError(message, retryAfterOf(problem, retryAfterHeader), details);
  if (status === 404) return new OTPNotFoundError(message, details);
  if (status === 400 || status === 422) return new ValidationError(message, problem.errors ?? [], details);
  if (status >= 500) return new ServerError(message, { ...details, retryAfter: retryAfterOf(problem, retryAfterHeader) });
  return new AgentOTPError(message, details);
}

function retryAfterOf(problem: Problem, header: string | null): number | undefined {
  if (typeof problem.retry_after === 'number' && problem.retry_after > 0) return problem.retry_after;
  if (header !== null && /^\d+$/.test(header.trim())) return Number(header.trim());
  return undefined;
}
