// Audit log benchmark: durable appends with group commit, and verify, each against plain SQLite on the same rows.
// Run: node_modules/.bin/node bench/audit.ts [records] [records to verify] [seconds of offered load]
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseSync } from 'node:sqlite';
import { Worker } from 'node:worker_threads';
import { generateAuditKey, loadAuditKey } from '../src/audit/checkpoint.ts';
import { verifyAuditFile, verifyDatabase } from '../src/audit/inspect.ts';
import { readRecords, SqliteAuditLog } from '../src/audit/sqlite-log.ts';
import { compilePolicy } from '../src/core/policy.ts';
import { createGuard } from '../src/guard/guard.ts';
import { openStores } from '../src/store/open.ts';
import { BACKGROUND_WAL_AUTOCHECKPOINT, startWalCheckpointer } from '../src/store/sqlite/checkpointer.ts';
import { openDatabase } from '../src/store/sqlite/database.ts';
import type { AuditEvent } from '../src/store/types.ts';
import { hostReference } from './host.ts';

const RECORDS = Number(process.argv[2] ?? 100_000);
const WRITERS = 64;
/** The target rate, offered as a steady load to measure latency at it. */
const OFFERED = 20_000;
/** The steady load runs 3 s (less with fewer records), or as many seconds as given, to see whether the tail holds. */
const OFFERED_RECORDS =
  process.argv[4] === undefined ? Math.min(RECORDS, 3 * OFFERED) : Math.round(OFFERED * Number(process.argv[4]));
/**
 * Appends offered at the same rate before the measured ones: the first fraction of a second of a new log is its
 * start-up (JIT compilation, its checkpointer thread loading its code on the same two cores), not the steady load.
 */
const WARM_UP_RECORDS = OFFERED / 2;
/** Records of the log that verify reads: long enough that starting a worker thread is a small part of it. */
const VERIFY_RECORDS = Number(process.argv[3] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'ruleoftwo-bench-'));

function event(i: number): AuditEvent {
  return {
    type: 'decision',
    at: 1_700_000_000_000 + i,
    decision: {
      effect: i % 7 === 0 ? 'ask' : 'allow',
      sessionId: `session-${i % 97}`,
      callId: `call-${i}`,
      tool: i % 2 ? 'send_email' : 'read_inbox',
      seq: i,
      policyVersion: '3f'.repeat(32),
      legsBefore: 'AB',
      legsAfter: 'AB',
      reasons: [{ code: 'allowed', rule: 5, message: '`read_inbox` keeps the session within two legs' }],
      evidence: [{ leg: 'A', seq: 1, source: 'result', callId: 'call-1', tool: 'read_inbox' }],
    },
  };
}

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

interface Run {
  perSecond: number;
  p50: number;
  p99: number;
}

function summary(latencies: Float64Array, seconds: number): Run {
  latencies.sort();
  return { perSecond: latencies.length / seconds, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

/** Saturation: WRITERS closed-loop writers, each appending again as soon as its last append resolved. */
async function closedLoop(append: (i: number) => Promise<void>): Promise<Run> {
  const latencies = new Float64Array(RECORDS);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      for (let i = next++; i < RECORDS; i = next++) {
        const t = performance.now();
        await append(i);
        latencies[i] = performance.now() - t;
      }
    }),
  );
  return summary(latencies, (performance.now() - start) / 1000);
}

/**
 * A given load: appends arrive at OFFERED per second whatever the log does (open loop, as calls from many agents
 * arrive), from a load generator thread (bench/arrivals.ts) that hands them over once a millisecond, stamped with
 * when it sent them. Each latency runs from that stamp, so a stall of this thread (a commit, a GC pause) counts for
 * every append waiting behind it. The generator sleeps between messages: an earlier version spun on setImmediate
 * in this thread to issue each append at its due time, which took a whole core of the two, and the p99 it measured
 * was largely this process being descheduled. Only appends after the first WARM_UP_RECORDS are measured.
 */
async function openLoop(append: (i: number) => Promise<void>): Promise<Run> {
  const total = WARM_UP_RECORDS + OFFERED_RECORDS;
  const latencies = new Float64Array(OFFERED_RECORDS);
  // From the first measured arrival.
  let start = Number.NaN;
  const arrivals = new Worker(new URL('./arrivals.ts', import.meta.url), {
    workerData: { count: total, perSecond: OFFERED },
  });
  let issued = 0;
  let resolved = 0;
  await new Promise<void>((resolve, reject) => {
    arrivals.on('error', reject);
    arrivals.on('message', ({ to, at }: { to: number; at: number }) => {
      const since = at - performance.timeOrigin;
      if (Number.isNaN(start) && to > WARM_UP_RECORDS) start = since;
      for (; issued < to; issued++) {
        const i = issued;
        append(i).then(() => {
          if (i >= WARM_UP_RECORDS) latencies[i - WARM_UP_RECORDS] = performance.now() - since;
          if (++resolved === total) resolve();
        }, reject);
      }
    });
  });
  await arrivals.terminate();
  return summary(latencies, (performance.now() - start) / 1000);
}

