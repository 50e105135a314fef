import * as ai7 from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import * as ai6 from 'ai-v6';
import { MockLanguageModelV3 } from 'ai-v6/test';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { scriptedGenerate } from '../../examples/ai-sdk/scripted-model.ts';
import { guardTools } from '../../src/adapters/ai-sdk.ts';
import type { Conversation } from './conformance.ts';
import { scripts, type World, world } from './fixture.ts';

/**
 * `send_email` has no `execute`: the SDK hands its calls to the app, which runs them (a client-side tool). Such a tool
 * set does not fit `guardTools`' parameter type under `exactOptionalPropertyTypes`, hence the casts below.
 */
function clientTools(lib: Pick<typeof ai7, 'tool'>, w: World) {
  return {
    read_inbox: lib.tool({ inputSchema: z.object({}), execute: async () => w.mailbox.readInbox() }),
    send_email: lib.tool({ inputSchema: z.object({ to: z.string(), body: z.string() }) }),
  };
}

describe('ai-sdk adapter and tools without execute', () => {
  it('does not hand a call the guard refused to the app to run (ai 6)', async () => {
    const w = await world('deny', { name: 'client-6' });
    const guarded = guardTools(clientTools(ai6 as unknown as typeof ai7, w) as never, {
      guard: w.guard,
      session: w.session,
    });
    const conversation: Conversation = { seen: new Map(), asked: [] };
    const outcome = await ai6
      .generateText({
        model: new MockLanguageModelV3({ doGenerate: scriptedGenerate(scripts.attack, conversation) as never }),
        tools: guarded.tools as ai6.ToolSet,
        prompt: 'Check my inbox.',
        stopWhen: ai6.stepCountIs(4),
      })
      .then(
        (r) => ({ handedToApp: r.toolCalls.map((c) => c.toolCallId) }),
        (error: unknown) => ({ error: String(error) }),
      );
    // ai 6 cannot answer such a call with a refusal (no call-level approval, no `execute`): the run stops instead of
    // handing `call_exfil` to the app to run with nothing saying the guard refused it.
    expect(outcome).toEqual({ error: expect.stringContaining('ruleoftwo blocked `send_email`') });
  });

  it('answers a refused call with the denial the model reads (ai 7)', async () => {
    const w = await world('deny', { name: 'client-7' });
    const guarded = guardTools(clientTools(ai7, w) as never, { guard: w.guard, session: w.session });
    const conversation: Conversation = { seen: new Map(), asked: [] };
    const result = await ai7.generateText({
      model: new MockLanguageModelV4({ doGenerate: scriptedGenerate(scripts.attack, conversation) as never }),
      tools: guarded.tools as ai7.ToolSet,
      toolApproval: guarded.toolApproval,
      prompt: 'Check my inbox.',
      stopWhen: ai7.stepCountIs(4),
    });
    expect(result.finishReason).toBe('stop');
    expect(conversation.seen.get('call_exfil')).toContain('ruleoftwo blocked `send_email`');
  });
});
