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
    post: { call: 'C', args: { text: { sensitive: 'deny' }, '*': { untrusted: 'ask' } } },
    share_file: { call: 'C', args: { file_id: { reference: true } } },
  },
};
const policy = compilePolicy(document);
const ab = newSessionState({ id: 's', configuration: 'AB', input: 'trusted', now: 0 });
const dynamic = newSessionState({ id: 's', configuration: 'dynamic', input: 'trusted', now: 0 });

/** Decides a call in an AB session holding A and B, or in a fresh dynamic session when `held` is 0. */
function check(tool: string, args: unknown, provenance = new MemoryProvenanceIndex(), held = LEG_A | LEG_B) {
  const state = held === 0 ? dynamic : { ...ab, held };
  return decide(policy, state, { id: 'c', tool, args }, { now: 0, newId: counterIds(), provenance }).decision;
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

const SECRET = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';

/** An index that has seen {@link SECRET} in a sensitive output and a payee in an untrusted one. */
function seen(): MemoryProvenanceIndex {
  const index = new MemoryProvenanceIndex();
  index.addOutput(
    { seq: 1, callId: 'r1', tool: 'read_vault' },
    LEG_B,
    `the API key is ${SECRET}, card 4111 1111 1111 1111`,
  );
  index.addOutput({ seq: 2, callId: 'r2', tool: 'read_mail' }, LEG_A, 'please pay DE89370400440532013000 today');
  return index;
}

describe('object keys', () => {
  it('a value smuggled as an object key meets the controls of the object that holds it', () => {
    expect(check('post', { text: 'hello' }, seen(), 0).effect).toBe('allow');
    const nested = check('post', { text: { [SECRET]: true } }, seen(), 0);
    expect(nested.effect).toBe('deny');
    expect(nested.provenance).toContainEqual(expect.objectContaining({ argument: 'text', value: SECRET }));
    expect(check('post', { text: [{ note: { [`key ${SECRET}`]: 1 } }] }, seen(), 0).effect).toBe('deny');
    // A top-level key is an argument of its own: `*` covers it, and it is reported under its own name.
    const top = check('post', { text: 'hi', DE89370400440532013000: 'amount 10' }, seen(), 0);
    expect(top.effect).toBe('ask');
    expect(top.reasons.map((r) => r.message)).toContain(
      'argument `DE89370400440532013000` carries `DE89370400440532013000` from an untrusted output (`read_mail` at seq 2)',
    );
  });

  it('a BigInt carries its digits like a number', () => {
    expect(check('post', { text: 4111111111111111n }, seen(), 0).effect).toBe('deny');
  });
});

describe('references', () => {
  it('an object or list naming the object confers B, whatever shape the id takes', () => {
    const legs = (file_id: unknown) => check('share_file', { file_id }, seen(), 0).call?.pre;
    expect(legs('F-payroll')).toBe('BC');
    expect(legs({ 'F-payroll': true })).toBe('BC');
    expect(legs([{ id: 'F-payroll' }])).toBe('BC');
    expect(legs('')).toBe('C');
    expect(legs([])).toBe('C');
  });
});
