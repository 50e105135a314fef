import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.ts';
import type { PolicyDocument } from '../../src/core/document.ts';
import { LEG_A, LEG_B, LEG_C } from '../../src/core/legs.ts';
import { compileMatch, readPath } from '../../src/core/match.ts';
import { compilePolicy } from '../../src/core/policy.ts';
import { newSessionState } from '../../src/core/state.ts';
import { recordResult } from '../../src/core/transitions.ts';

const lists = new Map([['internal', ['*@corp.test', 'ops@partner.test']]]);
const holds = (spec: Parameters<typeof compileMatch>[0], subject: unknown) => compileMatch(spec, lists)(subject);

describe('argument matchers', () => {
  it('treat a bare scalar as equals', () => {
    expect(holds({ to: 'bob' }, { to: 'bob' })).toBe(true);
    expect(holds({ to: 'bob' }, { to: 'bobby' })).toBe(false);
    expect(holds({ n: 3 }, { n: '3' })).toBe(false);
    expect(holds({ flag: null }, { flag: null })).toBe(true);
  });

  it('match `in` and `notIn` against named lists and inline globs', () => {
    expect(holds({ to: { in: 'internal' } }, { to: 'bob@corp.test' })).toBe(true);
    expect(holds({ to: { in: 'internal' } }, { to: 'bob@corp.test.evil.test' })).toBe(false);
    expect(holds({ to: { in: ['*.corp.test'] } }, { to: 'x.corp.test' })).toBe(true);
    expect(holds({ to: { in: ['*.corp.test'] } }, { to: 'xcorp.test' })).toBe(false);
    expect(holds({ to: { notIn: 'internal' } }, { to: 'eve@evil.test' })).toBe(true);
    expect(holds({ to: { notIn: 'internal' } }, { to: 42 })).toBe(false);
  });

  it('require every element of a list, and a non-empty list', () => {
    expect(holds({ to: { in: 'internal' } }, { to: ['a@corp.test', 'b@corp.test'] })).toBe(true);
    expect(holds({ to: { in: 'internal' } }, { to: ['a@corp.test', 'eve@evil.test'] })).toBe(false);
    expect(holds({ to: { in: 'internal' } }, { to: [] })).toBe(false);
    expect(holds({ to: { in: 'internal' } }, { to: [['a@corp.test']] })).toBe(false);
  });

  it('anchor regular expressions to the whole value', () => {
    expect(holds({ url: { regex: 'https://docs\\.corp\\.test/.*' } }, { url: 'https://docs.corp.test/a' })).toBe(true);
    expect(holds({ url: { regex: 'https://docs\\.corp\\.test/.*' } }, { url: 'x https://docs.corp.test/a' })).toBe(
      false,
    );
    expect(holds({ url: { regex: 'a|b' } }, { url: 'ab' })).toBe(false);
  });

  it('test presence and numeric bounds, all tests of a matcher together', () => {
    expect(holds({ cc: { exists: false } }, { to: 'x' })).toBe(true);
    expect(holds({ cc: { exists: true } }, { to: 'x' })).toBe(false);
    expect(holds({ amount: { gte: 5, lt: 10 } }, { amount: 5 })).toBe(true);
    expect(holds({ amount: { gte: 5, lt: 10 } }, { amount: 10 })).toBe(false);
    expect(holds({ amount: { lte: 10 } }, { amount: '1' })).toBe(false);
    expect(holds({ amount: { gt: 0 } }, {})).toBe(false);
    expect(holds({}, undefined)).toBe(true);
  });

  it('read dot paths through objects and array indexes, own properties only', () => {
    expect(readPath({ message: { to: ['a', 'b'] } }, 'message.to.1')).toBe('b');
    expect(readPath({ message: { to: ['a'] } }, 'message.to.1')).toBeUndefined();
    expect(readPath({ a: 1 }, 'toString')).toBeUndefined();
    expect(readPath({ a: 1 }, 'constructor.name')).toBeUndefined();
    expect(readPath(Object.create({ inherited: 'x' }), 'inherited')).toBeUndefined();
    expect(holds({ 'a.__proto__': { exists: true } }, { a: {} })).toBe(false);
  });
});

const document: PolicyDocument = {
  version: 1,
  lists: { internal: ['*@corp.test'] },
  tools: {
    send_email: {
      call: 'BC',
      when: [
        { match: { to: { in: 'internal' } }, call: 'B' },
        { match: { to: 'press@corp.example' }, call: 'C' },
      ],
    },
    fetch: { output: 'A', when: [{ match: { url: { regex: 'https://docs\\.corp\\.test/.*' } }, output: 'none' }] },
    read_inbox: {
      call: 'B',
      output: 'AB',
      results: [
        { match: { from: { in: 'internal' } }, output: 'B' },
        { match: { from: { exists: true } }, output: 'AB' },
      ],
    },
  },
};
const policy = compilePolicy(document);

