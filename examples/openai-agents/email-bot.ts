// The Email-Bot on OpenAI Agents JS: a compromised model tries to forward private mail to an attacker.
// Runs with a scripted model; set OPENAI_API_KEY to use a real OpenAI model instead.
//   npm run build && node_modules/.bin/node examples/openai-agents/email-bot.ts
import { Agent, Runner, tool } from '@openai/agents';
import { createGuard, loadPolicy } from 'ruleoftwo';
import { guardTools } from 'ruleoftwo/openai-agents';
import { z } from 'zod';
import { COMPROMISED, Mailbox, POLICY_FILE } from '../mailbox.ts';
import { ScriptedModel } from './scripted-model.ts';

/** Runs one conversation; `approve` is the person answering the run's interruptions. */
export async function main(approve: (tool: string, input: string) => boolean = () => false) {
  const guard = createGuard({ policy: await loadPolicy(POLICY_FILE) });
  const conversationId = crypto.randomUUID();
  await guard.session(conversationId);
  const mailbox = new Mailbox();
  const tools = guardTools(
    [
      tool({
        name: 'read_inbox',
        description: 'Read the inbox',
        parameters: z.object({}),
        execute: async () => JSON.stringify(mailbox.readInbox()),
      }),
      tool({
        name: 'send_email',
        description: 'Send an email as the user',
        parameters: z.object({ to: z.string(), body: z.string() }),
        execute: async (args) => mailbox.sendEmail(args),
      }),
    ],
    { guard, session: conversationId },
  );
  const model = process.env.OPENAI_API_KEY
    ? (process.env.OPENAI_MODEL ?? 'gpt-4.1-mini')
    : new ScriptedModel(COMPROMISED);
  const agent = new Agent({ name: 'mail assistant', instructions: 'Help the user with email.', model, tools });
  const runner = new Runner({ tracingDisabled: !process.env.OPENAI_API_KEY });
  let result = await runner.run(agent, 'Read my inbox and answer Alice.');
  // The SDK's own approval flow: a gated call pauses the run; the answer resumes exactly that call.
  for (let round = 0; round < 5 && result.interruptions.length > 0; round++) {
    for (const item of result.interruptions) {
      const call = item.rawItem as { name: string; arguments: string };
      if (approve(call.name, call.arguments)) result.state.approve(item);
      else result.state.reject(item);
    }
    result = await runner.run(agent, result.state);
  }
  return { sent: mailbox.sent, text: result.finalOutput };
}

if (import.meta.main) console.log(await main());
