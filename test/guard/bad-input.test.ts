import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { createGuard } from '../../src/guard/guard.ts';

// Hostile or malformed input to the guard's own options: a clear error when the guard is made, never a guard that
// silently misbehaves.

describe('guard options', () => {
  it('refuses an approval timeout a timer cannot hold, rather than denying every approval after 1 ms', () => {
    for (const approvalTimeoutMs of [3_000_000_000, Number.POSITIVE_INFINITY, Number.NaN, 0, -5]) {
      expect(() => createGuard({ policy: { version: 1 }, approvalTimeoutMs }), String(approvalTimeoutMs)).toThrow(
        ConfigError,
      );
    }
    expect(createGuard({ policy: { version: 1 }, approvalTimeoutMs: 2_147_483_647 }).approvalTimeoutMs).toBe(
      2_147_483_647,
    );
  });
});
