/**
 * The host's speed at the moment, for reading the other benchmarks' figures: a fixed loop shaped like a provenance
 * scan (a multiply chain and one random read in 512 KiB per step). On this shared VM its time swings by about 1.7x
 * from one second to the next, with nothing else running in the guest (the other tenants of the host share its cores
 * and caches), so a figure means little without the reference measured in the same run. Imported by the benchmarks;
 * run alone (`node_modules/.bin/node bench/host.ts`) it prints the reference over ten seconds.
 */

const STEPS = 3_000_000;
const table = Int32Array.from({ length: 1 << 17 }, (_, i) => Math.imul(i, 0x9e3779b1));

/** One run of the reference loop, in ms. */
function once(): number {
  const start = performance.now();
  let h = 1;
  let sum = 0;
  for (let i = 0; i < STEPS; i++) {
    h = (Math.imul(h, 0x01000193) + i) | 0;
    sum += (table[h >>> 15] as number) & 1;
  }
  const ms = performance.now() - start;
  // The sum is used, so the reads cannot be optimised away.
  return sum < 0 ? Number.NaN : ms;
}

/** The reference loop `rounds` times: its fastest and median time as one line for a benchmark's output. */
export function hostReference(rounds = 15): string {
  const times = Array.from({ length: rounds }, once).sort((a, b) => a - b);
  const median = times[Math.floor(rounds / 2)] as number;
  return `host reference loop: best ${(times[0] as number).toFixed(1)} ms, median ${median.toFixed(1)} ms (lower is a faster host; see bench/host.ts)`;
}

if (import.meta.main) {
  for (let second = 0; second < 10; second++) console.log(hostReference(Math.max(1, Math.round(1000 / once()))));
}
