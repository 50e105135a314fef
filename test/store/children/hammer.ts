// A second process for test/store/multiprocess.test.ts: hammers one session through the real guard and a raw store.

import type { SessionState } from '../../../src/core/state.ts';
import { createGuard } from '../../../src/guard/guard.ts';
import { openStores } from '../../../src/store/open.ts';
import { emailBot } from '../../helpers.ts';

const [path, tag, countText] = process.argv.slice(2) as [string, string, string];
const count = Number(countText);
const stores = await openStores({ path, busyTimeoutMs: 20_000 });
const guard = createGuard({
  policy: emailBot(),
  ...stores,
  newId: (() => {
    let n = 0;
    return () => `${tag}-${++n}`;
  })(),
});
const seqs: number[] = [];
for (let i = 0; i < count; i++) {
  await stores.sessions.transact('counter', (state) => {
    const s = state as SessionState;
    return { state: { ...s, seq: s.seq + 1 }, result: undefined };
  });
  const decision = await guard.check('shared', { id: `${tag}-call-${i}`, tool: 'get_time', args: {} });
  if (decision.effect !== 'allow') throw new Error(`unexpected ${decision.effect}`);
  seqs.push(decision.seq);
  await guard.record('shared', `${tag}-call-${i}`, 'noon');
}
await guard.close();
process.stdout.write(JSON.stringify(seqs));
