// The scripted model the AI SDK example and tests run with when no real model is configured.
import { FINAL_TEXT, newConversation, type Script, type ScriptedConversation, turnAfter } from '../mailbox.ts';

type Prompt = { role: string; content: unknown }[];
type Part = { type: string; toolCallId?: string; output?: { type: string; value?: unknown; reason?: string } };

function partsOf(prompt: Prompt, role: string): Part[] {
  return prompt.filter((m) => m.role === role && Array.isArray(m.content)).flatMap((m) => m.content as Part[]);
}

function outputText(output: Part['output']): string {
  if (!output) return '';
  if (output.type === 'execution-denied') return output.reason ?? '';
  return typeof output.value === 'string' ? output.value : JSON.stringify(output.value);
}

/**
 * A scripted model's `doGenerate` for the AI SDK's `MockLanguageModelV4` (ai 7) or `V3` (ai 6): plays the next turn of
 * the script after the tool calls already in the prompt, and notes the tool results it reads.
 */
export function scriptedGenerate(script: Script, conversation: ScriptedConversation = newConversation()) {
  return async ({ prompt }: { prompt: unknown }) => {
    const messages = prompt as Prompt;
    for (const part of partsOf(messages, 'tool')) {
      if (part.type === 'tool-result' && part.toolCallId) {
        conversation.seen.set(part.toolCallId, outputText(part.output));
      }
    }
    const done = partsOf(messages, 'assistant').filter((p) => p.type === 'tool-call').length;
    const turn = script[turnAfter(script, done)];
    const usage = {
      inputTokens: { total: 1, noCache: 1, cacheRead: 0, cacheWrite: 0 },
      outputTokens: { total: 1, text: 1, reasoning: 0 },
    };
    if (!turn) {
      conversation.final = FINAL_TEXT;
      return {
        content: [{ type: 'text' as const, text: FINAL_TEXT }],
        finishReason: { unified: 'stop' as const, raw: 'stop' },
        usage,
        warnings: [],
      };
    }
    return {
      content: turn.map((c) => ({
        type: 'tool-call' as const,
        toolCallId: c.id,
        toolName: c.name,
        input: JSON.stringify(c.args),
      })),
      finishReason: { unified: 'tool-calls' as const, raw: 'tool_calls' },
      usage,
      warnings: [],
    };
  };
}

/**
 * The same script as a `doStream` for `MockLanguageModelV4` / `V3`: each turn of {@link scriptedGenerate} as stream
 * parts (text as start, delta and end; tool calls whole), then `finish`.
 */
export function scriptedStream(script: Script, conversation: ScriptedConversation = newConversation()) {
  const generate = scriptedGenerate(script, conversation);
  return async (options: { prompt: unknown }) => {
    const { content, finishReason, usage } = await generate(options);
    const parts: unknown[] = [{ type: 'stream-start', warnings: [] }];
    for (const part of content) {
      if (part.type === 'text') {
        parts.push({ type: 'text-start', id: 't' }, { type: 'text-delta', id: 't', delta: part.text });
        parts.push({ type: 'text-end', id: 't' });
      } else {
        parts.push(part);
      }
    }
    parts.push({ type: 'finish', finishReason, usage });
    const stream = new ReadableStream({
      start(controller) {
        for (const part of parts) controller.enqueue(part);
        controller.close();
      },
    });
    return { stream };
  };
}
