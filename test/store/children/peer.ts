// A second guard process for test/store/replicas.test.ts: a guard on the shared database, driven step by step over
// the IPC channel so that the test orders the two processes' calls without timing.
import { DatabaseSync } from 'node:sqlite';
import type { PolicyDocument } from '../../../src/core/document.ts';
import { createGuard } from '../../../src/guard/guard.ts';
import { openStores } from '../../../src/store/open.ts';

interface Step {
  n: number;
  op: 'session' | 'check' | 'record' | 'answer' | 'lock' | 'unlock' | 'close';
  args: unknown[];
}

const [path, tag, policyText] = process.argv.slice(2) as [string, string, string];
const stores = await openStores({ path });
let ids = 0;
const guard = createGuard({
  policy: JSON.parse(policyText) as PolicyDocument,
  ...stores,
  newId: () => `${tag}-${++ids}`,
});

/** A plain connection that holds the file's write lock between `lock` and `unlock`. */
let locker: DatabaseSync | undefined;

const send = (message: unknown) => new Promise<void>((resolve) => process.send?.(message, () => resolve()));

process.on('message', async (step: Step) => {
  try {
    let result: unknown;
    if (step.op === 'session') {
      const [id, options] = step.args as [string, object | undefined];
      await guard.session(id, options);
    } else if (step.op === 'check') {
      const [id, call, options] = step.args as Parameters<typeof guard.check>;
      result = await guard.check(id, call, options);
    } else if (step.op === 'record') {
      const [id, callId, output] = step.args as Parameters<typeof guard.record>;
      result = await guard.record(id, callId, output);
    } else if (step.op === 'answer') {
      const [requestId, answer] = step.args as Parameters<typeof guard.answer>;
      result = await guard.answer(requestId, answer);
    } else if (step.op === 'lock') {
      locker = new DatabaseSync(path);
      locker.exec('BEGIN IMMEDIATE');
    } else if (step.op === 'unlock') {
      locker?.exec('ROLLBACK');
      locker?.close();
    } else {
      await guard.close();
      await send({ n: step.n, ok: true });
      process.disconnect();
      return;
    }
    await send({ n: step.n, ok: true, result });
  } catch (error) {
    await send({ n: step.n, ok: false, error: (error as Error).message });
  }
});
await send({ ready: true });
