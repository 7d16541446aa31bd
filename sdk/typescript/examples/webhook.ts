// The guide's "Webhook Integration" block. Differences, each on one line:
// the import specifier; webhookUrl points at this process's receiver (the
// guide's https://your-agent.com is a stand-in); and the signature check is
// `await verifySignature(req.rawBody, req.headers)`, because a Standard
// Webhooks signature covers the raw body and its id and timestamp headers,
// and WebCrypto's HMAC is asynchronous. The secret comes from
// AGENT_OTP_WEBHOOK_SECRET. The job store and `app` are in agent-app.ts.
import { exportPublicKey, verifySignature } from '@agentotp/sdk';
import { otp, publicKey, privateKey, jobId, saveJobState, getJobByOTPRequestId, completeJob, failJob, app, webhookBase, jobDone, close } from './agent-app.js';

// 1. Request OTP without waiting
const request = await otp.requestOTP({
reason: 'Signup verification',
publicKey: await exportPublicKey(publicKey),
waitForOTP: false, // Don't block
webhookUrl: `${webhookBase}/webhooks/otp`,
});
// Store request ID for later
await saveJobState({
jobId,
otpRequestId: request.id,
status: 'waiting_for_otp',
});
// 2. Handle webhook callback
app.post('/webhooks/otp', async (req, res) => {
const { request_id, status } = req.body;
// Verify webhook signature
if (!(await verifySignature(req.rawBody, req.headers))) {
return res.status(401).send('Invalid signature');
}
// Resume the job
const job = await getJobByOTPRequestId(request_id);
if (status === 'otp_received') {
// Consume the OTP
const { code } = await otp.consumeOTP(request_id, privateKey);
await completeJob(job, code);
} else if (status === 'denied' || status === 'expired') {
await failJob(job, `OTP ${status}`);
}
res.status(200).send('OK');
});

const job = await jobDone;
console.log(job.code ? `Received OTP: ${job.code}` : `Job failed: ${job.error}`);
close();
