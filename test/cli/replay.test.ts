import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { parseTrace } from '../../src/replay/trace.ts';
import { cli } from './run-cli.ts';

const fixtures = join(import.meta.dirname, '..', 'fixtures', 'trace');

describe('trace format', () => {
  it('reports every malformed line with its line number in one run', () => {
    const text = readFileSync(join(fixtures, 'malformed.jsonl'), 'utf8');
    const expected = JSON.parse(readFileSync(join(fixtures, 'malformed.issues.json'), 'utf8'));
    let error: unknown;
    try {
      parseTrace(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).issues.map(({ code, path, line }) => ({ code, path, line }));
    expect(issues).toEqual(expected);
  });

  it('replays the frozen v1 fixture with every event type', async () => {
    const result = await cli([
      'replay',
      join(fixtures, 'policy.yaml'),
      join(fixtures, 'v1-all-events.jsonl'),
      '--json',
    ]);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const rows = result.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(rows.map((r) => r.event ?? 'summary')).toEqual([
      'session',
      'call',
      'result',
      'call',
      'approval',
      'result',
      'drop',
      'call',
      'summary',
    ]);
    expect(rows[3]).toMatchObject({ call: 'c2', effect: 'ask', legsBefore: 'AB' });
    expect(rows[3].reasons.map((r: { code: string }) => r.code)).toEqual(['lethal_trifecta']);
    const evidence = rows[3].evidence.map((e: { leg: string; source: string }) => `${e.leg}:${e.source}`);
    expect(evidence).toEqual(['A:input', 'B:call']);
    expect(rows[7]).toMatchObject({ call: 'c3', effect: 'deny' });
    expect(rows[7].reasons[0].code).toBe('leg_dropped');
    expect(rows.at(-1).summary).toMatchObject({ calls: 3, allowed: 1, asked: 1, denied: 1, approved: 1 });
  });

  it('flags a result of a call that was not allowed and fails on a mismatched expectation', async () => {
    const dir = join(fixtures, 'policy.yaml');
    const trace = join(mkdtempSync(join(tmpdir(), 'r2-')), 'mismatch.jsonl');
    writeFileSync(
      trace,
      [
        '{"type":"session","id":"s","input":"untrusted"}',
        '{"type":"call","id":"c1","tool":"read"}',
        '{"type":"call","id":"c2","tool":"send","expect":"allow"}',
        '{"type":"result","call":"c2","output":"sent"}',
      ].join('\n'),
    );
    const result = await cli(['replay', dir, trace]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('MISMATCH: expected allow, got ask');
    expect(result.stdout).toContain('FLAG: result ignored: the call was not approved');
    expect(result.stdout).toMatch(/1 unanswered \(denied\); 1 flagged, 1 mismatches/);
  });

  it('because: a call stopped for another reason than the one its trace names is a mismatch', async () => {
    const trace = join(mkdtempSync(join(tmpdir(), 'r2-')), 'because.jsonl');
    writeFileSync(
      trace,
      [
        '{"type":"session","id":"s","input":"untrusted"}',
        '{"type":"call","id":"c1","tool":"read"}',
        '{"type":"result","call":"c1","output":"private"}',
        '{"type":"call","id":"c2","tool":"send","expect":"stopped","because":"lethal_trifecta"}',
        '{"type":"call","id":"c3","tool":"send","expect":"stopped","because":["lethal_trifecta","url_host_denied"]}',
      ].join('\n'),
    );
    const result = await cli(['replay', join(fixtures, 'policy.yaml'), trace]);
    expect(result.status).toBe(1);
    expect(result.stdout).toContain('MISMATCH: expected reason `url_host_denied`, got lethal_trifecta');
    expect(result.stdout).toMatch(/, 1 mismatches$/m);
    expect(() => parseTrace('{"type":"call","id":"c","tool":"t","because":["Not A Code"]}')).toThrow(/malformed line/);
    expect(() => parseTrace('{"type":"call","id":"c","tool":"t","because":[]}')).toThrow(/malformed line/);
  });

  it('denies a call whose arguments hold a number JSON cannot carry (`1e999`), naming it', async () => {
    // Allowed before: `read` brings no leg this call lacks, and JSON.parse reads `1e999` as Infinity.
    const trace = join(mkdtempSync(join(tmpdir(), 'r2-')), 'infinity.jsonl');
    writeFileSync(trace, '{"type":"session","id":"s1"}\n{"type":"call","id":"c1","tool":"read","args":{"n":1e999}}\n');
    const result = await cli(['replay', join(fixtures, 'policy.yaml'), trace, '--json']);
    expect(result.stderr).toBe('');
    const call = JSON.parse(result.stdout.split('\n')[1] ?? '');
    expect(call).toMatchObject({ call: 'c1', effect: 'deny' });
    expect(call.reasons).toEqual([
      { code: 'invalid_call', rule: 0, message: 'argument `$.n` is `Infinity`, a number JSON cannot carry' },
    ]);
  });

  it('exits 2 with line numbers on a malformed trace, without a stack trace', async () => {
    const result = await cli(['replay', join(fixtures, 'policy.yaml'), join(fixtures, 'malformed.jsonl')]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('has 7 malformed line(s)');
    expect(result.stderr).toContain('\n  line 5.leg: `leg` must be A, B or C [invalid_value]');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });
});
