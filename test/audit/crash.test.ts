import { spawn } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateAuditKey, loadAuditKey } from '../../src/audit/checkpoint.ts';
import { verifyDatabase } from '../../src/audit/inspect.ts';
import { readRecords, SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { tempDir } from '../store/stores.ts';
import { acknowledged } from './log.ts';

const KILLS = 300;
const LANES = 2;
const KILLS_PER_FILE = 25;
const { privatePem, publicPem } = generateAuditKey();
const dir = tempDir();
afterAll(() => dir.remove());

/** Runs the appender until a random moment, SIGKILLs it, and returns the acknowledged records per writer. */
function runAndKill(path: string, run: string, background: boolean): Promise<Map<number, number>> {
  return new Promise((resolve, reject) => {
    const args = [
      join(import.meta.dirname, 'children', 'appender.ts'),
      path,
      run,
      ...(background ? ['background'] : []),
    ];
    const child = spawn(process.execPath, args, {
      // The compile cache halves start-up, and start-up is most of each of the 300 rounds.
      env: { ...process.env, RULEOFTWO_AUDIT_KEY: privatePem, NODE_COMPILE_CACHE: join(dir.dir, 'compile-cache') },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let timer: NodeJS.Timeout | undefined;
    const kill = () => child.kill('SIGKILL');
    // A quarter of the kills land anywhere from start-up on (opening, recovering); the rest mid-stream.
    if (randomInt(4) === 0) timer = setTimeout(kill, randomInt(150));
    const acked = acknowledged(child.stdout, () => {
      // With the checkpointer, late enough that it has started and copied the log a few times.
      if (timer === undefined) timer = setTimeout(kill, background ? 100 + randomInt(150) : randomInt(40));
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.on('error', reject);
    child.on('exit', (_code, signal) => {
      clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`appender exited on its own: ${stderr}`));
      else resolve(acked);
    });
  });
}

/** Recovers the log after a crash; a second recovery must change nothing. */
async function recover(path: string): Promise<void> {
  const key = loadAuditKey({ key: privatePem });
  const first = new SqliteAuditLog(path, key ? { key } : {});
  const once = await first.recover();
  const checkpoints = first.checkpoints().length;
  await first.close();
  const second = new SqliteAuditLog(path, key ? { key } : {});
  const twice = await second.recover();
  expect(twice.size).toBe(once.size);
  expect(second.checkpoints().length).toBe(checkpoints);
  await second.close();
}

async function lane(lane: number, kills: number): Promise<{ records: number; acked: number }> {
  let records = 0;
  let ackedTotal = 0;
  for (let k = 0; k < kills; k++) {
    const path = join(dir.dir, `lane${lane}-${Math.floor(k / KILLS_PER_FILE)}.db`);
    const run = `r${k}`;
    // One run in eight also has the background WAL checkpointer running when the kill lands.
    const acked = await runAndKill(path, run, k % 8 === 7);
    await recover(path);
    const db = openDatabase(path, { readOnly: true });
    try {
      const report = verifyDatabase(db, { publicKeys: [publicPem] });
      expect(report.issues, `kill ${k} of lane ${lane}`).toEqual([]);
      // Every acknowledged record is present, and what a writer wrote is a gap-free prefix in its own order.
      const seen = new Map<number, number[]>();
      for (const record of readRecords(db)) {
        const event = JSON.parse(record.text).event;
        if (event.sessionId !== run) continue;
        const [w, n] = (event.callId as string).split(':').map(Number) as [number, number];
        seen.set(w, [...(seen.get(w) ?? []), n]);
      }
      for (const [w, max] of acked) {
        const ns = seen.get(w) ?? [];
        expect(ns.slice(0, max + 1), `writer ${w} of kill ${k}`).toEqual(Array.from({ length: max + 1 }, (_, i) => i));
        expect(ns, `writer ${w} of kill ${k}`).toEqual(Array.from({ length: ns.length }, (_, i) => i));
        ackedTotal += max + 1;
      }
      records = report.records;
    } finally {
      db.close();
    }
  }
  return { records, acked: ackedTotal };
}

describe('crash consistency', () => {
  it(`survives ${KILLS} SIGKILLs at random moments: acknowledged records kept, chain and checkpoints verify`, async () => {
    const results = await Promise.all(Array.from({ length: LANES }, (_, i) => lane(i, KILLS / LANES)));
    const acked = results.reduce((sum, r) => sum + r.acked, 0);
    // The kills must land while records are being acknowledged, or the test proves nothing.
    expect(acked).toBeGreaterThan(KILLS * 5);
  }, 170_000);
});