/** The baseline: the same rows (canonical JSON events) inserted with the same batching, without chain or checkpoints. */
function plainLog(db: DatabaseSync): (i: number) => Promise<void> {
  db.exec('CREATE TABLE plain (seq INTEGER PRIMARY KEY, record TEXT NOT NULL) STRICT');
  const insert = db.prepare('INSERT INTO plain (record) VALUES (?)');
  let queue: { text: string; done: () => void }[] = [];
  return (i) =>
    new Promise((done) => {
      if (queue.length === 0) {
        setImmediate(() => {
          const batch = queue;
          queue = [];
          db.exec('BEGIN IMMEDIATE');
          for (const item of batch) insert.run(item.text);
          db.exec('COMMIT');
          for (const item of batch) item.done();
        });
      }
      queue.push({ text: JSON.stringify(event(i)), done });
    });
}

/** Records per second of CPU time (all threads) since `since`: what a run would reach on cores of its own. */
const cpuRate = (records: number, since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return Math.round(records / ((used.user + used.system) / 1e6)).toLocaleString('en-US');
};
const row = (name: string, value: string) => console.log(`${name.padEnd(58)} ${value}`);
const rate = (n: number) => `${Math.round(n).toLocaleString('en-US')} records/s`;
const latency = (r: { p50: number; p99: number }) => `p50 ${r.p50.toFixed(3)} ms  p99 ${r.p99.toFixed(3)} ms`;

console.log(
  `ruleoftwo audit benchmark: ${RECORDS.toLocaleString('en-US')} records per closed-loop run, ${OFFERED_RECORDS.toLocaleString('en-US')} measured per open-loop run (after ${WARM_UP_RECORDS.toLocaleString('en-US')} to warm up), WAL; load ${loadavg()[0]?.toFixed(2)}`,
);

console.log(`at the start: ${hostReference()}`);

// The floor no log can beat: one small write and fdatasync, as a commit does.
const fd = openSync(join(dir, 'raw'), 'w');
const syncs = new Float64Array(500);
for (let i = 0; i < syncs.length; i++) {
  const t = performance.now();
  writeSync(fd, Buffer.alloc(4096, 1));
  fdatasyncSync(fd);
  syncs[i] = performance.now() - t;
}
closeSync(fd);
syncs.sort();
row(
  'disk: write + fdatasync (the floor of a commit)',
  `p50 ${percentile(syncs, 0.5).toFixed(3)} ms  p99 ${percentile(syncs, 0.99).toFixed(3)} ms`,
);

const { privatePem } = generateAuditKey();
const key = loadAuditKey({ key: privatePem });
let auditFull: Run = { perSecond: 0, p50: 0, p99: 0 };
let auditOffered: Run = { perSecond: 0, p50: 0, p99: 0 };
for (const synchronous of ['full', 'normal'] as const) {
  for (const load of ['closed', 'open'] as const) {
    const what = load === 'closed' ? `${WRITERS} writers flat out` : `${OFFERED.toLocaleString('en-US')}/s offered`;
    const drive = load === 'closed' ? closedLoop : openLoop;
    // Both write through the same WAL regime: a background checkpointer, as openStores sets up.
    const plainPath = join(dir, `plain-${synchronous}-${load}.db`);
    const plainDb = openDatabase(plainPath, { synchronous, walAutocheckpoint: BACKGROUND_WAL_AUTOCHECKPOINT });
    const checkpointer = startWalCheckpointer(plainPath);
    const plain = await drive(plainLog(plainDb));
    await checkpointer.stop();
    plainDb.close();
    row(`plain SQLite inserts, ${synchronous}, ${what}`, `${rate(plain.perSecond)}  ${latency(plain)}`);
    if (synchronous === 'full') {
      // The same log with SQLite's own fsync inside each commit, which blocks this thread (`walSync: false`).
      const inline = new SqliteAuditLog(join(dir, `audit-inline-${load}.db`), {
        walCheckpointer: true,
        walSync: false,
        ...(key ? { key } : {}),
      });
      const run = await drive((i) => inline.append(event(i)));
      await inline.close();
      row(`audit log appends, full, fsync in the commit, ${what}`, `${rate(run.perSecond)}  ${latency(run)}`);
    }
    const log = new SqliteAuditLog(join(dir, `audit-${synchronous}-${load}.db`), {
      synchronous,
      walCheckpointer: true,
      ...(key ? { key } : {}),
    });
    const audit = await drive((i) => log.append(event(i)));
    await log.close();
    row(`audit log appends, ${synchronous}, ${what}`, `${rate(audit.perSecond)}  ${latency(audit)}`);
    row(
      '  overhead vs plain inserts',
      load === 'closed'
        ? `${(plain.perSecond / audit.perSecond).toFixed(2)}x time per record`
        : `p99 ${(audit.p99 / plain.p99).toFixed(2)}x`,
    );
    if (synchronous === 'full' && load === 'closed') auditFull = audit;
    if (synchronous === 'full' && load === 'open') auditOffered = audit;
  }
}

