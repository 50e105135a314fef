import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FINAL_TEXT, newConversation, type Script, type ScriptedConversation, turnAfter } from '../mailbox.ts';

type Block = { type: string; id?: string; name?: string; tool_use_id?: string; content?: unknown; text?: string };
type Message = { role: string; content: string | Block[] };

function blocks(messages: Message[], role: string): Block[] {
  return messages.filter((m) => m.role === role && Array.isArray(m.content)).flatMap((m) => m.content as Block[]);
}

function resultText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return JSON.stringify(content);
  return (content as Block[]).map((b) => b.text ?? '').join('');
}

/**
 * A scripted Anthropic Messages API on 127.0.0.1, for running without an Anthropic key: the real Claude Code CLI (driven by the real Claude Agent SDK) talks
 * to it through `ANTHROPIC_BASE_URL`. It plays the script turn by turn and reads the tool results it is sent.
 */
export class ScriptedMessagesApi {
  #server: Server | undefined;
  script: Script = [];
  conversation: ScriptedConversation = newConversation();
  /** Prefix of tool names as Claude Code exposes them (MCP tools are `mcp__<server>__<tool>`). */
  readonly prefix: string;

  constructor(prefix: string) {
    this.prefix = prefix;
  }

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        if (!req.url?.startsWith('/v1/messages')) {
          res.writeHead(404, { 'content-type': 'application/json' });
          res.end('{}');
          return;
        }
        if (req.url.includes('count_tokens')) {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"input_tokens":1}');
          return;
        }
        this.#answer(JSON.parse(body || '{}'), res);
      });
    });
    const server = this.#server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    if (server) await new Promise((resolve) => server.close(resolve));
  }

  #answer(request: { stream?: boolean; messages?: Message[] }, res: ServerResponse): void {
    const messages = request.messages ?? [];
    for (const block of blocks(messages, 'user')) {
      if (block.type === 'tool_result' && block.tool_use_id) {
        this.conversation.seen.set(block.tool_use_id, resultText(block.content));
      }
    }
    const done = blocks(messages, 'assistant').filter((b) => b.type === 'tool_use').length;
    const turn = this.script[turnAfter(this.script, done)];
    const content = turn
      ? turn.map((c) => ({ type: 'tool_use', id: c.id, name: `${this.prefix}${c.name}`, input: c.args }))
      : [{ type: 'text', text: FINAL_TEXT }];
    if (!turn) this.conversation.final = FINAL_TEXT;
    const stop = turn ? 'tool_use' : 'end_turn';
    const usage = { input_tokens: 1, output_tokens: 1 };
    const message = { id: `msg_${done}`, type: 'message', role: 'assistant', model: 'claude-scripted', usage };
    if (!request.stream) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ...message, content, stop_reason: stop, stop_sequence: null }));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const send = (type: string, data: object) =>
      res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    send('message_start', { message: { ...message, content: [], stop_reason: null, stop_sequence: null } });
    content.forEach((block, index) => {
      if (block.type === 'text') {
        send('content_block_start', { index, content_block: { type: 'text', text: '' } });
        send('content_block_delta', { index, delta: { type: 'text_delta', text: FINAL_TEXT } });
      } else {
        const { input, ...start } = block as { input: unknown };
        send('content_block_start', { index, content_block: { ...start, input: {} } });
        send('content_block_delta', {
          index,
          delta: { type: 'input_json_delta', partial_json: JSON.stringify(input) },
        });
      }
      send('content_block_stop', { index });
    });
    send('message_delta', { delta: { stop_reason: stop, stop_sequence: null }, usage: { output_tokens: 1 } });
    send('message_stop', {});
    res.end();
  }
}
