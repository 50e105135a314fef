import { describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.ts';
import { compilePolicy } from '../../src/core/policy.ts';
import { newSessionState } from '../../src/core/state.ts';
import { counterIds } from '../helpers.ts';

// Hostile argument objects on tools whose arguments no control reads: the engine must still deny what cannot be
// handled downstream (the audit log, an upstream's JSON), as it does for tools with controls
// (test/core/adversarial.test.ts "hostile argument objects").

const policy = compilePolicy({ version: 1, tools: { free: { legs: 'none' }, send: { legs: 'C' } } });
const state = newSessionState({ id: 's', configuration: 'dynamic', input: 'trusted', now: 0 });

describe('arguments nested past what anything downstream can write', () => {
  it('deny on any tool, with a reason, and leave the session as it was', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = { a: deep };
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    const deepList = JSON.parse(`${'['.repeat(66)}${']'.repeat(66)}`);
    for (const tool of ['free', 'send', 'unknown']) {
      for (const args of [deep, { to: deep }, cyclic, deepList]) {
        // Allowed before: the gateway then failed to write the call for its upstream (`Maximum call stack size
        // exceeded`) after the audit log had recorded an allow.
        const outcome = decide(policy, state, { id: 'c', tool, args }, { now: 0, newId: counterIds() });
        expect(outcome.decision.effect, tool).toBe('deny');
        expect(outcome.decision.reasons.at(-1)?.message).toBe('engine error: arguments nest deeper than 64 levels');
        expect(outcome.state).toBe(state);
      }
    }
  });

  it('allow arguments 64 levels below their top (the most the controls walk) and a large typed array', () => {
    const args = JSON.parse(`${'['.repeat(65)}${']'.repeat(65)}`);
    for (const given of [args, { file: new Uint8Array(1 << 20) }]) {
      const outcome = decide(policy, state, { id: 'c', tool: 'free', args: given }, { now: 0, newId: counterIds() });
      expect(outcome.decision.effect).toBe('allow');
    }
  });
});

describe('arguments holding a number JSON cannot carry', () => {
  it('deny on any tool with `invalid_call`, naming where the number is, and leave the session as it was', () => {
    // `1e999` parses as Infinity, which a condition such as `lte: 100` passes, and JSON writes it as `null`: the tool
    // would run with a value no decision saw (the gateway side: test/mcp/numbers.test.ts).
    const nested = JSON.parse('{"to":"bob","memo":[1,{"x":-1e999}]}');
    for (const tool of ['free', 'send', 'unknown']) {
      for (const [args, message] of [
        [JSON.parse('{"amount":1e999}'), 'argument `$.amount` is `Infinity`, a number JSON cannot carry'],
        [nested, 'argument `$.memo[1].x` is `-Infinity`, a number JSON cannot carry'],
        [{ 'odd key\n': Number.NaN }, 'argument `$["odd key\\n"]` is `NaN`, a number JSON cannot carry'],
        [Number.POSITIVE_INFINITY, 'argument `$` is `Infinity`, a number JSON cannot carry'],
      ] as const) {
        const outcome = decide(policy, state, { id: 'c', tool, args }, { now: 0, newId: counterIds() });
        expect(outcome.decision.effect, tool).toBe('deny');
        expect(outcome.decision.reasons).toEqual([{ code: 'invalid_call', rule: 0, message }]);
        expect(outcome.state).toBe(state);
      }
    }
  });

  it('allow the largest finite numbers, -0 and integers past 2^53, which JSON writes back as the values decided on', () => {
    const args = JSON.parse('{"a":1.7976931348623157e308,"b":-0,"c":9007199254740993,"d":1e-400}');
    const outcome = decide(policy, state, { id: 'c', tool: 'free', args }, { now: 0, newId: counterIds() });
    expect(outcome.decision.effect).toBe('allow');
    expect(JSON.parse(JSON.stringify(args))).toEqual({ a: Number.MAX_VALUE, b: 0, c: 2 ** 53, d: 0 });
  });
});
