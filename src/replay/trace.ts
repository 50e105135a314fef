import type { Configuration, InputTrust } from '../core/document.ts';
import { isLeg, type Leg } from '../core/legs.ts';
import { ConfigError, type ConfigIssue } from '../errors.ts';
import { isRecord } from '../is-record.ts';

/** One event of a trace (one JSON object a line). `line` is where it was read. */
export type TraceEvent =
  | {
      type: 'session';
      line: number;
      id: string;
      configuration?: Configuration;
      input?: InputTrust;
      /** The user's request: trusted input for provenance when the session's input is trusted. */
      request?: unknown;
    }
  | {
      type: 'call';
      line: number;
      id: string;
      tool: string;
      args: unknown;
      session?: string;
      expect?: ExpectedEffect;
      /** Reason codes the decision must carry: the control the call is about, not only its effect. */
      because?: string[];
    }
  | { type: 'result'; line: number; call: string; output: unknown }
  | { type: 'approval'; line: number; call: string; decision: 'approve' | 'deny'; expect?: ExpectedEffect }
  | { type: 'drop'; line: number; leg: Leg; session?: string; reason?: string }
  | { type: 'lineage'; line: number; author?: string; item?: string; by?: string; reason?: string };

/** What a trace says a decision must be: `allow`, `deny`, `ask`, or `stopped` (ask or deny). */
export type ExpectedEffect = 'allow' | 'deny' | 'ask' | 'stopped';

const FIELDS: Record<TraceEvent['type'], { required: string[]; optional: string[] }> = {
  session: { required: ['id'], optional: ['configuration', 'input', 'request', 'comment'] },
  call: { required: ['id', 'tool'], optional: ['args', 'session', 'expect', 'because', 'comment'] },
  result: { required: ['call'], optional: ['output', 'comment'] },
  approval: { required: ['call', 'decision'], optional: ['expect', 'comment'] },
  drop: { required: ['leg'], optional: ['session', 'reason', 'comment'] },
  lineage: { required: [], optional: ['author', 'item', 'by', 'reason', 'comment'] },
};

/** What a reason code looks like (codes are stable snake_case, see `ReasonCode`). */
const REASON_CODE = /^[a-z]+(?:_[a-z]+)*$/;

/**
 * Parses a JSONL trace. Blank lines and lines starting with `//` are skipped. Every malformed line is reported
 * (with its line number) in one {@link ConfigError}.
 */
export function parseTrace(text: string, name = 'trace'): TraceEvent[] {
  const events: TraceEvent[] = [];
  const issues: ConfigIssue[] = [];
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const line = index + 1;
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.startsWith('//')) continue;
    const report = (code: string, message: string, field = '') =>
      issues.push({ code, path: field === '' ? `line ${line}` : `line ${line}.${field}`, line, message });
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (error) {
      report('invalid_json', `invalid JSON: ${(error as Error).message}`);
      continue;
    }
    if (!isRecord(value)) {
      report('expected_object', 'each line must be a JSON object');
      continue;
    }
    const type = value.type;
    if (typeof type !== 'string' || !Object.hasOwn(FIELDS, type)) {
      report(
        'unknown_event',
        `unknown event type \`${String(type)}\`; expected ${Object.keys(FIELDS).join(', ')}`,
        'type',
      );
      continue;
    }
    const { required, optional } = FIELDS[type as TraceEvent['type']];
    let ok = true;
    for (const key of Object.keys(value)) {
      if (key !== 'type' && !required.includes(key) && !optional.includes(key)) {
        report('unknown_key', `unknown key \`${key}\` in a ${type} event`, key);
        ok = false;
      }
    }
    for (const key of required) {
      if (typeof value[key] !== 'string' || value[key] === '') {
        report('missing_key', `a ${type} event needs a non-empty string \`${key}\``, key);
        ok = false;
      }
    }
    const check = (key: string, allowed: readonly string[]) => {
      if (value[key] !== undefined && !allowed.includes(value[key] as string)) {
        report('invalid_value', `\`${key}\` must be one of ${allowed.join(', ')}`, key);
        ok = false;
      }
    };
    check('configuration', ['dynamic', 'AB', 'AC', 'BC']);
    check('input', ['trusted', 'untrusted']);
    check('decision', ['approve', 'deny']);
    check('expect', ['allow', 'deny', 'ask', 'stopped']);
    if (type === 'drop' && !isLeg(value.leg)) {
      report('invalid_value', '`leg` must be A, B or C', 'leg');
      ok = false;
    }
    if (type === 'lineage' && (typeof value.author === 'string') === (typeof value.item === 'string')) {
      report('invalid_value', 'a lineage event names exactly one of `author` or `item`');
      ok = false;
    }
    if (value.because !== undefined) {
      const codes = typeof value.because === 'string' ? [value.because] : value.because;
      if (
        !Array.isArray(codes) ||
        codes.length === 0 ||
        !codes.every((c) => typeof c === 'string' && REASON_CODE.test(c))
      ) {
        report(
          'invalid_value',
          '`because` must be a reason code or a non-empty list of them, e.g. `lethal_trifecta`',
          'because',
        );
        ok = false;
      } else {
        value.because = codes;
      }
    }
    for (const key of ['session', 'reason', 'author', 'item', 'by']) {
      if (value[key] !== undefined && typeof value[key] !== 'string') {
        report('expected_string', `\`${key}\` must be a string`, key);
        ok = false;
      }
    }
    if (!ok) continue;
    const { comment: _comment, ...event } = value;
    if (type === 'call' && event.args === undefined) event.args = {};
    events.push({ ...event, line } as TraceEvent);
  }
  if (issues.length > 0) throw new ConfigError(`${name} has ${issues.length} malformed line(s)`, issues);
  return events;
}
