// The guide's "Middleware Pattern" block, unchanged but for the import; the
// client and keys are made as in the guide's first block.
import { AgentOTPClient, generateKeyPair, exportPublicKey } from '@agentotp/sdk';
const otp = new AgentOTPClient({ apiKey: process.env.AGENT_OTP_API_KEY! });
const { publicKey, privateKey } = await generateKeyPair();
async function completeSignup(code: string): Promise<void> {
  console.log('Received OTP:', code);
}

type Action = {
type: string;
requiresOTP?: boolean;
otpReason?: string;
params: Record<string, unknown>;
};
function createOTPMiddleware(
otp: AgentOTPClient,
publicKey: CryptoKey,
privateKey: CryptoKey
) {
return async function otpMiddleware(
action: Action,
next: (code?: string) => Promise<unknown>
) {
// Check if action requires OTP
if (!action.requiresOTP) {
return next();
}
// Request OTP
const request = await otp.requestOTP({
reason: action.otpReason || action.type,
publicKey: await exportPublicKey(publicKey),
waitForOTP: true,
});
if (request.status !== 'otp_received') {
throw new Error(`OTP request failed: ${request.status}`);
}
// Consume OTP
const { code } = await otp.consumeOTP(request.id, privateKey);
// Execute action with code
return next(code);
};
}
// Use in your agent
const middleware = createOTPMiddleware(otp, publicKey, privateKey);
await middleware(
{
type: 'signup',
requiresOTP: true,
otpReason: 'Sign up for Acme Inc',
params: { email: 'user@example.com' },
},
async (code) => {
// Use the OTP code
await completeSignup(code!);
}
);
