import { describe, expect, it } from 'vitest';
import { messageWithCauses } from '../../src/errors.ts';

describe('messageWithCauses', () => {
  it('follows the chain of causes, skipping one that repeats what is said, and stops after four', () => {
    const root = new Error('self-signed certificate');
    const fetchFailed = new TypeError('fetch failed', { cause: root });
    expect(messageWithCauses(new Error('probe failed: fetch failed', { cause: fetchFailed }))).toBe(
      'probe failed: fetch failed (self-signed certificate)',
    );
    let deep = new Error('level 6');
    for (let level = 5; level >= 1; level--) deep = new Error(`level ${level}`, { cause: deep });
    expect(messageWithCauses(deep)).toBe('level 1 (level 2) (level 3) (level 4) (level 5)');
  });

  it('says what was thrown when it is not an error', () => {
    expect(messageWithCauses('socket closed')).toBe('socket closed');
    expect(messageWithCauses(new Error('x', { cause: 'not an error' }))).toBe('x');
  });
});
