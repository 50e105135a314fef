import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactBuffer, compactUtf8Into } from '../../src/core/compact.ts';
import { type Encoding, eachDecodedRun } from '../../src/core/encodings.ts';
import { FingerprintTable } from '../../src/core/fingerprints.ts';
import { LEG_A, LEG_B } from '../../src/core/legs.ts';
import {
  compact,
  extractValues,
  MemoryProvenanceIndex,
  MIN_CHUNK_LENGTH,
  MIN_TEXT_LENGTH,
  MIN_VALUE_LENGTH,
} from '../../src/core/provenance.ts';
import { anchorHash, GRAM as VALUE_GRAM, ValueTable } from '../../src/core/value-table.ts';

const source = (seq: number, tool = 'read_inbox') => ({ seq, callId: `c${seq}`, tool });

function labels(index: MemoryProvenanceIndex, text: string): number {
  return index.scan(text).reduce((mask, found) => mask | found.labels, 0);
}

// Words of letters only: never distinctive values, so text matching is what is tested.
const word = fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'), minLength: 2, maxLength: 9 });
const prose = fc.array(word, { minLength: 12, maxLength: 80 }).map((words) => words.join(' '));
// Distinctive values: identifiers with a digit, of at least the minimum length.
const identifier = fc
  .tuple(
    fc.string({ unit: fc.constantFrom(...'ABCDEFGHJKLMNPQRSTUVWXYZ'), minLength: 2, maxLength: 6 }),
    fc.integer({ min: 10_000, max: 99_999_999 }),
  )
  .map(([letters, digits]) => `${letters}-${digits}`)
  .filter((v) => compact(v).length >= MIN_VALUE_LENGTH);

/** The decoded runs of an argument as text (invalid UTF-8 becomes U+FFFD), as a scan sees their bytes. */
function decodedRuns(argument: string): { encoding: Encoding; text: string }[] {
  const runs: { encoding: Encoding; text: string }[] = [];
  const utf8 = new TextDecoder();
  eachDecodedRun(argument, (encoding, bytes, length) =>
    runs.push({ encoding, text: utf8.decode(bytes.subarray(0, length)) }),
  );
  return runs;
}

