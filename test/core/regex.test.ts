import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { decide } from '../../src/core/decide.ts';
import { declassify } from '../../src/core/declassify.ts';
import { compilePolicy } from '../../src/core/policy.ts';
import { compileRegex, MAX_REGEX_STATES, regexProblem, UnsupportedRegexError } from '../../src/core/regex.ts';
import { newSessionState } from '../../src/core/state.ts';
import { parsePolicy } from '../../src/policy/load.ts';

/** How the policy format matched before: JavaScript's own engine, anchored to the whole value. */
const native = (source: string, value: string) => new RegExp(`^(?:${source})$`, 'u').test(value);

describe('linear policy expressions agree with JavaScript', () => {
  it('on typical policy patterns and the values that trip them', () => {
    const cases: [string, string[]][] = [
      ['[a-z0-9._-]+@example\\.com', ['bob@example.com', 'eve@evil.test', 'bob@example.com\n', 'a@example.comx']],
      ['[A-Z]{2,4}-[0-9]+', ['AB-1', 'A-1', 'ABCDE-1', 'ABCD-123', 'AB-']],
      ['https://docs\\.example\\.com/.*', ['https://docs.example.com/a', 'https://docs.example.com/\n', 'x']],
      ['a|b', ['a', 'b', 'ab', '']],
      ['[^][a]', ['\ra', 'a', '😀a']],
      ['\\s+', [' ', '\u00a0', '\v', '\ufeff', '\u2028', 'a']],
      ['\\p{Lu}\\p{Ll}*', ['Éa', 'éa', 'Σσ']],
      ['.', ['😀', '\ud800', '\n', '\r', '\u2029', 'ab']],
      ['\\bfoo\\b.*', ['foo bar', 'foobar', 'foo']],
      ['(?<year>\\d{4})-\\d{2}', ['2024-05', '202-05', '٢٠٢٤-05']],
      ['\\u{1F600}+|\\x41', ['😀😀', 'A', '\ud83d']],
      ['^a$|b', ['a', 'b']],
    ];
    for (const [source, values] of cases) {
      const regex = compileRegex(source);
      for (const value of values)
        expect(regex.test(value), `${source} on ${JSON.stringify(value)}`).toBe(native(source, value));
    }
  });

  it('on random expressions and values (property)', () => {
    const chars = ['a', 'b', ' ', '\n', 'é', 'Σ', '\u00a0', '😀', '-', '_'];
    const atom = fc.constantFrom(
      'a',
      'b',
      '[\\-a]',
      '.',
      '\\s',
      '\\S',
      '\\w',
      '\\d',
      '[ab]',
      '[^a]',
      '[a-é]',
      '\\p{L}',
      '[^]',
      '😀',
      '\\u00e9',
    );
    const { expr } = fc.letrec<{ expr: string; term: string; piece: string }>((tie) => ({
      expr: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        tie('term'),
        fc.tuple(tie('term'), tie('expr')).map(([a, b]) => `${a}|${b}`),
      ),
      term: fc.array(tie('piece'), { maxLength: 4 }).map((pieces) => pieces.join('')),
      piece: fc.oneof(
        { depthSize: 'small' },
        atom,
        fc.constantFrom('^', '$', '\\b', '\\B'),
        fc
          .tuple(
            fc.oneof(
              atom,
              tie('expr').map((e) => `(?:${e})`),
              tie('expr').map((e) => `(${e})`),
            ),
            fc.constantFrom('', '*', '+', '?', '{0,2}', '{2}', '{1,}', '*?', '+?'),
          )
          .map(([a, q]) => a + q),
      ),
    }));
    const value = fc.array(fc.constantFrom(...chars), { maxLength: 8 }).map((cs) => cs.join(''));
    fc.assert(
      fc.property(expr, fc.array(value, { minLength: 1, maxLength: 4 }), (source, values) => {
        // One compiled expression over several values, so later values meet the cache the earlier ones built.
        const regex = compileRegex(source);
        for (const v of values) {
          expect(regex.test(v)).toBe(native(source, v));
          expect(regex.run(v).matched).toBe(native(source, v));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('past the cache budget, where the simulation answers alone', () => {
    // The n-th character from the end is an `a`: a deterministic automaton needs 2^13 states for it, past the budget.
    const source = '[ab]*a[ab]{12}';
    const regex = compileRegex(source);
    const values = fc.sample(fc.array(fc.constantFrom('a', 'b'), { minLength: 10, maxLength: 40 }), {
      numRuns: 600,
      seed: 7,
    });
    for (const v of values.map((cs) => cs.join(''))) expect(regex.test(v), v).toBe(native(source, v));
  });
});

describe('catastrophic expressions', () => {
  // Each took 20-30 s or more on the backtracking engine (docs/policy.md); the answers come from the value's shape.
  const cases: [string, string, boolean][] = [
    ['(a+)+', `${'a'.repeat(28)}!`, false],
    ['(a+)+', 'a'.repeat(5000), true],
    ['(\\w+\\s?)*', `${'a'.repeat(5000)}!`, false],
    ['(\\w+\\s?)*', 'ab '.repeat(2000), true],
    ['(a|a)*', `${'a'.repeat(5000)}!`, false],
    ['.*a.*a.*a.*b', 'a'.repeat(5000), false],
    ['.*a.*a.*a.*b', `${'a'.repeat(5000)}b`, true],
  ];

  it('give the right answer in steps bounded by states times length', () => {
    for (const [source, value, expected] of cases) {
      const regex = compileRegex(source);
      const { matched, steps } = regex.run(value);
      expect(matched, source).toBe(expected);
      expect(steps, source).toBeLessThanOrEqual(2 * regex.size * (value.length + 1));
    }
  });

  it('take steps that grow linearly with the value: twice the value, at most twice the steps', () => {
    for (const [source, value] of cases) {
      const regex = compileRegex(source);
      const once = regex.run(value).steps;
      const twice = regex.run(value.slice(0, -1).repeat(2) + value.slice(-1)).steps;
      expect(twice, source).toBeLessThanOrEqual(2 * once + 2 * regex.size);
    }
  });

  it('answer inside a decision, where a value that does not match keeps the tool its own legs', () => {
    const policy = compilePolicy({
      version: 1,
      tools: { send: { call: 'BC', when: [{ match: { to: { regex: '(a+)+@corp\\.test' } }, call: 'B' }] } },
    });
    const state = newSessionState({ id: 's1', configuration: 'BC', input: 'trusted', now: 0 });
    const context = { now: 0, newId: () => 'r' };
    const hostile = decide(policy, state, { id: 'c1', tool: 'send', args: { to: `${'a'.repeat(28)}!` } }, context);
    expect(hostile.decision.call).toMatchObject({ source: 'base', pre: 'BC' });
    const fine = decide(policy, state, { id: 'c1', tool: 'send', args: { to: 'aaa@corp.test' } }, context);
    expect(fine.decision.call).toMatchObject({ source: 'when[0]', pre: 'B' });
  });

  it('declassify an id pattern that backtracks catastrophically on its longest value', () => {
    const schema = { type: 'id', pattern: '(a|aa)+', maxLength: 64 } as const;
    expect(declassify(`${'a'.repeat(63)}:`, schema)).toEqual({
      ok: false,
      message: 'value is not an id matching the pattern',
    });
    expect(declassify('a'.repeat(64), schema)).toEqual({ ok: true, value: 'a'.repeat(64) });
  });
});

describe('what the linear engine does not run', () => {
  it('rejects lookaround, backreferences and modifier groups as unsupported, naming the construct', () => {
    const cases: [string, string][] = [
      ['(?=a)a', 'lookahead `(?=a)`'],
      ['a(?!b)', 'lookahead `(?!b)`'],
      ['(?<=a)b', 'lookbehind `(?<=a)`'],
      ['(?<!a)b', 'lookbehind `(?<!a)`'],
      ['(a)\\1', 'backreference `\\1`'],
      ['(?<x>a)\\k<x>', 'backreference `\\k<x>`'],
      ['(?i:a)', 'modifier group `(?i:a)`'],
    ];
    for (const [source, construct] of cases) {
      expect(() => compileRegex(source)).toThrow(UnsupportedRegexError);
      expect(regexProblem(source)).toEqual({ code: 'unsupported_regex', message: expect.stringContaining(construct) });
    }
  });

  it('rejects an expression that expands past the state limit, and takes one just below it', () => {
    expect(regexProblem(`a{${MAX_REGEX_STATES}}`)?.code).toBe('unsupported_regex');
    expect(regexProblem('((a{100}){100}){100}')?.code).toBe('unsupported_regex');
    expect(regexProblem(`a{${MAX_REGEX_STATES - 1}}`)).toBeUndefined();
  });

  it('still reports what JavaScript rejects as invalid', () => {
    expect(regexProblem('([')).toEqual({ code: 'invalid_regex', message: expect.stringContaining('Unterminated') });
    expect(regexProblem('\\-')?.code).toBe('invalid_regex');
    expect(regexProblem('[[:alpha:]]')?.code).toBe('invalid_regex');
  });

  it('fails validation with the path and line, for matchers and id patterns', () => {
    const parsed = parsePolicy(
      [
        'version: 1',
        'tools:',
        '  fetch:',
        '    output: A',
        '    when:',
        '      - match: { url: { regex: "(?=https:).*" } }',
        '        output: none',
        '    declassify: { type: id, pattern: "(a)\\\\1", maxLength: 8 }',
      ].join('\n'),
    );
    expect(parsed.ok).toBe(false);
    const issues = parsed.ok ? [] : parsed.issues.map((i) => `${i.line} ${i.path} ${i.code}`);
    expect(issues).toEqual([
      '6 tools.fetch.when[0].match.url.regex unsupported_regex',
      '8 tools.fetch.declassify.pattern unsupported_regex',
    ]);
  });
});

describe('an engine error at decision time', () => {
  const test = RegExp.prototype.test;
  afterEach(() => {
    RegExp.prototype.test = test;
  });

  it('denies with a reason, as every matcher failure does', () => {
    const policy = compilePolicy({
      version: 1,
      tools: { send: { call: 'BC', when: [{ match: { to: { regex: '[a-z]+@corp\\.test' } }, call: 'B' }] } },
    });
    const state = newSessionState({ id: 's1', configuration: 'dynamic', input: 'trusted', now: 0 });
    // The linear engine asks V8 about single characters; a failure there must not be read as a match or a miss.
    RegExp.prototype.test = function (this: RegExp, value: string) {
      if (this.source === '^(?:[a-z])$') throw new Error('injected character test failure');
      return test.call(this, value);
    };
    const { decision } = decide(
      policy,
      state,
      { id: 'c1', tool: 'send', args: { to: 'bob@corp.test' } },
      {
        now: 0,
        newId: () => 'r',
      },
    );
    expect(decision.effect).toBe('deny');
    expect(decision.reasons).toContainEqual(
      expect.objectContaining({ code: 'engine_error', message: expect.stringContaining('injected character test') }),
    );
  });
});
