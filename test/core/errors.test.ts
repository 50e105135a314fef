import { describe, expect, it } from 'vitest';
import { messageWithCauses, quotedUrl } from '../../src/errors.ts';

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

  it('hides the userinfo and query of a URL in the message, as fetch quotes it', async () => {
    const error = await fetch('http://alice:s3cret@127.0.0.1:1/mcp?key=k3y#frag').catch((e: unknown) => e);
    const message = messageWithCauses(new Error('did not start', { cause: error }));
    expect(message).toContain('http://***@127.0.0.1:1/mcp?***');
    expect(message).not.toMatch(/alice|s3cret|k3y|frag/);
  });
});

describe('quotedUrl', () => {
  it('drops userinfo, query and fragment, from a URL that parses and from a mistyped one', () => {
    expect(quotedUrl('https://user:token@host.test/mcp?key=k#f')).toBe('https://***@host.test/mcp?***');
    expect(quotedUrl('https://host.test/a@b/mcp')).toBe('https://host.test/a@b/mcp');
    expect(quotedUrl('https://user:token@ho st/mcp?key=k')).toBe('https://***@ho st/mcp?***');
    expect(quotedUrl('htps//user:token@host/mcp')).toBe('htps//***@host/mcp');
    expect(quotedUrl('https://u@p@host/x')).toBe('https://***@host/x');
  });
});
