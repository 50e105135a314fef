/**
 * Provenance index benchmark: indexing a 1 MB output, checking a call with 10 string arguments against a session
 * that has seen 10 MB, and memory per session. Two corpora: prose (realistic repetition) and random characters
 * (worst case: no repeated n-grams). Baseline: a naive Set of every output string and `includes` over all of them.
 */
import os from 'node:os';
import { MemoryProvenanceIndex } from '../src/core/provenance.ts';

const MB = 1 << 20;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

const random = rng(42);
const syllables = ['ka', 'lo', 'mi', 'ter', 'an', 'sol', 've', 'dra', 'po', 'lin', 'gu', 'sen', 'ri', 'to', 'bel'];
const vocabulary = Array.from({ length: 6000 }, () => {
  let word = '';
  const n = 1 + Math.floor(random() * 4);
  for (let i = 0; i < n; i++) word += syllables[Math.floor(random() * syllables.length)];
  return word;
});

function prose(bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const r = random();
    let token: string;
    if (r < 0.01) token = `https://site${Math.floor(random() * 1e6)}.example/p/${Math.floor(random() * 1e9)}`;
    else if (r < 0.015) token = `user${Math.floor(random() * 1e6)}@mail${Math.floor(random() * 100)}.example`;
    else if (r < 0.02) token = `INV-${Math.floor(random() * 1e9)}`;
    else token = vocabulary[Math.floor(random() * vocabulary.length)] as string;
    parts.push(token);
    size += token.length + 1;
  }
  return parts.join(' ');
}

function noise(bytes: number): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz          ';
  let out = '';
  for (let i = 0; i < bytes; i++) out += chars[Math.floor(random() * chars.length)];
  return out;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

function heapUsed(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
}

function run(name: string, make: (bytes: number) => string): void {
  // Indexing 1 MB.
  const outputs = Array.from({ length: 12 }, () => make(MB));
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < 12; i++) {
    const index = new MemoryProvenanceIndex();
    const t = performance.now();
    const c = process.cpuUsage();
    index.addOutput({ seq: i, callId: `c${i}`, tool: 'fetch' }, 1, outputs[i]);
    const used = process.cpuUsage(c);
    times.push(performance.now() - t);
    cpu.push((used.user + used.system) / 1000);
  }
  times.sort((a, b) => a - b);
  cpu.sort((a, b) => a - b);
  // Baseline: the cheapest meaningful pass over the same text (lower-case and split into words), CPU time.
  const baseline: number[] = [];
  for (const output of outputs) {
    const c = process.cpuUsage();
    if ((output as string).toLowerCase().split(/\s+/).length < 0) throw new Error('unreachable');
    const used = process.cpuUsage(c);
    baseline.push((used.user + used.system) / 1000);
  }
  baseline.sort((a, b) => a - b);
  // A session that has seen 10 MB (ten 1 MB outputs, alternately untrusted and sensitive).
  const before = heapUsed();
  const index = new MemoryProvenanceIndex();
  for (let i = 0; i < 10; i++) index.addOutput({ seq: i, callId: `c${i}`, tool: 'read' }, i % 2 ? 2 : 1, outputs[i]);
  const memory = heapUsed() - before;
  // Checking a call with 10 string arguments: 3 carry seen values, 7 are fresh.
  const seen = outputs[3] as string;
  const argSets = Array.from({ length: 2000 }, (_, k) => {
    const args: string[] = [];
    for (let j = 0; j < 10; j++) {
      if (j < 3) {
        const at = Math.floor(random() * (seen.length - 200));
        args.push(seen.slice(at, at + 60 + ((j * 37 + k) % 120)));
      } else args.push(`fresh argument ${k} ${j} ${Math.floor(random() * 1e9)} ${'x'.repeat((k * j) % 80)}`);
    }
    return args;
  });
  let flagged = 0;
  let falseFlags = 0;
  const checks: number[] = [];
  const checksCpu: number[] = [];
  for (const args of argSets) {
    const c = process.cpuUsage();
    const t = performance.now();
    const found = args.map((arg) => index.scan(arg).length > 0);
    checks.push((performance.now() - t) * 1000);
    const used = process.cpuUsage(c);
    checksCpu.push(used.user + used.system);
    found.forEach((hit, j) => {
      if (hit && j < 3) flagged++;
      if (hit && j >= 3) falseFlags++;
    });
  }
  checks.sort((a, b) => a - b);
  checksCpu.sort((a, b) => a - b);
  // Baseline: keep every output string and test `includes` for each argument (exact substring, no labels).
  const kept = outputs.slice(0, 10);
  const naive: number[] = [];
  for (const args of argSets.slice(0, 200)) {
    const t = performance.now();
    for (const arg of args) kept.some((o) => o.includes(arg));
    naive.push((performance.now() - t) * 1000);
  }
  naive.sort((a, b) => a - b);
  const stats = index.stats();
  console.log(`\n${name}`);
  console.log(
    `  index 1 MB output: p50 ${percentile(times, 0.5).toFixed(2)} ms wall, ${percentile(cpu, 0.5).toFixed(2)} ms CPU; max ${percentile(times, 1).toFixed(2)} ms (target <= 5 ms); baseline lower-case + split ${percentile(baseline, 0.5).toFixed(2)} ms CPU (${(percentile(cpu, 0.5) / percentile(baseline, 0.5)).toFixed(1)}x)`,
  );
  console.log(
    `  check 10 string args vs 10 MB seen: p50 ${percentile(checks, 0.5).toFixed(1)} µs, p99 ${percentile(checks, 0.99).toFixed(1)} µs wall; CPU p50 ${percentile(checksCpu, 0.5)} µs, p99 ${percentile(checksCpu, 0.99)} µs (target p99 <= 50 µs); baseline includes() p50 ${percentile(naive, 0.5).toFixed(0)} µs (${(percentile(naive, 0.5) / percentile(checks, 0.5)).toFixed(0)}x slower)`,
  );
  console.log(
    `  memory for 10 MB seen: ${(memory / MB).toFixed(2)} MiB measured, ${(stats.bytes / MB).toFixed(2)} MiB estimated (target <= 8 MiB); baseline keeps ${(10).toFixed(0)} MiB of text`,
  );
  console.log(
    `  index: ${stats.values} values, ${stats.fingerprints} fingerprints in ${stats.tableSlots} slots, lost \`${stats.lost}\`; found ${flagged} of ${argSets.length * 3} seen arguments, flagged ${falseFlags} of ${argSets.length * 7} fresh ones`,
  );
}

console.log(`provenance index benchmark (node ${process.version}, load average ${os.loadavg()[0]?.toFixed(1)})`);
run('prose corpus', prose);
run('random-character corpus (worst case)', noise);
