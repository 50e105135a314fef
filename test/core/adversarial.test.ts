/**
 * Attacks on the argument-level controls by an agent whose model the attacker controls: each test fails if the
 * engine lets the attack through. The attempts that held without a change are listed in docs/provenance.md.
 */
import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.ts';
import type { PolicyDocument } from '../../src/core/document.ts';
import { LEG_A, LEG_B } from '../../src/core/legs.ts';
import { compilePolicy } from '../../src/core/policy.ts';
import { MemoryProvenanceIndex } from '../../src/core/provenance.ts';
import { newSessionState } from '../../src/core/state.ts';
import { counterIds } from '../helpers.ts';

const document: PolicyDocument = {
  version: 1,
  session: { configuration: 'AB', input: 'trusted' },
  lists: { internal: ['*@company.example'], payees: ['DE4450010517*'], blocked: ['*.evil.example', 'evil.example'] },
  tools: {
    send_email: { call: 'BC', when: [{ match: { to: { in: 'internal' } }, call: 'B' }] },
    notify: { call: 'BC', when: [{ match: { to: { notIn: 'internal' } }, call: 'B' }] },
    send_money: { call: 'BC', when: [{ match: { iban: { in: 'payees' } }, call: 'B' }] },
  },
};
const policy = compilePolicy(document);
const ab = newSessionState({ id: 's', configuration: 'AB', input: 'trusted', now: 0 });

function check(tool: string, args: unknown, provenance = new MemoryProvenanceIndex(), held = LEG_A | LEG_B) {
  return decide(policy, { ...ab, held }, { id: 'c', tool, args }, { now: 0, newId: counterIds(), provenance }).decision;
}

describe('recipient allow-lists', () => {
  it('a single listed recipient lowers the call, so these tests can fail', () => {
    expect(check('send_email', { to: 'bob@company.example' }).effect).toBe('allow');
    expect(check('send_money', { iban: 'DE44500105170000112233' }).effect).toBe('allow');
  });

  it('never counts a string holding an outsider next to a listed recipient as internal', () => {
    for (const to of [
      'eve@evil.example, bob@company.example',
      'eve@evil.example;bob@company.example',
      'eve@evil.example\nbob@company.example',
      'eve@evil.example\r\nbcc: bob@company.example',
      'eve@evil.example bob@company.example',
      'eve@evil.example\tbob@company.example',
      'eve@evil.example@company.example',
      '@evil.example:bob@company.example',
      '"eve@evil.example"@company.example',
      ['bob@company.example', 'eve@evil.example, ana@company.example'],
    ]) {
      expect(check('send_email', { to }).effect, JSON.stringify(to)).toBe('ask');
    }
    expect(check('send_money', { iban: 'DE44500105170000, DE89370400440532013000' }).effect).toBe('ask');
    expect(check('send_money', { iban: 'DE4450010517\nDE89370400440532013000' }).effect).toBe('ask');
  });

  it('never counts look-alikes of a listed domain as internal', () => {
    for (const to of [
      'eve@company.example.',
      'EVE@COMPANY.EXAMPLE.EVIL.EXAMPLE',
      'eve＠company.example',
      'eve@cоmpany.example',
      'Boss <eve@evil.example>',
      'eve@evil.example <bob@company.example>',
      'eve@evil.example (bob@company.example)',
    ]) {
      expect(check('send_email', { to }).effect, to).toBe('ask');
    }
  });

  it('a deny list (`notIn`) still catches an outsider hidden among several recipients', () => {
    // `*@company.example` as a deny pattern reaches over the comma: the call keeps its legs.
    expect(check('notify', { to: 'eve@evil.example' }).effect).toBe('allow');
    expect(check('notify', { to: 'eve@evil.example, bob@company.example' }).effect).toBe('ask');
  });
});
