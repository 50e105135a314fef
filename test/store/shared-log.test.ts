import { type ChildProcess, spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { verifyDatabase } from '../../src/audit/inspect.ts';
import { readRecords } from '../../src/audit/sqlite-log.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { acknowledged } from '../audit/log.ts';
import { tempDirs } from './stores.ts';

const dir = tempDirs();
const KILLS = 8;
const APPENDER = join(import.meta.dirname, '..', 'audit', 'children', 'appender.ts');

/** An appender (`test/audit/children/appender.ts`) on the file, with the highest record each writer acknowledged. */
interface Appender {
  child: ChildProcess;
  acked: Map<number, number>;
  /** Resolves at its first acknowledged record. */
  started: Promise<void>;
  exited: Promise<void>;
}

function appender(path: string, run: string): Appender {
  const child = spawn(process.execPath, [APPENDER, path, run], { stdio: ['ignore', 'pipe', 'pipe'] });
  let first: () => void = () => {};
  const started = new Promise<void>((resolve) => {
    first = resolve;
  });
  const acked = acknowledged(child.stdout as Readable, () => {
    if (acked.size > 0) first();
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve, reject) =>
    child.on('exit', (_code, signal) =>
      signal === 'SIGKILL' ? resolve() : reject(new Error(`appender \`${run}\` exited on its own: ${stderr}`)),
    ),
  );
  return { child, acked, started, exited };
}

describe('one audit log appended by several processes', () => {
  it('a process killed while another appends loses no acknowledged record of either, and the chain verifies', async () => {
    const path = join(dir(), 'shared-log.db');
    const steady = appender(path, 'steady');
    await steady.started;
    const killed: [string, Appender][] = [];
    for (let k = 0; k < KILLS; k++) {
      const run = `killed-${k}`;
      const victim = appender(path, run);
      killed.push([run, victim]);
      await victim.started;
      // Killed while both processes append: the only timing here is where the kill lands, never what is asserted.
      await new Promise((resolve) => setTimeout(resolve, randomInt(20)));
      victim.child.kill('SIGKILL');
      await victim.exited;
    }
    steady.child.kill('SIGKILL');
    await steady.exited;

    const db = openDatabase(path, { readOnly: true });
    try {
      const report = verifyDatabase(db);
      expect(report.issues).toEqual([]);
      const seen = new Map<string, number[]>();
      for (const record of readRecords(db)) {
        const event = JSON.parse(record.text).event as { sessionId: string; callId: string };
        const key = `${event.sessionId}/${event.callId.split(':')[0]}`;
        seen.set(key, [...(seen.get(key) ?? []), Number(event.callId.split(':')[1])]);
      }
      let acknowledged = 0;
      for (const [run, { acked }] of [['steady', steady] as const, ...killed]) {
        for (const [w, max] of acked) {
          // Every acknowledged record is there, and each writer's records are a gap-free run in its own order.
          const ns = seen.get(`${run}/${w}`) ?? [];
          expect(ns.slice(0, max + 1), `${run} writer ${w}`).toEqual(Array.from({ length: max + 1 }, (_, i) => i));
          expect(ns, `${run} writer ${w}`).toEqual(Array.from({ length: ns.length }, (_, i) => i));
          acknowledged += max + 1;
        }
      }
      expect(acknowledged).toBeGreaterThan(KILLS * 8);
    } finally {
      db.close();
    }
  }, 60_000);
});
