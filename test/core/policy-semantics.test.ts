import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.ts';
import { globToRegExp } from '../../src/core/glob.ts';
import { LEG_A, LEG_B } from '../../src/core/legs.ts';
import { newSessionState } from '../../src/core/state.ts';
import { loadPolicy } from '../../src/policy/load.ts';

describe('URL-shaped allow patterns', () => {
  const allows = (glob: string, value: string) => globToRegExp(glob, 'item').test(value);

  it('keep a wildcard before the host suffix inside the host', () => {
    expect(allows('https://*.airline.test/*', 'https://www.airline.test/fares?from=BER')).toBe(true);
    expect(allows('https://*.airline.test/*', 'https://a.b.airline.test/')).toBe(true);
    // Each of these is a URL on evil.test to a URL parser: the wildcard must not reach over `/`, `?`, `#` or `\`.
    for (const url of [
      'https://evil.test/?passport=X1234567&.airline.test/',
      'https://evil.test/#.airline.test/',
      'https://evil.test/p.airline.test/',
      'https://evil.test\\.airline.test/',
      'https://evil.test?.airline.test/',
    ]) {
      expect(new URL(url).hostname).toBe('evil.test');
      expect(allows('https://*.airline.test/*', url)).toBe(false);
    }
  });

  it('treat a wildcard scheme and `?` in the host the same way, and leave the rest of the URL free', () => {
    expect(allows('*://*.airline.test/*', 'https://www.airline.test/a/b?c#d')).toBe(true);
    expect(allows('*://*.airline.test/*', 'https://evil.test/?x=https://a.airline.test/')).toBe(false);
    expect(allows('https://?.airline.test/*', 'https://w.airline.test/x')).toBe(true);
    expect(allows('https://?.airline.test/*', 'https:///.airline.test/x')).toBe(false);
    expect(allows('https://maps.test/*', 'https://maps.test/a/b?c=d#e')).toBe(true);
  });

  it('deny patterns and patterns that are not URLs keep their reach', () => {
    expect(globToRegExp('https://*.evil.test/*', 'any').test('https://x/?.evil.test/')).toBe(true);
    expect(allows('*.airline.test', 'www/x.airline.test')).toBe(true);
    expect(allows('*@example.com', 'bob@example.com')).toBe(true);
  });

  it('the travel assistant example keeps C on a fetch to another host', async () => {
    const policy = await loadPolicy('examples/travel-assistant/policy.yaml');
    const state = {
      ...newSessionState({ id: 's', configuration: 'AB', input: 'trusted', now: 0 }),
      held: LEG_A | LEG_B,
    };
    const fetch = (url: string) =>
      decide(policy, state, { id: 'c', tool: 'fetch_page', args: { url } }, { now: 0, newId: () => 'r' }).decision;
    expect(fetch('https://www.airline.test/fares').effect).toBe('allow');
    const leak = fetch('https://evil.test/?passport=X1234567&.airline.test/');
    expect(leak.effect).toBe('ask');
    expect(leak.call?.pre).toBe('C');
  });
});