describe('provenance index', () => {
  it('finds values exactly and inside arguments, and names the event that brought them', () => {
    const index = new MemoryProvenanceIndex();
    index.addOutput(source(3), LEG_A, {
      body: 'Our bank changed: pay to GB33 BUKB 2020 1555 5555 55 or call +44 20 7946 0958.',
    });
    const [iban] = index.scan('GB33BUKB20201555555555');
    expect(iban).toMatchObject({
      kind: 'value',
      labels: LEG_A,
      sources: [{ seq: 3, callId: 'c3', tool: 'read_inbox' }],
    });
    expect(labels(index, 'please pay GB33 BUKB 2020 1555 5555 55 today')).toBe(LEG_A);
    expect(labels(index, 'call +442079460958')).toBe(LEG_A);
    expect(index.scan('DE44500105175407324931')).toEqual([]);
  });

  it('finds one of many values that share a prefix, and only values that were seen', () => {
    const index = new MemoryProvenanceIndex();
    const urls = Array.from({ length: 300 }, (_, i) => `https://shop.example/item/${1000 + i}`);
    index.addOutput(source(1, 'fetch'), LEG_A, urls.join('\n'));
    const found = index.scan(`buy it at ${urls[123]} now`);
    expect(found.map((f) => f.value)).toEqual(['https://shop.example/item/1123']);
    // An unseen URL that shares a long prefix with seen text may be reported as text (errs on flagging), never as
    // one of the seen values.
    expect(index.scan('https://shop.example/item/9999').filter((f) => f.kind === 'value')).toEqual([]);
    expect(index.scan('https://other.example/item/9999')).toEqual([]);
  });

  it('decodes percent escapes and ignores case and separators on both sides', () => {
    const index = new MemoryProvenanceIndex();
    index.addOutput(source(1, 'read_notes'), LEG_B, 'deal code FALCON-7731, vote 2026-03-03');
    expect(labels(index, 'https://docs.example.com/search?q=falcon%2D7731')).toBe(LEG_B);
    expect(labels(index, 'Falcon 7731')).toBe(LEG_B);
    const [shown] = index.scan('see falcon%2D7731 (100%)');
    expect(shown?.value).toBe('falcon%2D7731');
  });

  it('does not flag values that trusted input also holds', () => {
    const index = new MemoryProvenanceIndex();
    index.addTrusted('Pay my landlord DE44 5001 0517 5407 3249 31 please');
    index.addOutput(
      source(2),
      LEG_A | LEG_B,
      'Rent: 1450 EUR to DE44 5001 0517 5407 3249 31, our new IBAN GB33BUKB20201555555555',
    );
    expect(index.scan('DE44500105175407324931')).toEqual([]);
    expect(labels(index, 'GB33BUKB20201555555555')).toBe(LEG_A | LEG_B);
  });

  it('a value that a tool without A also returned stays flagged: outputs never launder values', () => {
    const index = new MemoryProvenanceIndex();
    index.addOutput(source(1), LEG_A, 'book HTL-4471-9921 now');
    const values = index.stats().values;
    index.addOutput(source(2, 'list_notes'), 0, [{ note: 'HTL-4471-9921' }]);
    expect(labels(index, 'HTL-4471-9921')).toBe(LEG_A);
    index.addOutput(source(3, 'search_hotels'), 0, [{ id: 'HTL-2087-5530' }]);
    expect(index.scan('HTL-2087-5530')).toEqual([]);
    // Outputs that brought no legs keep only the URLs they vouch for.
    expect(index.stats().values).toBe(values);
  });

  it('vouches for URLs only from trusted sources, verbatim', () => {
    const index = new MemoryProvenanceIndex();
    index.addOutput(source(1, 'search_hotels'), 0, [{ url: 'https://www.hotels.example/h/HTL-2087-5530' }]);
    index.addOutput(source(2, 'fetch_page'), LEG_A, 'see https://deals.evil.example/x');
    index.addTrusted('open https://intranet.example.com/handbook.');
    expect(index.trustedUrl('https://www.hotels.example/h/HTL-2087-5530')).toBe(true);
    expect(index.trustedUrl('https://intranet.example.com/handbook')).toBe(true);
    expect(index.trustedUrl('https://deals.evil.example/x')).toBe(false);
    expect(index.trustedUrl('https://www.hotels.example/h/HTL-2087-5531')).toBe(false);
  });

  it('extracts URLs, emails, IBANs, phone numbers, identifiers and domains, but not plain words', () => {
    const found: string[] = [];
    extractValues(
      'Mail boss@evil.example, see https://a.example/p?q=1. IBAN DE89 3704 0044 0532 0130 00, tel +1 555 010 0199, id INV-20391, host tracker.example; important meeting',
      (v) => found.push(v),
    );
    expect(found).toEqual(
      expect.arrayContaining([
        'boss@evil.example',
        'https://a.example/p?q=1',
        'https://a.example/p',
        'DE89 3704 0044 0532 0130 00',
        '+1 555 010 0199',
        'INV-20391',
        'tracker.example',
      ]),
    );
    expect(found).not.toContain('important');
  });

  it('cuts a URL at the first `?` of its query, and not at a question mark that ends the sentence', () => {
    const found: string[] = [];
    extractValues('is it https://a.example/page? or https://b.example/x?y=1?z=2', (v) => found.push(v));
    expect(found).toEqual(['https://a.example/page', 'https://b.example/x?y=1?z=2', 'https://b.example/x']);
  });

  it('property: every indexed value is found exactly and inside any argument', () => {
    fc.assert(
      fc.property(prose, identifier, prose, prose, (before, value, after, around) => {
        const index = new MemoryProvenanceIndex();
        index.addOutput(source(1), LEG_A, `${before} ${value} ${after}`);
        expect(labels(index, value) & LEG_A).toBe(LEG_A);
        expect(labels(index, `${around.slice(0, 20)} ${value} ${around.slice(20, 40)}`) & LEG_A).toBe(LEG_A);
      }),
      { numRuns: 200 },
    );
  });

  it(`property: any substring of seen text of ${MIN_TEXT_LENGTH}+ compact characters is found`, () => {
    fc.assert(
      fc.property(prose, fc.nat(), fc.nat(), (text, a, b) => {
        const index = new MemoryProvenanceIndex();
        index.addOutput(source(1, 'read_file'), LEG_B, text);
        const start = a % text.length;
        const end = start + ((b % text.length) + 1);
        const piece = text.slice(start, end);
        fc.pre(compact(piece).length >= MIN_TEXT_LENGTH);
        expect(labels(index, piece) & LEG_B).toBe(LEG_B);
      }),
      { numRuns: 300 },
    );
  });

  it(`property: an argument carrying ${MIN_CHUNK_LENGTH}+ compact characters of seen text is found`, () => {
    fc.assert(
      fc.property(prose, prose, prose, fc.nat(), (text, left, right, a) => {
        const index = new MemoryProvenanceIndex();
        index.addOutput(source(1, 'read_file'), LEG_B, text);
        const start = a % Math.max(1, text.length - 1);
        const chunk = text.slice(start, start + MIN_CHUNK_LENGTH + 20);
        fc.pre(compact(chunk).length >= MIN_CHUNK_LENGTH);
        expect(labels(index, `${left}/${chunk}/${right}`) & LEG_B).toBe(LEG_B);
      }),
      { numRuns: 300 },
    );
  });

  it('property: eviction never unflags', () => {
    // INVARIANT test for "eviction never unflags" in src/core/provenance.ts.
    const tiny = { maxValues: 8, maxValueChars: 200, maxTableBits: 6, maxTrustedUrls: 4 };
    fc.assert(
      fc.property(
        identifier,
        prose,
        fc.array(
          fc.tuple(fc.constantFrom(LEG_A, LEG_B, LEG_A | LEG_B), prose, fc.array(identifier, { maxLength: 6 })),
          {
            minLength: 1,
            maxLength: 40,
          },
        ),
        (value, text, later) => {
          const index = new MemoryProvenanceIndex(tiny);
          index.addOutput(source(1), LEG_A, `${text} ${value}`);
          const flagged = labels(index, value);
          expect(flagged & LEG_A).toBe(LEG_A);
          for (const [i, [legs, more, values]] of later.entries()) {
            index.addOutput(source(i + 2), legs, `${more} ${values.join(' ')}`);
            expect(labels(index, value) & flagged).toBe(flagged);
          }
        },
      ),
      { numRuns: 100 },
    );
  });

  it('an index that lost data (or never had it) flags every argument of meaningful length', () => {
    const index = new MemoryProvenanceIndex({}, LEG_A | LEG_B);
    expect(index.scan('anything-12345678')).toEqual([{ labels: LEG_A | LEG_B, kind: 'evicted', sources: [] }]);
    expect(index.scan('short')).toEqual([]);
    index.addTrusted('the user asked for anything-12345678');
    expect(index.scan('anything-12345678')).toEqual([]);
  });

  it('stays within its table and value limits and reports what it lost', () => {
    const index = new MemoryProvenanceIndex({ maxValues: 10, maxTableBits: 6 });
    for (let i = 0; i < 50; i++)
      index.addOutput(source(i), LEG_A, `value ID-${100_000 + i} ${'lorem ipsum dolor '.repeat(60)}${i}`);
    const stats = index.stats();
    expect(stats.values).toBeLessThanOrEqual(10);
    expect(stats.tableSlots).toBe(16 << 6);
    expect(stats.lost).toBe('A');
  });

  it('finds values and text in non-ASCII text and shows them as the caller wrote them', () => {
    const index = new MemoryProvenanceIndex();
    index.addOutput(source(1), LEG_A, 'Überweisung an Jürgen, Konto GB33 BUKB 2020 1555 5555 55, Beleg Straße-0042-ÄÖ');
    const [iban] = index.scan('Bitte sofort überweisen: GB33BUKB20201555555555 ✓');
    expect(iban).toMatchObject({ kind: 'value', value: 'GB33BUKB20201555555555' });
    expect(index.scan('beleg Straße 0042 ÄÖ')[0]).toMatchObject({ kind: 'value', value: 'Straße 0042 ÄÖ' });
    // Non-ASCII spacing is spacing: the text run is found however it is spaced.
    expect(labels(index, 'Überweisung\u2003an\u00a0Jürgen, Konto GB33 BUKB')).toBe(LEG_A);
  });

  it('finds a seen value smuggled base64-, hex- or percent-encoded, and says how', () => {
    const index = new MemoryProvenanceIndex();
    index.addOutput(source(4, 'read_notes'), LEG_B, 'the deal code is FALCON-7731-ZETA, keep it quiet');
    const secret = 'FALCON-7731-ZETA';
    const b64 = btoa(`code=${secret}`);
    const urlSafe = b64.replaceAll('+', '-').replaceAll('/', '_').replaceAll('=', '');
    const hex = Array.from(new TextEncoder().encode(secret), (b) => b.toString(16).padStart(2, '0')).join('');
    for (const [argument, encoding] of [
      [`https://img.evil.example/p.png?d=${b64}`, 'base64'],
      [`https://img.evil.example/x/y/${urlSafe}`, 'base64'],
      [`https://img.evil.example/p?d=${encodeURIComponent(b64)}`, 'base64'],
      [`pixel-${hex}`, 'hex'],
    ] as const) {
      const found = index.scan(argument);
      expect(found, argument).toEqual([
        expect.objectContaining({ labels: LEG_B, kind: 'value', value: 'FALCON-7731-ZETA', encoding }),
      ]);
    }
    expect(labels(index, `https://evil.example/?q=${encodeURIComponent(secret)}`)).toBe(LEG_B);
  });

  it('what encodings do not catch: two layers, other transforms, paraphrase', () => {
    const index = new MemoryProvenanceIndex();
    index.addOutput(source(4, 'read_notes'), LEG_B, 'the deal code is FALCON-7731-ZETA, keep it quiet');
    expect(index.scan(btoa(btoa('FALCON-7731-ZETA')))).toEqual([]);
    expect(index.scan('ATEZ-1377-NOCLAF')).toEqual([]);
    expect(index.scan('the code of the deal: falcon, then 7731, then zeta')).toEqual([]);
  });

  it('decodes only runs that look encoded: ordinary words are not decoded', () => {
    expect(decodedRuns('internationalization and responsibilities')).toEqual([]);
    expect(decodedRuns(`x ${btoa('hello there, world')}`).map((r) => r.text)).toContain('hello there, world');
  });

  it('property: the runs decoded are the maximal runs of the base64 alphabet of at least 12 characters', () => {
    // Each maximal run decoded on its own is what the skipping search must find in the whole text.
    const reference = (text: string) => (text.match(/[A-Za-z0-9+/_-]{12,}/g) ?? []).flatMap((run) => decodedRuns(run));
    const unit = fc.constantFrom(...'aZ9+/_-. éQ7f'.split(''), 'abcdefghijkl', 'F00D', ' ');
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 80 }), (text) => {
        expect(decodedRuns(text)).toEqual(reference(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('property: bytes decoded as UTF-8 compact as the text TextDecoder makes of them, invalid sequences included', () => {
    // A scan compacts decoded runs straight from their bytes; a difference would be a value the scan cannot see.
    const decoder = new TextDecoder('utf-8');
    const byte = fc.oneof(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(0x25, 0x41, 0x32, 0xc2, 0xa0, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0x80, 0xbf, 0x9f, 0x90, 0x8f),
    );
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.array(byte, { maxLength: 40 }).map((b) => Uint8Array.from(b)),
      fc.string({ unit: 'grapheme', maxLength: 20 }).map((t) => new TextEncoder().encode(`%41 ${t}\u00a0x`)),
    );
    fc.assert(
      fc.property(bytes, (input) => {
        const n = compactUtf8Into(input, input.length);
        expect(String.fromCharCode(...compactBuffer().subarray(0, n))).toBe(compact(decoder.decode(input)));
      }),
      { numRuns: 5000 },
    );
  });

  it('property: decoded bytes are compacted only when a stretch of valid UTF-8 is as long as asked', () => {
    // The reference: the longest run of bytes that decodes without an error (an invalid sequence splits a run).
    const strict = new TextDecoder('utf-8', { fatal: true });
    const valid = (input: Uint8Array) => {
      let longest = 0;
      for (let i = 0; i < input.length; i++) {
        for (let j = input.length; j > i + longest; j--) {
          try {
            strict.decode(input.subarray(i, j));
            longest = j - i;
            break;
          } catch {}
        }
      }
      return longest;
    };
    const byte = fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }));
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 24 }),
      fc.array(byte, { maxLength: 24 }).map((b) => Uint8Array.from(b)),
      fc.string({ unit: 'grapheme', maxLength: 8 }).map((t) => new TextEncoder().encode(t)),
    );
    fc.assert(
      fc.property(bytes, fc.integer({ min: 1, max: 12 }), (input, least) => {
        const whole = compactUtf8Into(input, input.length);
        const text = String.fromCharCode(...compactBuffer().subarray(0, whole));
        const n = compactUtf8Into(input, input.length, least);
        expect(n).toBe(valid(input) >= least ? whole : 0);
        if (n > 0) expect(String.fromCharCode(...compactBuffer().subarray(0, n))).toBe(text);
      }),
      { numRuns: 3000 },
    );
  });

  it('property: batched adds and look-ups of the fingerprint table agree with a map, repeats and growth included', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(fc.array(fc.integer({ min: 1, max: 5000 }), { maxLength: 600 }), fc.integer({ min: 1, max: 7 })),
          { maxLength: 8 },
        ),
        (batches) => {
          const table = new FingerprintTable(16);
          const model = new Map<number, number>();
          for (const [tags, bits] of batches) {
            expect(
              table.addAll(
                Int32Array.from(tags, (tag) => tag << 3),
                tags.length,
                bits,
              ),
            ).toBe(true);
            for (const tag of tags) model.set(tag, (model.get(tag) ?? 0) | bits);
          }
          expect(table.count).toBe(model.size);
          const all = [...model.keys(), 5001, 5002];
          const labels = new Uint8Array(all.length);
          const hashes = Int32Array.from(all, (tag) => tag << 3);
          table.probeAll(
            hashes,
            Int32Array.from(all, (_, i) => i),
            all.length,
            labels,
          );
          all.forEach((tag, i) => {
            expect(labels[i]).toBe(model.get(tag) ?? 0);
          });
        },
      ),
      { numRuns: 50 },
    );
  });

  it('property: the fingerprint table agrees with a set, through growth', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 2 ** 29 - 1 }), { maxLength: 3000 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 8 }),
        (tags, label) => {
          const table = new FingerprintTable(16);
          const model = new Map<number, number>();
          tags.forEach((tag, i) => {
            const bits = label[i % label.length] as number;
            expect(table.add(tag << 3, bits)).toBe(true);
            model.set(tag, (model.get(tag) ?? 0) | bits);
          });
          expect(table.count).toBe(model.size);
          for (const [tag, bits] of model) expect(table.get(tag << 3)).toBe(bits);
        },
      ),
      { numRuns: 30 },
    );
  });

  // The larger limits fill the per-value arrays past their first size, so they are compacted at their cap.
  it.each([
    { maxValues: 16, maxChars: 200, poolSize: 24, adds: 300 },
    { maxValues: 60, maxChars: 1500, poolSize: 90, adds: 600 },
  ])(
    'property: the value table agrees with a first-in first-out map under its limits (%o)',
    ({ maxValues, maxChars, poolSize, adds: maxAdds }) => {
      // Few letters, so values share anchor grams; a small pool, so they repeat after the tables were rebuilt; room is
      // reserved now and then, as indexing a text does.
      const value = fc.string({ unit: fc.constantFrom('a', 'b', '1', '2'), minLength: 8, maxLength: 30 });
      const reserve = fc.oneof(
        { arbitrary: fc.constant(null), weight: 9 },
        { arbitrary: fc.integer({ min: 0, max: 40 }), weight: 1 },
      );
      const add = fc.tuple(fc.nat(), fc.integer({ min: 1, max: 7 }), reserve);
      const pool = fc.array(value, { minLength: 1, maxLength: poolSize, size: 'max' });
      fc.assert(
        fc.property(pool, fc.array(add, { minLength: maxAdds / 2, maxLength: maxAdds }), (values, picks) => {
          const adds = picks.map(
            ([pick, labels, room]) => [values[pick % values.length] as string, labels, room] as const,
          );
          let evicted = 0;
          const table = new ValueTable(maxValues, maxChars, (labels) => {
            evicted |= labels;
          });
          const model = new Map<string, number>();
          let modelEvicted = 0;
          for (const [v, labels, room] of adds) {
            if (room !== null) table.reserve(room, room * 20);
            table.add(new TextEncoder().encode(v), v.length, labels, 0);
            if (model.has(v)) model.set(v, (model.get(v) as number) | labels);
            else {
              const chars = () => [...model.keys()].reduce((sum, k) => sum + k.length, 0);
              while (model.size > 0 && (model.size >= maxValues || chars() + v.length > maxChars)) {
                const [oldest, bits] = model.entries().next().value as [string, number];
                model.delete(oldest);
                modelEvicted |= bits;
              }
              model.set(v, labels);
            }
            expect(table.count).toBe(model.size);
          }
          expect(evicted).toBe(modelEvicted);
          for (const [v, labels] of model) {
            const bytes = new TextEncoder().encode(v);
            const ids = new Set<number>();
            for (let p = 0; p + VALUE_GRAM <= v.length; p++) {
              for (let id = table.newest(anchorHash(bytes, p)); id >= 0; id = table.older(id)) {
                if (table.value(id) === v && table.offset(id) === p && table.matches(id, bytes, 0, v.length))
                  ids.add(id);
              }
            }
            expect([...ids].map((id) => table.labels(id))).toEqual([labels]);
          }
        }),
        { numRuns: 200 },
      );
    },
  );
});
