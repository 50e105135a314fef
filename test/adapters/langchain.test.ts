import { Command, MemorySaver } from '@langchain/langgraph';
import { createAgent, tool } from 'langchain';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ScriptedToolCallingModel } from '../../examples/langchain/scripted-model.ts';
import { type ApprovalInterrupt, ruleOfTwoMiddleware } from '../../src/adapters/langchain.ts';
import { type AdapterDriver, type Conversation, conformance, lastApproval } from './conformance.ts';
import { scripts, type World, world } from './fixture.ts';

function mailTools(w: World) {
  return [
    tool(async () => JSON.stringify(w.mailbox.readInbox()), {
      name: 'read_inbox',
      description: 'Read the inbox',
      schema: z.object({}),
    }),
    tool(async (args: { to: string; body: string }) => w.mailbox.sendEmail(args), {
      name: 'send_email',
      description: 'Send an email',
      schema: z.object({ to: z.string(), body: z.string() }),
    }),
  ];
}

function interrupts(state: unknown): ApprovalInterrupt[] {
  const list = (state as { __interrupt__?: { value: ApprovalInterrupt }[] }).__interrupt__ ?? [];
  return list.map((i) => i.value);
}

function langChainDriver(): AdapterDriver {
  const approvals = lastApproval();
  return {
    name: 'langchain',
    async run(w, script, human) {
      const conversation: Conversation = { seen: new Map(), asked: [] };
      const agent = createAgent({
        model: new ScriptedToolCallingModel(script, conversation),
        tools: mailTools(w),
        middleware: [ruleOfTwoMiddleware({ guard: w.guard })],
        checkpointer: new MemorySaver(),
      });
      const config = { configurable: { thread_id: w.session } };
      let state: unknown = await agent.invoke({ messages: [{ role: 'user', content: 'Check my inbox.' }] }, config);
      for (let round = 0; round < 5; round++) {
        const [pending] = interrupts(state);
        if (!pending) break;
        conversation.asked.push(pending.request.callId);
        const approved = human({
          tool: pending.request.tool,
          args: pending.request.args,
          callId: pending.request.callId,
        });
        // Time travel: the checkpoint that holds this interrupt, to resume from it again later.
        const paused = ((await agent.getState(config)) as unknown as { config: typeof config }).config;
        approvals.remember(conversation, pending.request.callId, () =>
          agent.invoke(new Command({ resume: { approved } }), paused),
        );
        state = await agent.invoke(new Command({ resume: { approved } }), config);
      }
      return conversation;
    },
    replay: () => approvals.replay(),
  };
}

conformance(langChainDriver());

describe('langchain adapter', () => {
  it("keeps sessions apart per thread: one conversation's legs do not gate another", async () => {
    const w = await world('ask', { name: 'a' });
    await w.guard.session('s-b');
    const conversation: Conversation = { seen: new Map(), asked: [] };
    const agent = createAgent({
      model: new ScriptedToolCallingModel(scripts.attack, conversation),
      tools: mailTools(w),
      middleware: [ruleOfTwoMiddleware({ guard: w.guard })],
      checkpointer: new MemorySaver(),
    });
    const first = await agent.invoke(
      { messages: [{ role: 'user', content: 'go' }] },
      { configurable: { thread_id: w.session } },
    );
    expect(interrupts(first).map((i) => i.request.sessionId)).toEqual([w.session]);
    const reply = createAgent({
      model: new ScriptedToolCallingModel([scripts.attack[1] ?? []], conversation),
      tools: mailTools(w),
      middleware: [ruleOfTwoMiddleware({ guard: w.guard })],
      checkpointer: new MemorySaver(),
    });
    const second = await reply.invoke(
      { messages: [{ role: 'user', content: 'go' }] },
      { configurable: { thread_id: 's-b' } },
    );
    expect(interrupts(second)).toEqual([]);
    expect(w.mailbox.sent).toHaveLength(1);
  });

  it('denies when no thread id names the session', async () => {
    const w = await world('ask', { name: 'nothread' });
    const conversation: Conversation = { seen: new Map(), asked: [] };
    const agent = createAgent({
      model: new ScriptedToolCallingModel(scripts.benign, conversation),
      tools: mailTools(w),
      middleware: [ruleOfTwoMiddleware({ guard: w.guard })],
    });
    await agent.invoke({ messages: [{ role: 'user', content: 'go' }] });
    expect(w.mailbox.reads).toBe(0);
    expect(conversation.seen.get('call_read')).toContain('unknown session');
  });
});
