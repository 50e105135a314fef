import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyPins, type PinFile, readPins, writePins } from '../../src/mcp/pins.ts';

describe('the pin file', () => {
  it('reads back every section it writes, a `__proto__` name included, into null-prototype maps', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'r2-pin-file-'));
    try {
      const file = join(dir, 'pins.json');
      const pins = emptyPins();
      const sections = Object.keys(pins).filter((key) => key !== 'version') as Exclude<keyof PinFile, 'version'>[];
      expect(sections).toEqual(['tools', 'instructions', 'resources', 'resourceTemplates', 'prompts']);
      for (const section of sections) {
        expect(Object.getPrototypeOf(pins[section])).toBeNull();
        pins[section][`srv/${section}`] = {
          hash: section,
          definition: { section },
          approvedAt: '2026-11-21T00:00:00.000Z',
        };
      }
      await writePins(file, pins);
      const read = await readPins(file);
      expect(read).toEqual(pins);
      for (const section of sections) expect(Object.getPrototypeOf(read[section])).toBeNull();
      writeFileSync(file, '{"version":1,"tools":{"__proto__":{"hash":"x"}}}');
      const hostile = await readPins(file);
      expect(Object.getPrototypeOf(hostile.tools)).toBeNull();
      expect(Object.keys(hostile.tools)).toEqual(['__proto__']);
      expect(({} as { hash?: unknown }).hash).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
