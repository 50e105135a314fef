// Load generator thread of bench/audit.ts: offers `count` appends at `perSecond`, in messages once a millisecond
// `{ to, at }` (appends up to `to` have arrived, at wall time `at` ms). It sleeps between messages on Atomics.wait,
// so it takes no core from the thread it measures, and it stamps each message when it sends it: if the measured
// thread is busy (a commit, a GC pause), the messages wait in its queue and the wait counts in the latency.
import { parentPort, workerData } from 'node:worker_threads';

const { count, perSecond } = workerData as { count: number; perSecond: number };
const sleeper = new Int32Array(new SharedArrayBuffer(4));
const now = () => performance.timeOrigin + performance.now();
const start = now();
for (let sent = 0; sent < count; ) {
  Atomics.wait(sleeper, 0, 0, 1);
  const at = now();
  const to = Math.min(count, Math.floor(((at - start) * perSecond) / 1000));
  if (to > sent) {
    parentPort?.postMessage({ to, at });
    sent = to;
  }
}
