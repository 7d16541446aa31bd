// The guide's "Testing Integration" block; the import specifier differs, and
// the second import gives it the test-runner globals it expects. Run with
// `node --test examples/dist/testing-integration.js` and AGENT_OTP_TEST_KEY set.
import { describe, it, beforeAll, expect } from './jest-like.js';
import { AgentOTPClient, generateKeyPair, exportPublicKey } from '@agentotp/sdk';
describe('OTP Integration', () => {
let otp: AgentOTPClient;
let publicKey: CryptoKey;
let privateKey: CryptoKey;
beforeAll(async () => {
// Use test API key (auto-approves requests)
otp = new AgentOTPClient({
apiKey: process.env.AGENT_OTP_TEST_KEY!,
});
const keyPair = await generateKeyPair();
publicKey = keyPair.publicKey;
privateKey = keyPair.privateKey;
});
it('should request and consume OTP', async () => {
const request = await otp.requestOTP({
reason: 'Test verification',
publicKey: await exportPublicKey(publicKey),
waitForOTP: true,
});
expect(request.status).toBe('otp_received');
const { code } = await otp.consumeOTP(request.id, privateKey);
expect(code).toBeDefined();
expect(code.length).toBeGreaterThan(0);
});
it('should handle cancellation', async () => {
const request = await otp.requestOTP({
reason: 'Test cancellation',
publicKey: await exportPublicKey(publicKey),
waitForOTP: false,
});
await otp.cancelOTPRequest(request.id);
const status = await otp.getOTPStatus(request.id);
expect(status.status).toBe('cancelled');
});
});
