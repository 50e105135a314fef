// Child of test/audit/crash.test.ts: appends at full speed from several concurrent writers and reports each record
// on stdout once its append has resolved (that is, once it is durable), until it is killed. With `background`, a
// worker thread checkpoints the write-ahead log meanwhile, and is killed with it.
import { loadAuditKey } from '../../../src/audit/checkpoint.ts';
import { SqliteAuditLog } from '../../../src/audit/sqlite-log.ts';

const [path, run, background] = process.argv.slice(2) as [string, string, string | undefined];
const key = loadAuditKey();
const log = new SqliteAuditLog(path, {
  checkpointEvery: 64,
  walCheckpointer: background === 'background',
  ...(key ? { key } : {}),
});
await log.recover();

async function writer(w: number): Promise<never> {
  for (let n = 0; ; n++) {
    await log.append({
      type: 'result.ignored',
      at: Date.now(),
      sessionId: run,
      callId: `${w}:${n}`,
      reason: 'crash test',
    });
    process.stdout.write(`${w} ${n}\n`);
  }
}

await Promise.all(Array.from({ length: 8 }, (_, w) => writer(w)));
