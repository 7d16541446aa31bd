// The guide's "Polling Pattern" block, unchanged; the set-up lines above it
// (client and keys) are the guide's own from its first block.
import { AgentOTPClient, generateKeyPair, exportPublicKey } from '@agentotp/sdk';
const otp = new AgentOTPClient({ apiKey: process.env.AGENT_OTP_API_KEY! });
const { publicKey, privateKey } = await generateKeyPair();

async function pollForOTP(
requestId: string,
maxAttempts: number = 60,
intervalMs: number = 2000
): Promise<string | null> {
for (let attempt = 0; attempt < maxAttempts; attempt++) {
const status = await otp.getOTPStatus(requestId);
switch (status.status) {
case 'otp_received':
const { code } = await otp.consumeOTP(requestId, privateKey);
return code;
case 'denied':
case 'expired':
case 'cancelled':
return null;
case 'pending_approval':
case 'approved':
// Still waiting, continue polling
await sleep(intervalMs);
break;
default:
throw new Error(`Unexpected status: ${status.status}`);
}
}
// Timeout
return null;
}
function sleep(ms: number): Promise<void> {
return new Promise(resolve => setTimeout(resolve, ms));
}

// Run: one request, polled as the guide does.
const request = await otp.requestOTP({ reason: 'Polling example', publicKey: await exportPublicKey(publicKey) });
console.log('Received OTP:', await pollForOTP(request.id));
