import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineScreen } from '../../src/mcp/lines.ts';

async function screen(input: string[], maxBytes = 64): Promise<{ passed: string; replies: string[] }> {
  const replies: string[] = [];
  const source = new PassThrough();
  const out = source.pipe(new LineScreen(maxBytes, (line) => replies.push(line)));
  const chunks: Buffer[] = [];
  out.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise((resolve) => out.on('end', resolve));
  for (const part of input) source.write(part);
  source.end();
  await ended;
  return { passed: Buffer.concat(chunks).toString('utf8'), replies };
}

describe('LineScreen', () => {
  it('passes JSON lines through, even split across chunks', async () => {
    const { passed, replies } = await screen(['{"a":', '1}\n{"b"', ':2}\n']);
    expect(passed).toBe('{"a":1}\n{"b":2}\n');
    expect(replies).toEqual([]);
  });

  it('answers a line that is not JSON with -32700 and keeps going', async () => {
    const { passed, replies } = await screen(['nope\n{"ok":true}\n']);
    expect(passed).toBe('{"ok":true}\n');
    expect(JSON.parse(replies[0] ?? '')).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: 'parse error: the line is not JSON' },
    });
  });

  it('drops an oversized line with an error, whatever its chunking, and keeps going', async () => {
    const big = `{"pad":"${'x'.repeat(100)}"}`;
    const { passed, replies } = await screen([big.slice(0, 50), big.slice(50), '\n{"ok":1}\n']);
    expect(passed).toBe('{"ok":1}\n');
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain('message larger than 64 bytes');
  });
});