describe('argument conditions', () => {
  it('replace the legs they name, first match wins, the rest keep the tool’s own', () => {
    const send = policy.resolve('send_email');
    expect(send.legsFor({ to: 'bob@corp.test' })).toEqual({ pre: LEG_B, post: 0, source: 'when[0]' });
    expect(send.legsFor({ to: 'press@corp.example' })).toEqual({ pre: LEG_C, post: 0, source: 'when[1]' });
    expect(send.legsFor({ to: 'eve@evil.test' })).toEqual({ pre: LEG_B | LEG_C, post: 0, source: 'base' });
    expect(send.legsFor(undefined)).toEqual({ pre: LEG_B | LEG_C, post: 0, source: 'base' });
    expect(policy.resolve('fetch').legsFor({ url: 'https://docs.corp.test/x' })).toEqual({
      pre: 0,
      post: 0,
      source: 'when[0]',
    });
    expect(send.variants.map((v) => v.source)).toEqual(['base', 'when[0]', 'when[1]']);
  });
});

describe('result conditions', () => {
  const reserved = LEG_A | LEG_B;
  it('lower what an output brings, first match wins, never above what was reserved', () => {
    const read = policy.resolve('read_inbox');
    expect(read.resultLegs({ from: 'alice@corp.test' }, reserved)).toBe(LEG_B);
    expect(read.resultLegs({ from: 'eve@evil.test' }, reserved)).toBe(reserved);
    expect(read.resultLegs('no sender', reserved)).toBe(reserved);
    expect(read.resultLegs({ from: 'eve@evil.test' }, LEG_B)).toBe(LEG_B);
  });

  it('commit the lowered legs when the result is recorded', () => {
    const state = newSessionState({ id: 's1', configuration: 'dynamic', input: 'trusted', now: 0 });
    const allowed = decide(policy, state, { id: 'c1', tool: 'read_inbox' }, { now: 0, newId: () => 'r' });
    const recorded = recordResult(policy, allowed.state, 'c1', { from: 'alice@corp.test' });
    expect(recorded).toMatchObject({ ok: true, reserved: 'AB', brought: 'B', legsAfter: 'B' });
  });

  it('bring everything reserved when a result cannot be evaluated', () => {
    const state = newSessionState({ id: 's1', configuration: 'dynamic', input: 'trusted', now: 0 });
    const allowed = decide(policy, state, { id: 'c1', tool: 'read_inbox' }, { now: 0, newId: () => 'r' });
    const hostile = Object.defineProperty({}, 'from', {
      enumerable: true,
      get() {
        throw new Error('boom');
      },
    });
    expect(recordResult(policy, allowed.state, 'c1', hostile)).toMatchObject({ ok: true, brought: 'AB' });
  });
});

describe('tool lookup', () => {
  const globs = compilePolicy({
    version: 1,
    tools: {
      'fs.*': { call: 'C' },
      'fs.read': { call: 'B' },
      'fs.re?d': { output: 'A' },
      '*': { call: 'B' },
      'a.b': { output: 'B' },
    },
  });

  it('takes an exact name before any glob, then globs in file order', () => {
    expect(globs.resolve('fs.read').key).toBe('fs.read');
    expect(globs.resolve('fs.reed').key).toBe('fs.*');
    expect(globs.resolve('fs.write').key).toBe('fs.*');
    expect(globs.resolve('net.get').key).toBe('*');
  });

  it('treats glob characters only as globs, `.` and other characters literally', () => {
    const narrow = compilePolicy({
      version: 1,
      tools: { 'a.b': { legs: 'B' }, 'x?': { legs: 'A' }, 'p(1)+': { legs: 'C' } },
    });
    expect(narrow.resolve('axb').known).toBe(false);
    expect(narrow.resolve('x').known).toBe(false);
    expect(narrow.resolve('xy').key).toBe('x?');
    expect(narrow.resolve('p(1)+').key).toBe('p(1)+');
    expect(narrow.resolve('p11').known).toBe(false);
  });

  it('never resolves a name to a prototype key', () => {
    const plain = compilePolicy({ version: 1, tools: { read: { legs: 'AB' } } });
    for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const profile = plain.resolve(name);
      expect(profile.key, name).toBe('*unknown*');
      expect(profile.legsFor({})).toMatchObject({ pre: LEG_B | LEG_C, post: LEG_A | LEG_B });
    }
  });

  it('labels a tool called `__proto__` when the policy names it', () => {
    const tools = JSON.parse('{"__proto__": {"call": "C"}}');
    const named = compilePolicy({ version: 1, tools });
    expect(named.resolve('__proto__')).toMatchObject({ key: '__proto__', known: true });
    expect(named.resolve('__proto__').legsFor({}).pre).toBe(LEG_C);
  });

  it('uses the unknown-tool default, A+B+C unless the policy says otherwise', () => {
    expect(compilePolicy({ version: 1 }).unknown.legsFor({})).toMatchObject({
      pre: LEG_B | LEG_C,
      post: LEG_A | LEG_B,
    });
    const lenient = compilePolicy({ version: 1, unknownTools: { call: 'B', output: 'A' } });
    expect(lenient.resolve('x').legsFor({})).toMatchObject({ pre: LEG_B, post: LEG_A });
  });
});
