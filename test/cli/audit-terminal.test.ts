import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import { SqliteApprovalStore } from '../../src/store/sqlite/approvals.ts';
import type { AuditEvent } from '../../src/store/types.ts';
import { writeSampleLog } from '../audit/log.ts';
import { sampleApprovalRequest } from '../helpers.ts';
import { tempDirs } from '../store/stores.ts';
import { cli } from './run-cli.ts';

const workdir = tempDirs();

/** Escape sequences and characters that rewrite or reorder what a terminal shows. */
const ATTACK = '\u001b[2K\r\u001b[1A\u009b2J\u202egnp.exe\u2066\u2028x';
/** A character a terminal acts on or does not show as itself; only the line feeds that end lines are expected. */
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/u;

function hidden(text: string): string[] {
  return text.split('\n').filter((line) => HIDDEN.test(line));
}

describe('audit output shows text from agents and upstreams as escapes, not terminal commands', () => {
  it('tail escapes tool names, arguments, reasons, approvers and authors', async () => {
    const dir = workdir();
    const path = join(dir, 'a.db');
    const log = new SqliteAuditLog(path);
    const at = 1_700_000_000_000;
    const events: AuditEvent[] = [
      {
        type: 'decision',
        at,
        decision: {
          effect: 'deny',
          sessionId: `s${ATTACK}`,
          callId: `c${ATTACK}`,
          tool: `t${ATTACK}`,
          seq: 1,
          policyVersion: 'v',
          legsBefore: '',
          legsAfter: '',
          reasons: [{ code: 'unknown_tool', rule: 1, message: `unknown tool \`${ATTACK}\`` }],
          evidence: [],
        },
      },
      { type: 'approval.answer', at, requestId: 'r1', sessionId: 's', status: 'approved', by: ATTACK, reason: ATTACK },
      { type: 'lineage.allow', at, author: ATTACK, tool: ATTACK, reason: ATTACK },
      { type: 'result.ignored', at, sessionId: 's', callId: 'c', reason: ATTACK },
    ];
    for (const event of events) await log.append(event);
    await log.close();
    const tail = await cli(['audit', 'tail', path]);
    expect(tail.status).toBe(0);
    expect(tail.stdout.split('\n')).toHaveLength(events.length + 1);
    expect(hidden(tail.stdout)).toEqual([]);
    expect(tail.stdout).toContain('\\u001b[2K\\u000d\\u001b[1A\\u009b2J\\u202egnp.exe\\u2066\\u2028x');
  });

  it('verify and stats escape what a tampered file puts into their reports', async () => {
    const dir = workdir();
    const { path } = await writeSampleLog(dir, 4);
    const db = new DatabaseSync(path);
    // A record whose version field an attacker chose: the report quotes it.
    const { record } = db.prepare('SELECT record FROM audit_records WHERE seq = 2').get() as { record: string };
    const forged = record.replace('"v":1}', `"v":${JSON.stringify(`\r${ATTACK}ok, 4 records`)}}`);
    db.prepare('UPDATE audit_records SET record = ? WHERE seq = 2').run(forged);
    db.close();
    const report = await cli(['audit', 'verify', path]);
    expect(report.status).toBe(1);
    expect(report.stdout).toContain('verification failed at record 2');
    expect(hidden(report.stdout)).toEqual([]);
    const edit = new DatabaseSync(path);
    edit.prepare('INSERT INTO audit_keys (key_id, public_key) VALUES (?, ?)').run(`\r${ATTACK}`, 'x');
    edit.close();
    const stats = await cli(['audit', 'stats', path]);
    expect(stats.stdout).toMatch(/^keys /m);
    expect(hidden(stats.stdout)).toEqual([]);
  });

  it('approvals list escapes the name of whoever answered', async () => {
    const path = join(workdir(), 'a.db');
    const store = new SqliteApprovalStore(path);
    const now = Date.now();
    await store.create(sampleApprovalRequest());
    await store.answer('r1', { approved: false, by: ATTACK }, now);
    await store.close();
    const listed = await cli(['approvals', 'list', path]);
    expect(listed.stdout).toContain('denied by \\u001b[2K');
    expect(hidden(listed.stdout)).toEqual([]);
  });
});
