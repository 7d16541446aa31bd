// A real relay for the tests: the agentotp binary built from this
// repository (test/run.mjs builds it and sets AGENTOTP_BIN), started on a
// free loopback port with its own data directory. Nothing is mocked.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Why relay tests cannot run here, or undefined when they can. */
export const skipReason = process.env.AGENTOTP_BIN
  ? undefined
  : process.env.AGENTOTP_SKIP_REASON || 'AGENTOTP_BIN is not set: run the tests with `npm test`, which builds the relay';

// The relay reads its flags from AGENTOTP_* variables too; none of the
// caller's may leak into a test relay.
function relayEnv() {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTOTP_')));
}

/** A free loopback TCP port. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Starts a relay. extraArgs go to `agentotp serve` (e.g. --cors-origin).
 * `at` reuses a data directory and port ({ dir, port }: a restart).
 * Returns { url, ownerToken, owner(method, path, body), createAgent(test),
 * kill(signal), close() }.
 */
export async function startRelay(extraArgs = [], at = {}) {
  if (skipReason) throw new Error(skipReason);
  const dir = at.dir ?? mkdtempSync(join(tmpdir(), 'agentotp-ts-'));
  const port = at.port ?? await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    process.env.AGENTOTP_BIN,
    ['serve', '--addr', `127.0.0.1:${port}`, '--data', dir, '--log-format', 'json', '--log-level', 'warn', '--sweep-interval', '1s', ...extraArgs],
    { stdio: ['ignore', 'ignore', 'pipe'], env: relayEnv() },
  );
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`relay exited (${child.exitCode}): ${stderr}`);
    try {
      const r = await fetch(`${url}/readyz`);
      if (r.ok && existsSync(join(dir, 'owner.token'))) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`relay did not start in 20 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const ownerToken = readFileSync(join(dir, 'owner.token'), 'utf8').trim();

  async function owner(method, path, body) {
    const r = await fetch(url + path, {
      method,
      headers: { Authorization: `Bearer ${ownerToken}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`owner ${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : {};
  }

  let n = 0;
  return {
    url,
    dir,
    ownerToken,
    owner,
    /** A new agent: { apiKey, webhookSecret, id }. */
    async createAgent(test = true) {
      const a = await owner('POST', '/v1/owner/agents', { name: `ts-agent-${++n}`, test });
      return { apiKey: a.api_key, webhookSecret: a.webhook_secret, id: a.agent.id };
    },
    /** A new capture source's token. */
    async createSource(kind = 'email') {
      const s = await owner('POST', '/v1/owner/sources', { name: `ts-src-${++n}`, kind });
      return s.token;
    },
    /** Posts a message as a capture source. */
    async ingest(sourceToken, message) {
      const r = await fetch(`${url}/v1/messages`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${sourceToken}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(message),
      });
      const text = await r.text();
      if (!r.ok) throw new Error(`ingest: ${r.status} ${text}`);
      return JSON.parse(text);
    },
    approve: (id) => owner('POST', `/v1/owner/requests/${id}/approve`, {}),
    deny: (id, reason) => owner('POST', `/v1/owner/requests/${id}/deny`, { reason }),
    /** The owner's view of an agent's requests, newest first. */
    async requests(agentId) {
      return (await owner('GET', `/v1/owner/requests?agent_id=${agentId}`)).data;
    },
    stderr: () => stderr,
    port,
    /** Stops the relay with signal (SIGTERM, SIGKILL) and waits for it to exit; the data stays. */
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        await exited;
      }
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Waits, by short owner-API polls bounded to `ms`, until an agent has a
 * request matching pred (test plumbing only: the SDK itself long-polls).
 */
export async function waitForOwnerRequest(relay, agentId, pred = () => true, ms = 20_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const found = (await relay.requests(agentId)).find(pred);
    if (found) return found;
    if (Date.now() > deadline) throw new Error('no matching request appeared');
    await new Promise((r) => setTimeout(r, 50));
  }
}
