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
