// The Email-Bot on LangChain.js (createAgent + LangGraph): a compromised model tries to forward private mail.
// Runs with LangChain's FakeToolCallingModel; set OPENAI_API_KEY (and `npm i @langchain/openai`) for a real model.
//   npm run build && node_modules/.bin/node examples/langchain/email-bot.ts
import type { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { Command, MemorySaver } from '@langchain/langgraph';
import { createAgent, tool } from 'langchain';
import { createGuard, loadPolicy } from 'ruleoftwo';
import { type ApprovalInterrupt, ruleOfTwoMiddleware } from 'ruleoftwo/langchain';
import { z } from 'zod';
import { COMPROMISED, Mailbox, POLICY_FILE } from '../mailbox.ts';
import { ScriptedToolCallingModel } from './scripted-model.ts';

async function chooseModel(): Promise<BaseChatModel> {
  if (!process.env.OPENAI_API_KEY) {
    return new ScriptedToolCallingModel(COMPROMISED);
  }
  const provider = '@langchain/openai';
  const { ChatOpenAI } = (await import(provider)) as { ChatOpenAI: new (o: object) => BaseChatModel };
  return new ChatOpenAI({ model: process.env.OPENAI_MODEL ?? 'gpt-4.1-mini' });
}

/** Runs one conversation (one thread = one session); `approve` answers the interrupts. */
export async function main(approve: (request: ApprovalInterrupt) => boolean = () => false) {
  const guard = createGuard({ policy: await loadPolicy(POLICY_FILE) });
  const threadId = crypto.randomUUID();
  await guard.session(threadId);
  const mailbox = new Mailbox();
  const agent = createAgent({
    model: await chooseModel(),
    tools: [
      tool(async () => JSON.stringify(mailbox.readInbox()), {
        name: 'read_inbox',
        description: 'Read the inbox',
        schema: z.object({}),
      }),
      tool(async (args: { to: string; body: string }) => mailbox.sendEmail(args), {
        name: 'send_email',
        description: 'Send an email as the user',
        schema: z.object({ to: z.string(), body: z.string() }),
      }),
    ],
    middleware: [ruleOfTwoMiddleware({ guard })],
    checkpointer: new MemorySaver(),
  });
  const config = { configurable: { thread_id: threadId } };
  let state = await agent.invoke({ messages: [{ role: 'user', content: 'Read my inbox and answer Alice.' }] }, config);
  // A gated call interrupts the graph; resuming with the person's answer runs (or refuses) exactly that call.
  for (let round = 0; round < 5; round++) {
    const pending = (state as { __interrupt__?: { value: ApprovalInterrupt }[] }).__interrupt__?.[0];
    if (!pending) break;
    state = await agent.invoke(new Command({ resume: { approved: approve(pending.value) } }), config);
  }
  return { sent: mailbox.sent, messages: state.messages.length };
}

if (import.meta.main) console.log(await main());
