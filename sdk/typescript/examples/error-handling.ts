// The guide's "Error Handling Best Practices" block; only the import
// specifier differs. The client and keys are made as in the guide's first
// block, and the last lines run the function once.
import { AgentOTPClient, generateKeyPair, exportPublicKey } from '@agentotp/sdk';
const otp = new AgentOTPClient({ apiKey: process.env.AGENT_OTP_API_KEY! });
const { publicKey, privateKey } = await generateKeyPair();

import {
AgentOTPError,
AuthenticationError,
ValidationError,
RateLimitError,
OTPNotFoundError,
OTPExpiredError,
OTPAlreadyConsumedError,
OTPApprovalDeniedError,
DecryptionError,
} from '@agentotp/sdk';
async function executeWithOTP(action: string): Promise<{
success: boolean;
code?: string;
error?: string;
retryAfter?: number;
}> {
try {
const request = await otp.requestOTP({
reason: action,
publicKey: await exportPublicKey(publicKey),
waitForOTP: true,
});
if (request.status === 'otp_received') {
const { code } = await otp.consumeOTP(request.id, privateKey);
return { success: true, code };
}
return { success: false, error: `Status: ${request.status}` };
} catch (error) {
if (error instanceof AuthenticationError) {
// API key issue
console.error('Invalid API key');
return { success: false, error: 'Authentication failed' };
}
if (error instanceof RateLimitError) {
// Queue for retry
return {
success: false,
error: 'Rate limited',
retryAfter: error.retryAfter,
};
}
if (error instanceof ValidationError) {
// Invalid request
return { success: false, error: `Validation: ${error.message}` };
}
if (error instanceof OTPApprovalDeniedError) {
return { success: false, error: 'User denied the request' };
}
if (error instanceof OTPExpiredError) {
return { success: false, error: 'Request expired' };
}
if (error instanceof OTPAlreadyConsumedError) {
return { success: false, error: 'OTP already consumed' };
}
if (error instanceof DecryptionError) {
return { success: false, error: 'Decryption failed - check keys' };
}
// Unknown error
throw error;
}
}

// Run it once (an empty action is a validation error; a wrong key fails authentication).
const result = await executeWithOTP(process.argv[2] ?? 'Sign up for Acme');
console.log(JSON.stringify(result));
export { AgentOTPError, OTPNotFoundError };
