// The integration guide's TypeScript blocks, as they stand in examples/
// (compiled by test/run.mjs with tsc --strict), each run as its own Node
// process against a real relay, the way a user runs them.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { skipReason, startRelay, waitForOwnerRequest } from './relay.mjs';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(pkg, 'examples', 'dist');

/** Runs a compiled example with the agent's key; resolves to { status, stdout, stderr }. */
function runExample(file, env, nodeArgs = [], scriptArgs = []) {
  return new Promise((resolveRun, reject) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENT_OTP_') && !k.startsWith('AGENTOTP_') && k !== 'NODE_TEST_CONTEXT'));
    const child = spawn(process.execPath, [...nodeArgs, join(dist, file), ...scriptArgs], { cwd: pkg, env: { ...clean, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`${file} did not finish in 60 s: ${stderr}`)); }, 60_000);
    child.on('error', reject);
    child.on('exit', (status) => { clearTimeout(timer); resolveRun({ status, stdout, stderr }); });
  });
}

describe('the guide\'s TypeScript examples against a real relay', { skip: skipReason }, () => {
  let relay;
  before(async () => { relay = await startRelay(); });
  after(() => relay?.close());

  const envFor = (agent) => ({ AGENT_OTP_API_KEY: agent.apiKey, AGENT_OTP_BASE_URL: relay.url });

  it('SecureAgentExecutor with the email filter: a test key, then the message it waits for', async () => {
    const agent = await relay.createAgent(true);
    const run = runExample('secure-agent-executor.js', envFor(agent));
    const r = await waitForOwnerRequest(relay, agent.id, (x) => x.status === 'approved');
    assert.deepEqual(r.filter, { sources: ['email'], sender_pattern: '*@acme.com' });
    assert.equal(r.expected_sender, 'Acme Inc');
    const sent = await fetch(`${relay.url}/v1/test/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${agent.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: 'email', sender: 'noreply@acme.com', subject: 'Welcome to Acme', text: 'Your Acme verification code is 731942.' }),
    });
    assert.equal(sent.status, 202, await sent.text());
    const out = await run;
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, 'Received OTP: 731942\n');
  });

  it('SecureAgentExecutor with a live key: the owner approves while it waits, a source delivers', async () => {
    const agent = await relay.createAgent(false);
    const source = await relay.createSource('email');
    const run = runExample('secure-agent-executor.js', envFor(agent));
    const r = await waitForOwnerRequest(relay, agent.id, (x) => x.status === 'pending_approval');
    await relay.approve(r.id);
    await relay.ingest(source, { source: 'email', sender: 'Acme <noreply@acme.com>', subject: 'Your code', text: 'Your Acme verification code is 552910.' });
    const out = await run;
    assert.equal(out.status, 0, out.stderr);
    assert.equal(out.stdout, 'Received OTP: 552910\n');
    const [done] = await relay.requests(agent.id);
    assert.equal(done.status, 'consumed');
    assert.equal(done.decided_by, 'owner');
  });

  it('pollForOTP returns the code', async () => {
    const out = await runExample('poll-for-otp.js', envFor(await relay.createAgent(true)));
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /^Received OTP: \d{6}\n$/);
  });

  it('createOTPMiddleware hands the code to next()', async () => {
    const out = await runExample('middleware.js', envFor(await relay.createAgent(true)));
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /^Received OTP: \d{6}\n$/);
  });

  it('the error-handling block: success, a validation error, an authentication error', async () => {
    const env = envFor(await relay.createAgent(true));
    const ok = await runExample('error-handling.js', env);
    assert.equal(ok.status, 0, ok.stderr);
    const res = JSON.parse(ok.stdout);
    assert.equal(res.success, true);
    assert.match(res.code, /^\d{6}$/);

    const invalid = await runExample('error-handling.js', env, [], ['']); // an empty reason
    assert.equal(invalid.status, 0, invalid.stderr);
    const v = JSON.parse(invalid.stdout);
    assert.equal(v.success, false);
    assert.match(v.error, /^Validation: .*reason/);

    const bad = await runExample('error-handling.js', { ...env, AGENT_OTP_API_KEY: 'ak_live_' + 'x'.repeat(40) });
    assert.equal(bad.status, 0, bad.stderr);
    assert.deepEqual(JSON.parse(bad.stdout), { success: false, error: 'Authentication failed' });
    assert.match(bad.stderr, /Invalid API key/);
  });

  it('the Testing Integration block passes under node --test with a test key', async () => {
    const agent = await relay.createAgent(true);
    const out = await runExample('testing-integration.js', { AGENT_OTP_TEST_KEY: agent.apiKey, AGENT_OTP_BASE_URL: relay.url }, ['--test']);
    assert.equal(out.status, 0, out.stdout + out.stderr);
    assert.match(out.stdout, /# pass 2/);
    assert.match(out.stdout, /# fail 0/);
  });
});

describe('the guide\'s webhook block against a real relay', { skip: skipReason }, () => {
  let relay;
  before(async () => { relay = await startRelay(['--allow-private-webhooks', '--webhook-retry-base', '200ms']); });
  after(() => relay?.close());

  it('a signed otp_received delivery resumes the job, which consumes the code', async () => {
    const agent = await relay.createAgent(true);
    const out = await runExample('webhook.js', { AGENT_OTP_API_KEY: agent.apiKey, AGENT_OTP_BASE_URL: relay.url, AGENT_OTP_WEBHOOK_SECRET: agent.webhookSecret });
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /^Received OTP: \d{6}\n$/);
    const [done] = await relay.requests(agent.id);
    assert.equal(done.status, 'consumed');
  });

});
