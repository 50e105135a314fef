/**
 * Benchmark of policy regular expressions: per-match cost of typical patterns with the linear engine
 * (src/core/regex.ts) and with V8's backtracking RegExp side by side, compile cost, and the catastrophic patterns of
 * docs/policy.md on long values (linear engine; V8 only where it finishes). Run: `node_modules/.bin/node
 * bench/regex.ts`.
 */
import { availableParallelism, loadavg } from 'node:os';
import { compileRegex } from '../src/core/regex.ts';

const ROUNDS = 7;
const MATCHES = 200_000;

interface Case {
  name: string;
  pattern: string;
  values: string[];
}

const typical: Case[] = [
  {
    name: 'email domain',
    pattern: '[a-z0-9._%+-]+@example\\.com',
    values: ['alice.smith@example.com', 'alice.smith@example.com.evil.test'],
  },
  { name: 'id', pattern: '[A-Z]{2,5}-[0-9]{1,6}', values: ['PROJ-12345', 'proj-12345'] },
  {
    name: 'url prefix',
    pattern: 'https://docs\\.example\\.com/[^\\s]*',
    values: ['https://docs.example.com/guide/install?lang=en', 'https://evil.test/docs.example.com/guide'],
  },
  { name: 'name, non-ASCII', pattern: '\\p{L}+(?: \\p{L}+)*', values: ['Σωκράτης Παπαδόπουλος', 'Σωκράτης  Π'] },
  { name: 'word boundary', pattern: '.*\\binvoice\\b.*', values: ['please pay invoice 42 today', 'invoices'] },
];

/** Nanoseconds per call of `test` over every value, the median of several rounds, and the rounds' range. */
function perMatch(test: (value: string) => boolean, values: string[]): { median: number; min: number; max: number } {
  let sink = 0;
  for (let i = 0; i < MATCHES / 4; i++) sink += test(values[i % values.length] as string) ? 1 : 0;
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < MATCHES; i++) sink += test(values[i % values.length] as string) ? 1 : 0;
    rounds.push(Number(process.hrtime.bigint() - start) / MATCHES);
  }
  if (sink < 0) console.log(sink);
  rounds.sort((a, b) => a - b);
  return {
    median: rounds[Math.floor(ROUNDS / 2)] as number,
    min: rounds[0] as number,
    max: rounds[ROUNDS - 1] as number,
  };
}

const fmt = (ns: number) => ns.toFixed(0).padStart(6);

console.log(
  `cpus ${availableParallelism()}, load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(' ')}, node ${process.version}`,
);
console.log('\nper match, ns (median of 7 rounds of 200,000; min-max), values alternate a match and a miss');
console.log('pattern                   native (min-max)        linear (min-max)        linear/native');
for (const { name, pattern, values } of typical) {
  const native = new RegExp(`^(?:${pattern})$`, 'u');
  const linear = compileRegex(pattern);
  for (const value of values) {
    if (native.test(value) !== linear.test(value)) throw new Error(`engines disagree on \`${pattern}\``);
  }
  const n = perMatch((v) => native.test(v), values);
  const l = perMatch((v) => linear.test(v), values);
  console.log(
    `${name.padEnd(24)} ${fmt(n.median)} (${fmt(n.min)}-${fmt(n.max)})  ${fmt(l.median)} (${fmt(l.min)}-${fmt(l.max)})  ${(l.median / n.median).toFixed(1).padStart(6)}x`,
  );
}

console.log('\ncompile, µs per pattern (mean of 2,000)');
for (const { name, pattern } of typical) {
  const start = process.hrtime.bigint();
  for (let i = 0; i < 2000; i++) compileRegex(pattern);
  console.log(`${name.padEnd(24)} ${(Number(process.hrtime.bigint() - start) / 2000 / 1000).toFixed(1).padStart(6)}`);
}

const catastrophic: [string, string][] = [
  ['(a+)+', `${'a'.repeat(28)}!`],
  ['(a+)+', `${'a'.repeat(100_000)}!`],
  ['(\\w+\\s?)*', `${'a'.repeat(100_000)}!`],
  ['(a|a)*', `${'a'.repeat(100_000)}!`],
  ['.*a.*a.*a.*b', 'a'.repeat(100_000)],
  ['(\\p{L}+\\s?)*', `${'é'.repeat(100_000)}!`],
];
console.log('\ncatastrophic patterns, linear engine: ms per match (best and worst of 5), µs per 1,000 characters');
for (const [pattern, value] of catastrophic) {
  const linear = compileRegex(pattern);
  const times: number[] = [];
  for (let r = 0; r < 5; r++) {
    const start = process.hrtime.bigint();
    linear.test(value);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const best = times[0] as number;
  console.log(
    `${pattern.padEnd(14)} ${String(value.length).padStart(7)} chars  ${best.toFixed(3).padStart(8)} - ${(times[4] as number).toFixed(3).padStart(8)} ms  ${((best * 1e6) / value.length).toFixed(1).padStart(7)} µs/1k`,
  );
}

console.log('\nthe same with V8 RegExp, on values short enough to finish (each 2 more `a`s about x4 the time)');
for (const n of [20, 22, 24]) {
  const value = `${'a'.repeat(n)}!`;
  const native = /^(?:(a+)+)$/u;
  const start = process.hrtime.bigint();
  native.test(value);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  const linear = compileRegex('(a+)+');
  linear.test(value);
  const t = process.hrtime.bigint();
  linear.test(value);
  const lms = Number(process.hrtime.bigint() - t) / 1e6;
  console.log(
    `(a+)+ on ${n} a's and \`!\`: native ${ms.toFixed(2).padStart(8)} ms, linear (second call) ${lms.toFixed(3)} ms`,
  );
}
