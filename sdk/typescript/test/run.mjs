// `npm test`: builds the relay from this repository, compiles the
// examples, and runs every suite with node --test against real relays.
// Exits non-zero on any failure. Without a Go toolchain the relay suites
// skip with a message, except under CI=true, where that is a failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const pkg = resolve(here, '..');
const repo = resolve(pkg, '..', '..'); // sdk/typescript → the repository root
const ci = process.env.CI === 'true';
const env = { ...process.env };

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.error) return { ok: false, error: r.error };
  return { ok: r.status === 0, status: r.status };
}

if (!existsSync(join(pkg, 'dist', 'index.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

// The relay.
if (!env.AGENTOTP_BIN) {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    const why = 'the Go toolchain (go) is not installed, so no relay can be built; relay tests are skipped';
    if (ci) {
      console.error(`FAIL: ${why} (CI=true)`);
      process.exit(1);
    }
    console.error(`SKIP: ${why}`);
    env.AGENTOTP_SKIP_REASON = why;
  } else {
    const bin = join(mkdtempSync(join(tmpdir(), 'agentotp-bin-')), 'agentotp');
    console.error(`building the relay: go build -o ${bin} ./cmd/agentotp`);
    const b = run('go', ['build', '-o', bin, './cmd/agentotp'], { cwd: repo });
    if (!b.ok) {
      console.error('FAIL: go build ./cmd/agentotp failed');
      process.exit(1);
    }
    env.AGENTOTP_BIN = bin;
  }
}

// The examples, type-checked with --strict and compiled to plain JS.
const tsc = join(pkg, 'node_modules', 'typescript', 'bin', 'tsc');
if (existsSync(join(pkg, 'examples', 'tsconfig.json')) && !run(process.execPath, [tsc, '-p', join(pkg, 'examples', 'tsconfig.json')], { cwd: pkg }).ok) {
  console.error('FAIL: the examples do not type-check');
  process.exit(1);
}

const files = readdirSync(here).filter((f) => f.endsWith('.test.mjs')).sort().map((f) => join(here, f));
const only = process.argv.slice(2);
const chosen = only.length ? files.filter((f) => only.some((o) => f.includes(o))) : files;
const t = run(process.execPath, ['--test', '--test-concurrency=3', '--test-timeout=120000', ...chosen], { cwd: pkg, env });
process.exit(t.ok ? 0 : 1);
