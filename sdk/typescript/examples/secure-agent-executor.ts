// The integration guide's "TypeScript Implementation" block; only the import
// specifier differs. The key comes from AGENT_OTP_API_KEY and the relay's URL
// from AGENT_OTP_BASE_URL (or AGENTOTP_URL), as the SDK reads them.
import {
AgentOTPClient,
generateKeyPair,
exportPublicKey,
OTPRequestStatus,
} from '@agentotp/sdk';
// Initialize client
const otp = new AgentOTPClient({
apiKey: process.env.AGENT_OTP_API_KEY!,
});
// Generate key pair once per agent session
const { publicKey, privateKey } = await generateKeyPair();
// Your agent's OTP-enabled action executor
class SecureAgentExecutor {
private otp: AgentOTPClient;
private publicKey: CryptoKey;
private privateKey: CryptoKey;
constructor(
otpClient: AgentOTPClient,
publicKey: CryptoKey,
privateKey: CryptoKey
) {
this.otp = otpClient;
this.publicKey = publicKey;
this.privateKey = privateKey;
}
async executeWithOTP(
action: string,
params: Record<string, unknown>
): Promise<{ success: boolean; code?: string; error?: string }> {
// 1. Request OTP
const request = await this.otp.requestOTP({
reason: `${action}: ${JSON.stringify(params)}`,
expectedSender: params.service as string,
filter: params.filter as { sources?: string[]; senderPattern?: string },
publicKey: await exportPublicKey(this.publicKey),
waitForOTP: true,
timeout: 120000,
});
// 2. Check status
if (request.status !== 'otp_received') {
return {
success: false,
error: `OTP request failed: ${request.status}`,
};
}
// 3. Consume the OTP
try {
const { code } = await this.otp.consumeOTP(request.id, this.privateKey);
return { success: true, code };
} catch (error) {
return {
success: false,
error: `Failed to consume OTP: ${error}`,
};
}
}
}
// Usage
const executor = new SecureAgentExecutor(otp, publicKey, privateKey);
const result = await executor.executeWithOTP('signup_verification', {
service: 'Acme Inc',
email: 'user@example.com',
filter: {
sources: ['email'],
senderPattern: '*@acme.com',
},
});
if (result.success) {
console.log('Received OTP:', result.code);
// Use the code for verification
}
export { OTPRequestStatus };
