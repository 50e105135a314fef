import { describe, expect, it } from 'vitest';
import { parsePolicy } from '../../src/policy/load.ts';

// Hostile or malformed policy files: every one ends in a document or in issues that say what and where, in bounded
// time. Alias bombs, deep nesting, tags, tabs and key collisions have frozen fixtures (test/policy/fixtures.test.ts).

const manyTools = (count: number, line: (i: number) => string) =>
  `version: 1\ntools:\n${Array.from({ length: count }, (_, i) => line(i)).join('\n')}\n`;

describe('large policy files', () => {
  it('reads a mapping of 40 000 tools without a quadratic duplicate-key check', () => {
    // The YAML library compared each key with every earlier one: 16 000 tools took 18 s, 200 000 (a 4 MB file) over
    // an hour; `ruleoftwo validate` and the gateway's start hung on it. Well inside the timeout once linear.
    const parsed = parsePolicy(manyTools(40_000, (i) => `  tool_${i}: A`));
    expect(parsed.ok && Object.keys(parsed.document.tools ?? {}).length).toBe(40_000);
  }, 30_000);

  it('still names a duplicate key among many, at its line', () => {
    const text = manyTools(40_000, (i) => `  tool_${i === 39_999 ? 7 : i}: A`);
    const parsed = parsePolicy(text);
    expect(parsed.ok ? [] : parsed.issues).toEqual([
      { code: 'syntax_error', path: '', message: 'map keys must be unique', line: 40_002 },
    ]);
  }, 30_000);
});

describe('durations past what a timer can hold', () => {
  it('reports an approval ttl longer than 596h instead of timing every approval out at once', () => {
    // Node's timers hold at most 2^31-1 ms (24.8 days); a longer `ttl` became the approver's wait and was cut to 1 ms
    // with a TimeoutOverflowWarning on stderr, so every approval was denied as unanswered.
    for (const ttl of ['600h', '99999999999999999999999h', '3000000000']) {
      const parsed = parsePolicy(`version: 1\napprovals:\n  ttl: ${ttl}\n`);
      expect(parsed.ok ? [] : parsed.issues, ttl).toEqual([
        expect.objectContaining({ code: 'invalid_duration', path: 'approvals.ttl', line: 3 }),
      ]);
      expect(parsed.ok ? '' : parsed.issues[0]?.message).toMatch(/at most 596h/);
    }
    expect(parsePolicy('version: 1\napprovals:\n  ttl: 596h\n').ok).toBe(true);
  });
});
