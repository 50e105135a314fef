import { describe, expect, it } from 'vitest';
import type { PolicyDocument } from '../../src/core/document.ts';
import { compilePolicy } from '../../src/core/policy.ts';
import { ConfigError } from '../../src/errors.ts';
import { createGuard } from '../../src/guard/guard.ts';

describe('policy documents given to the guard directly', () => {
  it('honours the `tool: legs` shorthand without going through the validator', async () => {
    const document = { version: 1, tools: { read: 'AB', send: 'C' } } as unknown as PolicyDocument;
    expect(compilePolicy(document).resolve('read').legsFor({})).toMatchObject({ pre: 2, post: 3 });
    const guard = createGuard({ policy: document });
    const session = await guard.session('s1', { input: 'trusted' });
    expect((await session.check({ id: 'c1', tool: 'read' })).effect).toBe('allow');
    await session.record('c1', 'mail');
    const send = await session.check({ id: 'c2', tool: 'send' });
    expect(send.effect).toBe('ask');
    expect(send.reasons.map((r) => r.code)).toContain('lethal_trifecta');
  });

  it('refuses a document with issues instead of compiling a tool without legs', () => {
    const document = { version: 1, tools: { send: { leg: 'C' } } } as unknown as PolicyDocument;
    let error: unknown;
    try {
      createGuard({ policy: document });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual([
      expect.objectContaining({ code: 'unknown_key', path: 'tools.send.leg' }),
    ]);
  });

  it('does not change the caller’s document', () => {
    const document = { version: 1, tools: { read: 'AB' } } as unknown as PolicyDocument;
    createGuard({ policy: document });
    expect(document.tools).toEqual({ read: 'AB' });
  });
});
