import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { generateAuditKey, loadAuditKey } from '../../src/audit/checkpoint.ts';
import { SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import type { AuditEvent } from '../../src/store/types.ts';

/** A varied event for record `i`: decisions, approvals with arguments, results, transitions. */
export function sampleEvent(i: number): AuditEvent {
  const at = 1_700_000_000_000 + i;
  switch (i % 4) {
    case 0:
      return {
        type: 'decision',
        at,
        decision: {
          effect: i % 3 ? 'allow' : 'ask',
          sessionId: `s${i % 3}`,
          callId: `c${i}`,
          tool: 'send_email',
          seq: i,
          policyVersion: 'a'.repeat(64),
          legsBefore: 'AB',
          legsAfter: 'AB',
          reasons: [{ code: 'allowed', rule: 5, message: 'holds two legs, “ünïcode” fine' }],
          evidence: [{ leg: 'A', seq: 1, source: 'result', callId: 'c1', tool: 'read_inbox' }],
        },
      };
    case 1:
      return {
        type: 'approval.request',
        at,
        request: {
          id: `r${i}`,
          hash: 'b'.repeat(64),
          sessionId: 's1',
          seq: i,
          callId: `c${i}`,
          tool: 'send_email',
          args: { to: 'x@evil.test', body: `secret ${i}`, nested: { password: 'hunter2' } },
          policyVersion: 'v',
          createdAt: at,
          expiresAt: at + 1000,
          legsBefore: 'AB',
          legsIfApproved: 'ABC',
          reasons: [],
          evidence: [],
        },
      };
    case 2:
      return {
        type: 'result',
        at,
        sessionId: 's1',
        callId: `c${i}`,
        tool: 'read_inbox',
        brought: 'A',
        legsAfter: 'AB',
        bytes: i,
      };
    default:
      return { type: 'transition', at, sessionId: 's1', kind: 'drop', detail: { leg: 'C', reason: null } };
  }
}

/** Writes a closed, signed log of `count` sample records to `dir/name` and returns its path and public key. */
export async function writeSampleLog(
  dir: string,
  count: number,
  options: { name?: string; checkpointEvery?: number } = {},
): Promise<{ path: string; publicPem: string; privatePem: string }> {
  const { privatePem, publicPem } = generateAuditKey();
  const path = join(dir, options.name ?? 'audit.db');
  let at = 1_700_000_000_000;
  const key = loadAuditKey({ key: privatePem });
  if (!key) throw new Error('no key');
  const log = new SqliteAuditLog(path, {
    key,
    checkpointEvery: options.checkpointEvery ?? 8,
    redact: ['send_email:body', '*.password'],
    now: () => at++,
  });
  for (let i = 0; i < count; i += 5) {
    await Promise.all(Array.from({ length: Math.min(5, count - i) }, (_, j) => log.append(sampleEvent(i + j))));
  }
  await log.close();
  return { path, publicPem, privatePem };
}

/**
 * Follows the `writer n` lines an appender (`children/appender.ts`) prints once each record is durable: the highest
 * record each writer acknowledged, updated as lines arrive; `onAck` runs after every chunk.
 */
export function acknowledged(stdout: Readable, onAck: () => void = () => {}): Map<number, number> {
  const acked = new Map<number, number>();
  let buffered = '';
  stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const [w, n] = line.split(' ').map(Number) as [number, number];
      acked.set(w, Math.max(acked.get(w) ?? -1, n));
    }
    onAck();
  });
  return acked;
}
