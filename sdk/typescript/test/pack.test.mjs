// The SDK as a user gets it: `npm pack`, the tarball installed into a fresh
// project in a temporary directory with no path into this repository, and
// the guide's SecureAgentExecutor run there with plain `node` (no bundler,
// no TypeScript loader) against a real relay.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { skipReason, startRelay, waitForOwnerRequest } from './relay.mjs';

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';

describe('the packed SDK in a fresh project', { skip: skipReason }, () => {
  let relay;
  let work;
  before(async () => {
    relay = await startRelay();
    work = realpathSync(mkdtempSync(join(tmpdir(), 'agentotp-user-')));
  });
  after(async () => {
    await relay?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('npm pack → npm install → node secure-agent-executor.js', async () => {
    const packed = execFileSync(npm, ['pack', '--silent', '--pack-destination', work], { cwd: pkg, encoding: 'utf8' }).trim().split('\n').pop();
    const tarball = join(work, packed);
    const project = join(work, 'project');
    execFileSync('mkdir', [project]);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'my-agent', version: '1.0.0', private: true, type: 'module' }));
    // Dependencies come from the registry (through npm's cache, so mostly offline).
    execFileSync(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--silent', tarball], { cwd: project, stdio: 'inherit' });
    const installed = readdirSync(join(project, 'node_modules', '@agentotp', 'sdk'));
    assert.ok(installed.includes('dist') && !installed.includes('src') && !installed.includes('test'), installed.join(' '));
    copyFileSync(join(pkg, 'examples', 'dist', 'secure-agent-executor.js'), join(project, 'agent.js'));

    const agent = await relay.createAgent(true);
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENT_OTP_') && !k.startsWith('AGENTOTP_') && k !== 'NODE_TEST_CONTEXT'));
    const child = spawn(process.execPath, ['agent.js'], { cwd: project, env: { ...env, AGENT_OTP_API_KEY: agent.apiKey, AGENT_OTP_BASE_URL: relay.url } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((r) => child.on('exit', r));
    await waitForOwnerRequest(relay, agent.id, (x) => x.status === 'approved');
    const sent = await fetch(`${relay.url}/v1/test/messages`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${agent.apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ source: 'email', sender: 'noreply@acme.com', text: 'Your Acme verification code is 418207.' }),
    });
    assert.equal(sent.status, 202);
    assert.equal(await exited, 0, stderr);
    assert.equal(stdout, 'Received OTP: 418207\n');
  });
});
