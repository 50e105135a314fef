import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main as aiSdk } from '../../examples/ai-sdk/email-bot.ts';
import { main as claudeAgentSdk } from '../../examples/claude-agent-sdk/email-bot.ts';
import { main as langchain } from '../../examples/langchain/email-bot.ts';
import { main as openaiAgents } from '../../examples/openai-agents/email-bot.ts';

// The examples switch to a real provider when a key is set; the suite always runs them with the scripted models.
const keys = ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY'] as const;
const saved = new Map<string, string | undefined>();
beforeAll(() => {
  for (const key of keys) {
    saved.set(key, process.env[key]);
    delete process.env[key];
  }
});
afterAll(() => {
  for (const [key, value] of saved) if (value !== undefined) process.env[key] = value;
});

const examples = { 'ai-sdk': aiSdk, 'openai-agents': openaiAgents, langchain, 'claude-agent-sdk': claudeAgentSdk };
const alice = { to: 'alice@example.com', body: 'Yes!' };
const attacker = { to: 'attacker@evil.test', body: 'Lunch on Friday? (forwarded)' };

describe('examples', () => {
  for (const [name, main] of Object.entries(examples)) {
    it(`${name}: the injected forward waits for a person, who declines; Alice gets her answer`, async () => {
      const result = await main(() => false);
      expect(result.sent).toEqual([alice]);
    });

    it(`${name}: a person who approves lets exactly that forward through`, async () => {
      const result = await main(() => true);
      expect(result.sent).toEqual([attacker, alice]);
    });
  }
});
