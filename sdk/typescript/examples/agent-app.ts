// What the guide's webhook block takes from the agent around it: a job
// store, an HTTP app with `app.post` that keeps the raw body next to the
// parsed one, and the client and keys of the guide's first block. Plain
// node:http, no framework.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { AgentOTPClient, generateKeyPair } from '@agentotp/sdk';

export const otp = new AgentOTPClient({ apiKey: process.env.AGENT_OTP_API_KEY! });
export const { publicKey, privateKey } = await generateKeyPair();
export const jobId = 'job-1';

type Job = { jobId: string; otpRequestId: string; status: string; code?: string; error?: string };
const jobs = new Map<string, Job>();
let finished: (job: Job) => void = () => {};
/** Resolves with the job once completeJob or failJob has run. */
export const jobDone = new Promise<Job>((resolve) => { finished = resolve; });

export async function saveJobState(job: Job): Promise<void> {
  jobs.set(job.otpRequestId, job);
}
export async function getJobByOTPRequestId(id: string): Promise<Job> {
  const job = jobs.get(id);
  if (!job) throw new Error(`no job waits for ${id}`);
  return job;
}
export async function completeJob(job: Job, code: string): Promise<void> {
  Object.assign(job, { status: 'done', code });
  finished(job);
}
export async function failJob(job: Job, error: string): Promise<void> {
  Object.assign(job, { status: 'failed', error });
  finished(job);
}

type Req = { body: any; rawBody: string; headers: IncomingMessage['headers'] };
type Res = { status(code: number): Res; send(text: string): Res };
type Handler = (req: Req, res: Res) => Promise<unknown>;
const routes = new Map<string, Handler>();

/** The app: routes POSTs to their handlers. */
export const app = {
  post(path: string, handler: Handler): void {
    routes.set(path, handler);
  },
};

const server = createServer((inc: IncomingMessage, out: ServerResponse) => {
  const chunks: Buffer[] = [];
  inc.on('data', (c: Buffer) => chunks.push(c));
  inc.on('end', () => {
    const handler = inc.method === 'POST' ? routes.get(new URL(inc.url ?? '/', 'http://x').pathname) : undefined;
    if (!handler) {
      out.writeHead(404).end();
      return;
    }
    const rawBody = Buffer.concat(chunks).toString('utf8');
    let body: unknown = null;
    try { body = JSON.parse(rawBody); } catch { /* left null: the signature check refuses it */ }
    let code = 200;
    const res: Res = {
      status(c) { code = c; return res; },
      send(text) { out.writeHead(code, { 'Content-Type': 'text/plain' }).end(text); return res; },
    };
    handler({ body, rawBody, headers: inc.headers }, res).catch((e: unknown) => {
      out.writeHead(500).end(String(e));
    });
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const addr = server.address();
/** Where the relay posts: this app's /webhooks/otp. */
export const webhookBase = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
export function close(): void {
  server.close();
}
