// The scripted model the OpenAI Agents example and tests run with when no real model is configured.
import type {
  AgentInputItem,
  Model,
  ModelRequest,
  ModelResponse,
  StreamEvent,
  StreamEventResponseCompleted,
} from '@openai/agents';
import { Usage } from '@openai/agents';
import { FINAL_TEXT, newConversation, type Script, type ScriptedConversation, turnAfter } from '../mailbox.ts';

/** A scripted implementation of the SDK's `Model` interface: plays the script turn by turn, reads tool results. */
export class ScriptedModel implements Model {
  readonly script: Script;
  readonly conversation: ScriptedConversation;

  constructor(script: Script, conversation: ScriptedConversation = newConversation()) {
    this.script = script;
    this.conversation = conversation;
  }

  async getResponse(request: ModelRequest): Promise<ModelResponse> {
    const items = (typeof request.input === 'string' ? [] : request.input) as AgentInputItem[];
    let calls = 0;
    for (const item of items) {
      if (item.type === 'function_call') calls++;
      if (item.type === 'function_call_result') {
        const output = item.output as string | { type: string; text?: string };
        this.conversation.seen.set(item.callId, typeof output === 'string' ? output : (output.text ?? ''));
      }
    }
    const turn = this.script[turnAfter(this.script, calls)];
    if (!turn) {
      this.conversation.final = FINAL_TEXT;
      const text = { type: 'output_text' as const, text: FINAL_TEXT };
      return {
        usage: new Usage(),
        output: [{ type: 'message', role: 'assistant', status: 'completed', content: [text] }],
      };
    }
    return {
      usage: new Usage(),
      output: turn.map((c) => ({
        type: 'function_call' as const,
        callId: c.id,
        name: c.name,
        arguments: JSON.stringify(c.args),
        status: 'completed' as const,
      })),
    };
  }

  /** The same turn as {@link getResponse}, streamed: the final text as a delta, then the whole response. */
  async *getStreamedResponse(request: ModelRequest): AsyncIterable<StreamEvent> {
    const response = await this.getResponse(request);
    yield { type: 'response_started' };
    if (this.conversation.final !== undefined && response.output[0]?.type === 'message') {
      yield { type: 'output_text_delta', delta: FINAL_TEXT };
    }
    const usage = { inputTokens: 0, outputTokens: 0, totalTokens: 0 };
    // The scripted output holds assistant messages and function calls only, which a completed response carries.
    const output = response.output as StreamEventResponseCompleted['response']['output'];
    yield { type: 'response_done', response: { id: 'scripted', usage, output } };
  }
}
