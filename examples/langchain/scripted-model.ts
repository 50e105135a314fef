// The scripted model the LangChain example and tests run with when no real model is configured.
import type { BaseMessage } from '@langchain/core/messages';
import { AIMessage, FakeToolCallingModel, ToolMessage } from 'langchain';
import { FINAL_TEXT, newConversation, type Script, type ScriptedConversation, turnAfter } from '../mailbox.ts';

/**
 * LangChain's own `FakeToolCallingModel`, told which turn to play from the conversation (its index is otherwise
 * per-instance state), reading tool results as the model would and ending with the final text.
 */
export class ScriptedToolCallingModel extends FakeToolCallingModel {
  readonly conversation: ScriptedConversation;
  readonly script: Script;

  constructor(script: Script, conversation: ScriptedConversation = newConversation()) {
    super({ toolCalls: [...script.map((turn) => turn.map((c) => ({ id: c.id, name: c.name, args: c.args }))), []] });
    this.script = script;
    this.conversation = conversation;
  }

  // The base class binds tools into a plain FakeToolCallingModel; the script needs no tool schemas, so keep this one.
  override bindTools(): this {
    return this;
  }

  override async _generate(messages: BaseMessage[]) {
    let calls = 0;
    for (const message of messages) {
      if (AIMessage.isInstance(message)) calls += message.tool_calls?.length ?? 0;
      if (ToolMessage.isInstance(message)) this.conversation.seen.set(message.tool_call_id, String(message.content));
    }
    const turn = turnAfter(this.script, calls);
    this.index = turn === -1 ? this.script.length : turn;
    const result = await super._generate(messages);
    const generation = result.generations[0];
    if (turn === -1 && generation) {
      this.conversation.final = FINAL_TEXT;
      generation.message = new AIMessage({ content: FINAL_TEXT, id: 'final' });
      generation.text = FINAL_TEXT;
    }
    return result;
  }
}
