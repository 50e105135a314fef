// The Email-Bot on the Vercel AI SDK (ai 7): a compromised model tries to forward private mail to an attacker.
// Runs with a scripted mock model; set OPENAI_API_KEY (and `npm i @ai-sdk/openai`) to use a real model instead.
//   npm run build && node_modules/.bin/node examples/ai-sdk/email-bot.ts
import { generateText, type LanguageModel, type ModelMessage, stepCountIs, tool } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import { createGuard, loadPolicy } from 'ruleoftwo';
import { guardTools } from 'ruleoftwo/ai-sdk';
import { z } from 'zod';
import { COMPROMISED, Mailbox, POLICY_FILE } from '../mailbox.ts';
import { scriptedGenerate } from './scripted-model.ts';

async function chooseModel(): Promise<LanguageModel> {
  if (!process.env.OPENAI_API_KEY) return new MockLanguageModelV4({ doGenerate: scriptedGenerate(COMPROMISED) });
  const provider = '@ai-sdk/openai';
  const { openai } = (await import(provider)) as { openai: (id: string) => LanguageModel };
  return openai(process.env.OPENAI_MODEL ?? 'gpt-4.1-mini');
}

/** Runs one conversation; `approve` is the person answering the SDK's tool-approval requests. */
export async function main(approve: (tool: string, input: unknown) => boolean = () => false) {
  const guard = createGuard({ policy: await loadPolicy(POLICY_FILE) });
  const conversationId = crypto.randomUUID();
  await guard.session(conversationId);
  const mailbox = new Mailbox();
  const { tools, toolApproval, prepareStep } = guardTools(
    {
      read_inbox: tool({
        description: 'Read the inbox',
        inputSchema: z.object({}),
        execute: async () => mailbox.readInbox(),
      }),
      send_email: tool({
        description: 'Send an email as the user',
        inputSchema: z.object({ to: z.string(), body: z.string() }),
        execute: async (args) => mailbox.sendEmail(args),
      }),
    },
    { guard, session: conversationId },
  );
  const model = await chooseModel();
  const messages: ModelMessage[] = [{ role: 'user', content: 'Read my inbox and answer Alice.' }];
  for (let round = 0; round < 5; round++) {
    // prepareStep writes a person's refusal to the audit log (the SDK answers a refused call itself).
    const result = await generateText({ model, tools, toolApproval, prepareStep, messages, stopWhen: stepCountIs(10) });
    messages.push(...result.responseMessages);
    // The SDK's own approval flow: each request carries the guard's reason; the answer goes back as a message.
    const requests = result.content.filter((p) => p.type === 'tool-approval-request' && !p.isAutomatic);
    if (requests.length === 0) return { sent: mailbox.sent, text: result.text };
    messages.push({
      role: 'tool',
      content: requests.flatMap((r) =>
        r.type === 'tool-approval-request'
          ? [
              {
                type: 'tool-approval-response',
                approvalId: r.approvalId,
                approved: approve(r.toolCall.toolName, r.toolCall.input),
              },
            ]
          : [],
      ),
    });
  }
  return { sent: mailbox.sent, text: '' };
}

if (import.meta.main) console.log(await main());
