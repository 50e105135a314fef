import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineScreen } from '../../src/mcp/lines.ts';

async function screen(
  input: string[],
  maxBytes = 64,
): Promise<{ taken: unknown[]; replies: string[]; passed: number }> {
  const replies: string[] = [];
  const taken: unknown[] = [];
  const source = new PassThrough();
  const out = source.pipe(
    new LineScreen(
      maxBytes,
      (line) => replies.push(line),
      (message) => taken.push(message),
    ),
  );
  // The readable side carries nothing, and ends with the input (the SDK's transport closes on that).
  let passed = 0;
  out.on('data', (chunk: Buffer) => (passed += chunk.length));
  const ended = new Promise((resolve) => out.on('end', resolve));
  for (const part of input) source.write(part);
  source.end();
  await ended;
  return { taken, replies, passed };
}

describe('LineScreen', () => {
  it('hands each JSON line over parsed, even split across chunks', async () => {
    const { taken, replies, passed } = await screen(['{"a":', '1}\n{"b"', ':2}\n']);
    expect(taken).toEqual([{ a: 1 }, { b: 2 }]);
    expect(passed).toBe(0);
    expect(replies).toEqual([]);
  });

  it('answers a line that is not JSON with -32700 and keeps going', async () => {
    const { taken, replies } = await screen(['nope\n{"ok":true}\n']);
    expect(taken).toEqual([{ ok: true }]);
    expect(JSON.parse(replies[0] ?? '')).toEqual({
      jsonrpc: '2.0',
      id: null,
      error: { code: -32700, message: 'parse error: the line is not JSON' },
    });
  });

  it('drops an oversized line with an error, whatever its chunking, and keeps going', async () => {
    const big = `{"pad":"${'x'.repeat(100)}"}`;
    const { taken, replies } = await screen([big.slice(0, 50), big.slice(50), '\n{"ok":1}\n']);
    expect(taken).toEqual([{ ok: 1 }]);
    expect(replies).toHaveLength(1);
    expect(replies[0]).toContain('message larger than 64 bytes');
  });
});
