// The few test-runner globals the guide's "Testing Integration" block uses
// (describe, it, beforeAll, expect), on Node's own node:test and assert, so
// the block runs with `node --test` and no test framework installed.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';

export { describe, it, before as beforeAll };

export function expect<T>(actual: T) {
  return {
    toBe(expected: T): void {
      assert.strictEqual(actual, expected);
    },
    toBeDefined(): void {
      assert.notStrictEqual(actual, undefined);
    },
    toBeGreaterThan(n: number): void {
      assert.ok((actual as unknown as number) > n, `${String(actual)} is not greater than ${n}`);
    },
  };
}
