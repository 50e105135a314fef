import * as ai7 from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { scriptedGenerate } from '../../examples/ai-sdk/scripted-model.ts';
import { guardTools } from '../../src/adapters/ai-sdk.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { MemoryAuditLog } from '../../src/store/memory.ts';
import type { Conversation } from './conformance.ts';
import { lineagePolicy, type Script, thread } from './fixture.ts';

describe('author lineage and what the model reads of an output', () => {
  it('does not pass an output whose JSON shows the model items lineage did not see', async () => {
    const guard = createGuard({ policy: lineagePolicy, audit: new MemoryAuditLog() });
    await guard.session('s');
    // Lineage reads `messages` (one trusted item); the SDK sends the model `JSON.stringify(output)`, which is `toJSON()`.
    const output = { messages: [thread.messages[0]], toJSON: () => thread };
    const guarded = guardTools(
      { read_thread: ai7.tool({ inputSchema: z.object({}), execute: async () => output }) },
      { guard, session: 's' },
    );
    const conversation: Conversation = { seen: new Map(), asked: [] };
    const script = [[{ id: 'c1', name: 'read_thread', args: {} }]] as unknown as Script;
    await ai7.generateText({
      model: new MockLanguageModelV4({ doGenerate: scriptedGenerate(script, conversation) as never }),
      tools: guarded.tools,
      toolApproval: guarded.toolApproval,
      prompt: 'Summarize the thread.',
      stopWhen: ai7.stepCountIs(3),
    });
    // Before: the model read eve's injected item while the session recorded no A. Under `filter` it is now withheld.
    expect((await guard.view('s'))?.legs).toBe('');
    expect(conversation.seen.get('c1')).toContain('withheld');
    expect(conversation.seen.get('c1')).not.toContain('IGNORE PREVIOUS INSTRUCTIONS');
  });
});
