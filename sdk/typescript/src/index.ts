/**
 * The TypeScript SDK of agentotp: ask a relay for one verification code,
 * sealed to the agent's key, and read it once.
 *
 * @packageDocumentation
 */
export { AgentOTPClient, DEFAULT_BASE_URL } from './client.js';
export {
  ApprovalMethod,
  ApprovalVerificationError,
  parseStatement,
  parseTrust,
  signingKeyId,
  verifyApproval,
  verifyStatement,
} from './approval.js';
export type { ApprovalStatement, ApprovedRequest, OwnerTrust, PasskeyCredential, SignedApproval, TrustedKey } from './approval.js';
export type { AgentOTPClientOptions, CallOptions, WaitOptions } from './client.js';
export {
  AgentOTPError,
  AuthenticationError,
  DecryptionError,
  NetworkError,
  OTPAlreadyConsumedError,
  OTPApprovalDeniedError,
  OTPCancelledError,
  OTPExpiredError,
  OTPNotFoundError,
  OTPNotReadyError,
  RateLimitError,
  ServerError,
  TimeoutError,
  ValidationError,
  WebhookVerificationError,
  isTransient,
} from './errors.js';
export type { ErrorDetails, FieldError } from './errors.js';
export {
  decryptOTPPayload,
  Encryption,
  exportPrivateKey,
  exportPublicKey,
  fingerprint,
  generateKeyPair,
  importPrivateKey,
  importPublicKey,
} from './keys.js';
export type { ExportPublicKeyOptions, GenerateKeyPairOptions, ImportPrivateKeyOptions, KeyAlgorithm, KeyPair } from './keys.js';
export { OTPRequestStatus } from './types.js';
export type {
  ConsumeOTPResult,
  IngestResult,
  OTPFilter,
  OTPMetadata,
  OTPRequest,
  OTPSource,
  PendingApprovalInfo,
  RequestOTPOptions,
  TestMessage,
} from './types.js';
export { verifySignature, verifyWebhook } from './webhooks.js';
export type { HeadersLike, VerifyWebhookOptions, WebhookEvent } from './webhooks.js';
