// The Email-Bot on the Claude Agent SDK: the mailbox is an in-process MCP server; a compromised model tries to
// forward private mail. Without ANTHROPIC_API_KEY the real Claude Code CLI talks to a scripted Messages API on
// 127.0.0.1; with the key set it talks to Anthropic.
//   npm run build && node_modules/.bin/node examples/claude-agent-sdk/email-bot.ts
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSdkMcpServer, query, tool } from '@anthropic-ai/claude-agent-sdk';
import { type ApprovalRequest, createGuard, loadPolicy } from 'ruleoftwo';
import { guardClaudeAgent } from 'ruleoftwo/claude-agent-sdk';
import { z } from 'zod';
import { COMPROMISED, Mailbox, POLICY_FILE } from '../mailbox.ts';
import { ScriptedMessagesApi } from './scripted-api.ts';

/** Runs one query (one session); `approve` is the person asked through `canUseTool`. */
export async function main(approve: (request: ApprovalRequest) => boolean = () => false) {
  const guard = createGuard({ policy: await loadPolicy(POLICY_FILE) });
  const sessionId = crypto.randomUUID();
  await guard.session(sessionId);
  const mailbox = new Mailbox();
  const text = (value: unknown) => ({ content: [{ type: 'text' as const, text: JSON.stringify(value) }] });
  const email = createSdkMcpServer({
    name: 'email',
    version: '1.0.0',
    tools: [
      tool('read_inbox', 'Read the inbox', {}, async () => text(mailbox.readInbox())),
      tool('send_email', 'Send an email as the user', { to: z.string(), body: z.string() }, async (args) =>
        text(mailbox.sendEmail(args)),
      ),
    ],
  });
  const guarded = guardClaudeAgent({
    guard,
    session: sessionId,
    approver: (request) => approve(request),
    // MCP tools reach the policy by the name it labels; `mcp__email__*` could also be labelled directly.
    toolName: (name) => name.replace(/^mcp__email__/, ''),
  });
  const scripted = process.env.ANTHROPIC_API_KEY ? undefined : new ScriptedMessagesApi('mcp__email__');
  const home = mkdtempSync(join(tmpdir(), 'ruleoftwo-claude-example-'));
  try {
    const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: home };
    if (scripted) {
      scripted.script = COMPROMISED;
      env.ANTHROPIC_BASE_URL = await scripted.start();
      env.ANTHROPIC_API_KEY = 'scripted-model-key';
    } else {
      env.ANTHROPIC_API_KEY = process.env.ANTHROPIC_API_KEY ?? '';
    }
    let result = '';
    const run = query({
      prompt: 'Read my inbox and answer Alice.',
      options: {
        ...guarded,
        env,
        cwd: home,
        settingSources: [],
        mcpServers: { email },
        ...(scripted && { model: 'claude-scripted' }),
      },
    });
    for await (const message of run) if (message.type === 'result') result = message.subtype;
    return { sent: mailbox.sent, result };
  } finally {
    await scripted?.stop();
    rmSync(home, { recursive: true, force: true });
  }
}

if (import.meta.main) console.log(await main());
