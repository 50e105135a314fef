/**
 * Adversarial review of issue 5 at the guard: what the guard treats as trusted input must not include values the
 * policy names to refuse them.
 */
import { describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../../src/core/document.ts';
import { compilePolicy } from '../../src/core/policy.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { counterIds } from '../helpers.ts';

const FRAUD = 'DE89370400440532013000';

const document: PolicyDocument = {
  version: 1,
  session: { configuration: 'dynamic', input: 'trusted' },
  lists: {
    payees: ['DE44500105175407324931'],
    fraud: [FRAUD, 'https://evil.example/pay'],
    phishing: ['https://evil.example/login'],
  },
  tools: {
    read_invoice: { output: 'A' },
    send_money: {
      call: 'BC',
      when: [{ match: { recipient: { in: 'payees' } }, call: 'B' }],
      results: [{ match: { status: { notIn: 'fraud' } }, output: '' }],
      args: { recipient: { untrusted: 'deny' } },
    },
    fetch: { call: 'C', output: 'A', args: { url: { url: { from: 'trusted', deny: 'phishing' } } } },
  },
};

describe('values of deny lists', () => {
  it('are not trusted input: the fraudulent IBAN a deny list names is still flagged when an invoice brings it', async () => {
    expect(compilePolicy(document).constants).toEqual(['DE44500105175407324931']);
    const guard = createGuard({ policy: document, newId: counterIds() });
    const session = await guard.session('s1', { request: 'pay the invoice' });
    await session.check({ id: 'c1', tool: 'read_invoice', args: {} });
    await session.record('c1', `Our new account: ${FRAUD}`);
    const pay = await session.check({ id: 'c2', tool: 'send_money', args: { recipient: FRAUD } });
    expect(pay.reasons.map((r) => r.code)).toContain('argument_from_untrusted_output');
    expect(pay.effect).toBe('deny');
  });

  it('a URL a deny list names is not a URL a trusted source gave', async () => {
    const guard = createGuard({ policy: document, newId: counterIds() });
    const session = await guard.session('s1');
    const decision = await session.check({ id: 'c1', tool: 'fetch', args: { url: 'https://evil.example/pay' } });
    expect(decision.reasons.map((r) => r.code)).toContain('url_not_from_trusted_source');
  });
});