// A long log for verify, written by the log itself (normal durability and large batches only to write it faster;
// the records are the same).
let t = performance.now();
const auditPath = join(dir, 'verify.db');
{
  const log = new SqliteAuditLog(auditPath, { synchronous: 'normal', walCheckpointer: true, ...(key ? { key } : {}) });
  // Batches of 1,000, so that the log has a checkpoint every 1,000 records as under a steady load.
  for (let i = 0; i < VERIFY_RECORDS; i += 1000) {
    const batch: Promise<void>[] = [];
    for (let j = i; j < Math.min(VERIFY_RECORDS, i + 1000); j++) batch.push(log.append(event(j)));
    await Promise.all(batch);
  }
  await log.close();
}
row(
  `log of ${VERIFY_RECORDS.toLocaleString('en-US')} records for verify written in`,
  `${((performance.now() - t) / 1000).toFixed(1)} s`,
);
const db = openDatabase(auditPath, { readOnly: true });
t = performance.now();
let count = 0;
for (const _ of readRecords(db)) count++;
const readRate = count / ((performance.now() - t) / 1000);
row('plain read of the same rows', rate(readRate));
t = performance.now();
let cpu = process.cpuUsage();
const single = verifyDatabase(db);
const singleRate = single.records / ((performance.now() - t) / 1000);
const singleCpu = cpuRate(single.records, cpu);
if (!single.ok || single.records !== VERIFY_RECORDS) throw new Error(`verify failed: ${single.issues[0]?.message}`);
row(
  'verify, one thread (hashes, chain, roots, signatures)',
  `${rate(singleRate)}  (${singleCpu} per CPU-second; ${single.checkpoints} checkpoints)`,
);
row('  overhead vs plain read', `${(readRate / singleRate).toFixed(2)}x time per record`);
db.close();
t = performance.now();
cpu = process.cpuUsage();
const report = await verifyAuditFile(auditPath);
const verifyRate = report.records / ((performance.now() - t) / 1000);
const verifyCpu = cpuRate(report.records, cpu);
if (!report.ok || report.root !== single.root) throw new Error(`verify failed: ${report.issues[0]?.message}`);
row(
  `verify, ${Math.min(2, availableParallelism())} threads (ruleoftwo audit verify)`,
  `${rate(verifyRate)}  (${verifyCpu} per CPU-second, all threads; ${(singleRate / verifyRate).toFixed(2)}x the time of one thread)`,
);

// End to end: guarded calls on SQLite stores, each a session update and an audit record, both group-committed.
{
  const stores = await openStores({ path: join(dir, 'guard.db') });
  const guard = createGuard({ policy: compilePolicy({ version: 1, tools: { get_time: {} } }), ...stores });
  const sessions = 64;
  for (let s = 0; s < sessions; s++) await guard.session(`s${s}`);
  const calls = Math.min(RECORDS, 20_000);
  const latencies = new Float64Array(calls);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: sessions }, async (_, s) => {
      for (let i = next++; i < calls; i = next++) {
        const t = performance.now();
        const decision = await guard.check(`s${s}`, { id: `c${i}`, tool: 'get_time', args: {} });
        if (decision.effect !== 'allow') throw new Error(decision.reasons[0]?.message);
        await guard.record(`s${s}`, `c${i}`, 'noon');
        latencies[i] = performance.now() - t;
      }
    }),
  );
  const perSecond = calls / ((performance.now() - start) / 1000);
  await guard.close();
  latencies.sort();
  row(
    'guarded calls (check + record), SQLite stores',
    `${Math.round(perSecond).toLocaleString('en-US')} calls/s  ${latency({ p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) })}  (${sessions} sessions)`,
  );
}

const targets = [
  ['appends >= 20,000 records/s (full)', auditFull.perSecond >= 20_000],
  [`append p99 <= 2 ms at ${OFFERED.toLocaleString('en-US')}/s (full)`, auditOffered.p99 <= 2],
  ['verify >= 500,000 records/s', verifyRate >= 500_000],
] as const;
for (const [name, ok] of targets) row(`target: ${name}`, ok ? 'met' : 'NOT met');
console.log(`at the end: ${hostReference()}`);
rmSync(dir, { recursive: true, force: true });
