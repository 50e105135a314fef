import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LEG_A, LEG_B, LEG_C, parseLegs } from '../../src/core/legs.ts';
import type { UpstreamConfig } from '../../src/mcp/config.ts';
import { configuredPolicy, labelFromHints, labelTools } from '../../src/mcp/labels.ts';

function upstream(name: string, trusted: boolean, tools: UpstreamConfig['tools'] = {}): UpstreamConfig {
  return {
    name,
    trusted,
    tools,
    transport: { kind: 'stdio', command: 'x', args: [], env: {} },
    resources: { output: 'A' },
    prompts: { output: 'A' },
    timeoutMs: 1000,
  };
}

function legsOf(doc: { call?: string; output?: string }): number {
  return (parseLegs(doc.call ?? '') ?? 0) | (parseLegs(doc.output ?? '') ?? 0);
}

const hints = fc.record({
  readOnlyHint: fc.option(fc.boolean(), { nil: undefined }),
  openWorldHint: fc.option(fc.boolean(), { nil: undefined }),
});

describe('labels from annotations', () => {
  it('untrusted hints: every unlabelled tool is A and C, whatever it claims', () => {
    fc.assert(
      fc.property(hints, (h) => {
        expect(legsOf(labelFromHints(h, false))).toBe(LEG_A | LEG_C);
      }),
    );
  });

  it('trusted hints may lower risk, never below what they say, and never give B', () => {
    fc.assert(
      fc.property(hints, (h) => {
        const legs = legsOf(labelFromHints(h, true));
        expect(legs & LEG_B).toBe(0);
        expect(Boolean(legs & LEG_C)).toBe(h.readOnlyHint !== true);
        expect(Boolean(legs & LEG_A)).toBe(h.openWorldHint !== false);
      }),
    );
  });

  it('trusted: missing hints take the spec defaults; explicit safe hints give no legs', () => {
    expect(legsOf(labelFromHints({}, true))).toBe(LEG_A | LEG_C);
    expect(legsOf(labelFromHints({ readOnlyHint: true, openWorldHint: false }, true))).toBe(0);
  });
});

describe('policy for the tools on offer', () => {
  const upstreams = [upstream('fs', false, { 'read_*': { output: 'B' } }), upstream('kb', true)];
  const configured = configuredPolicy({ version: 1, tools: { fs__write_file: { call: 'C' } } }, upstreams);

  it('configured names and globs win; annotations fill only the gaps', () => {
    const { policy, sources } = labelTools(
      configured,
      [
        { upstream: 'fs', name: 'read_text_file', annotations: { readOnlyHint: true, openWorldHint: false } },
        { upstream: 'fs', name: 'write_file', annotations: { readOnlyHint: true } },
        { upstream: 'fs', name: 'move_file', annotations: { readOnlyHint: true, openWorldHint: false } },
        { upstream: 'kb', name: 'lookup', annotations: { readOnlyHint: true, openWorldHint: false } },
      ],
      upstreams,
    );
    const legs = (name: string) => {
      const l = policy.resolve(name).legsFor({});
      return l.pre | l.post;
    };
    expect(legs('fs__read_text_file')).toBe(LEG_B);
    expect(legs('fs__write_file')).toBe(LEG_C);
    expect(legs('fs__move_file')).toBe(LEG_A | LEG_C);
    expect(legs('kb__lookup')).toBe(0);
    expect(sources.get('fs__read_text_file')).toBe('policy');
    expect(sources.get('fs__move_file')).toBe('annotations');
    // A tool nobody offered stays unknown: A+B+C.
    expect(policy.resolve('fs__other').known).toBe(false);
    expect(legs('fs__other')).toBe(LEG_A | LEG_B | LEG_C);
  });

  it('resources and prompts read through the gateway are untrusted input by default', () => {
    const { policy } = labelTools(configured, [], upstreams);
    const resource = policy.resolve('fs/resources/read').legsFor({ uri: 'file:///x' });
    expect(resource.post).toBe(LEG_A);
    expect(policy.resolve('kb/prompts/get').legsFor({}).post).toBe(LEG_A);
  });
});
