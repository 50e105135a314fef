import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.ts';
import { globToRegExp } from '../../src/core/glob.ts';
import { LEG_A, LEG_B, LEG_C } from '../../src/core/legs.ts';
import { compileMatch } from '../../src/core/match.ts';
import { newSessionState } from '../../src/core/state.ts';
import { loadPolicy, policyFromText } from '../../src/policy/load.ts';

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

describe('argument conditions read only the paths they name', () => {
  it('a recipient allow-list holds with an outsider in another argument unless that argument is named too', () => {
    const legs = (match: string, args: unknown) =>
      policyFromText(
        `version: 1\nlists: { internal: ['*@example.com'] }\ntools:\n  send_email:\n    call: BC\n    when:\n      - match: ${match}\n        call: B\n`,
      )
        .resolve('send_email')
        .legsFor(args).pre;
    const bcc = { to: 'bob@example.com', bcc: 'eve@evil.test' };
    expect(legs('{ to: { in: internal } }', bcc)).toBe(LEG_B);
    const named = '{ to: { in: internal }, cc: { exists: false }, bcc: { exists: false } }';
    expect(legs(named, bcc)).toBe(LEG_B | LEG_C);
    expect(legs(named, { to: 'bob@example.com' })).toBe(LEG_B);
  });
});

describe('a regex allow-list', () => {
  it('has no item rule: a wildcard reaches over a second address unless the expression excludes separators', () => {
    const holds = (regex: string, to: string) => compileMatch({ to: { regex } }, new Map())({ to });
    expect(holds('.*@example\\.com', 'eve@evil.test, bob@example.com')).toBe(true);
    expect(holds('[^@,;\\s]+@example\\.com', 'eve@evil.test, bob@example.com')).toBe(false);
    expect(holds('[^@,;\\s]+@example\\.com', 'bob@example.com')).toBe(true);
  });
});
