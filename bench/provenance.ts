/**
 * Provenance index benchmark: indexing a 1 MB output, checking a realistic call with 10 string arguments against a
 * session that has seen 10 MB, and memory per session. Two corpora: prose (words, with URLs, emails and ids) and
 * random characters (worst case: no repeated grams). Baselines: the cheapest meaningful pass over the same text
 * (lower-case and split into words), and a naive `includes` of every argument in everything seen.
 *
 * Run with `node_modules/.bin/node --expose-gc bench/provenance.ts`; without `--expose-gc` it runs itself again with
 * it, since the memory figure needs garbage collected before and after.
 */
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { decide, type ToolCall } from '../src/core/decide.ts';
import type { PolicyDocument } from '../src/core/document.ts';
import { compilePolicy } from '../src/core/policy.ts';
import { MemoryProvenanceIndex } from '../src/core/provenance.ts';
import { newSessionState } from '../src/core/state.ts';
import { nativeSha256 } from '../src/guard/guard.ts';
import { hostReference } from './host.ts';

const MB = 1 << 20;
/**
 * Rounds over every call; a call's intrinsic cost is its fastest. The rounds of a set of calls span several seconds,
 * longer than the slow phases of a shared host (bench/host.ts), which five rounds did not outlast.
 */
const ROUNDS = 15;

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  const again = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', ...process.argv.slice(1)], {
    stdio: 'inherit',
  });
  process.exit(again.status ?? 1);
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s / 2 ** 32;
  };
}

const random = rng(42);
const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
const syllables = ['ka', 'lo', 'mi', 'ter', 'an', 'sol', 've', 'dra', 'po', 'lin', 'gu', 'sen', 'ri', 'to', 'bel'];
const vocabulary = Array.from({ length: 6000 }, () => {
  let word = '';
  const n = 1 + Math.floor(random() * 4);
  for (let i = 0; i < n; i++) word += pick(syllables);
  return word;
});

const url = () => `https://site${Math.floor(random() * 1e6)}.example/p/${Math.floor(random() * 1e9)}`;
const email = () => `user${Math.floor(random() * 1e6)}@mail${Math.floor(random() * 100)}.example`;
const invoice = () => `INV-${Math.floor(random() * 1e9)}`;

function words(bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const word = pick(vocabulary);
    parts.push(word);
    size += word.length + 1;
  }
  return parts.join(' ');
}

function prose(bytes: number): string {
  const parts: string[] = [];
  let size = 0;
  while (size < bytes) {
    const r = random();
    const token = r < 0.01 ? url() : r < 0.015 ? email() : r < 0.02 ? invoice() : pick(vocabulary);
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

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] as number;
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

async function settle(): Promise<number> {
  // Without a collection, heap figures count whatever garbage happens to be around: no figure rather than that.
  if (gc === undefined) throw new Error('the memory figure needs --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
}

/** A seen value of one kind (`https://`, `@`, `INV-`), or 60 characters of the text when it has none. */
function seenValue(text: string, marker: string): string {
  const at = text.indexOf(marker, Math.floor(random() * (text.length - 1000)));
  if (at < 0) {
    const from = Math.floor(random() * (text.length - 60));
    return text.slice(from, from + 60);
  }
  const start = marker === 'https://' || marker === 'INV-' ? at : text.lastIndexOf(' ', at) + 1;
  return text.slice(start, text.indexOf(' ', at));
}

interface Arg {
  value: string;
  seen: boolean;
}

/** Argument names of the benchmark's call, in the order {@link call} makes them. */
const ARG_NAMES = ['from', 'to', 'invoice', 'ref', 'link', 'callback', 'subject', 'title', 'note', 'body'] as const;

/**
 * A policy as a user writes one for a consequential mail tool: every string argument checked for untrusted and
 * sensitive values, tighter controls on the recipients and the invoice, URL controls, a by-reference argument, an
 * allow-list condition.
 */
const POLICY: PolicyDocument = {
  version: 1,
  session: { configuration: 'dynamic', input: 'trusted' },
  lists: { internal: ['*@company.example'] },
  provenance: { consequential: { untrusted: 'ask', sensitive: 'deny' } },
  tools: {
    send_email: {
      call: 'C',
      when: [{ match: { to: { in: 'internal' }, from: { in: 'internal' } }, call: 'none' }],
      args: {
        from: { untrusted: 'deny' },
        to: { untrusted: 'deny', sensitive: 'deny' },
        invoice: { sensitive: 'deny' },
        ref: { reference: true },
        link: { url: { allow: ['*.example'] } },
        callback: { url: { allow: ['hooks.example'] } },
        subject: { sensitive: 'ask' },
        body: { url: { embedded: true, deny: ['*.evil.example'], effect: 'ask' } },
      },
    },
  },
};

/**
 * A realistic consequential call: short ids, emails and URLs, a subject and a title, a note and a body of a few KB.
 * One call in five carries something seen in one argument: an email, an invoice id, a URL, or a chunk of text.
 */
function call(seen: string, k: number, body = 3000): Arg[] {
  const carry = k % 5 === 0 ? (k / 5) % 5 : -1;
  const chunk = (length: number) => {
    const at = Math.floor(random() * (seen.length - length));
    return seen.slice(at, at + length);
  };
  return [
    { value: carry === 0 ? seenValue(seen, '@') : email(), seen: carry === 0 },
    { value: `person${k}@company.example`, seen: false },
    { value: carry === 1 ? seenValue(seen, 'INV-') : `PO-${k}-${Math.floor(random() * 1e6)}`, seen: carry === 1 },
    { value: `r${k % 1000}`, seen: false },
    {
      value: carry === 2 ? seenValue(seen, 'https://') : `https://shop.example/order/${k}?ref=${k * 7}`,
      seen: carry === 2,
    },
    { value: `https://hooks.example/cb/${k}`, seen: false },
    { value: `Re: ${words(56)}`, seen: false },
    { value: words(30), seen: false },
    { value: carry === 3 ? `${words(150)} ${chunk(80)} ${words(100)}` : words(300), seen: carry === 3 },
    {
      value: carry === 4 ? `${words(body / 2)}\n\n> ${chunk(200)}\n\n${words(body / 2 - 200)}` : words(body),
      seen: carry === 4,
    },
  ];
}

async function run(name: string, make: (bytes: number) => string): Promise<void> {
  const outputs = Array.from({ length: 12 }, () => make(MB));
  // Indexing 1 MB, each into a fresh index; baseline: lower-case and split the same text. The first round warms the
  // code up (its first run, which compiles it, is shown apart); the three after it are timed.
  const times: number[] = [];
  const baseline: number[] = [];
  let cold = 0;
  for (let round = 0; round < 4; round++) {
    for (const [i, output] of outputs.entries()) {
      const index = new MemoryProvenanceIndex();
      let t = performance.now();
      index.addOutput({ seq: i, callId: `c${i}`, tool: 'fetch' }, 1, output);
      const ms = performance.now() - t;
      if (round === 0 && i === 0) cold = ms;
      if (round > 0) times.push(ms);
      t = performance.now();
      if (output.toLowerCase().split(/\s+/).length < 0) throw new Error('unreachable');
      if (round > 0) baseline.push(performance.now() - t);
    }
  }
  const index = sorted(times);
  const base = sorted(baseline);
  // A session that has seen 10 MB (ten 1 MB outputs, alternately untrusted and sensitive); three of them at once, so
  // the scratch buffers the module shares between sessions do not count.
  const before = await settle();
  const sessions = Array.from({ length: 3 }, () => new MemoryProvenanceIndex());
  for (const session of sessions) {
    for (let i = 0; i < 10; i++)
      session.addOutput({ seq: i, callId: `c${i}`, tool: 'read' }, i % 2 ? 2 : 1, outputs[i]);
  }
  const memory = ((await settle()) - before) / sessions.length;
  const session = sessions[0] as MemoryProvenanceIndex;
  // Checking calls: every argument is scanned, as a policy with `provenance.consequential` does. Calls with a body of
  // 3,000 characters, and short calls (a body of 300) for comparison.
  const calls = Array.from({ length: 2000 }, (_, k) => call(outputs[k % 10] as string, k));
  const short = Array.from({ length: 2000 }, (_, k) => call(outputs[k % 10] as string, k, 300));
  const chars = calls.reduce((sum, args) => sum + args.reduce((s, a) => s + a.value.length, 0), 0) / calls.length;
  const wall: number[][] = calls.map(() => []);
  let found = 0;
  let seenArgs = 0;
  let falseFlags = 0;
  let freshArgs = 0;
  for (let round = 0; round < ROUNDS; round++) {
    for (const [k, args] of calls.entries()) {
      const t = performance.now();
      const flagged = args.map((arg) => session.scan(arg.value).length > 0);
      (wall[k] as number[]).push((performance.now() - t) * 1000);
      if (round > 0) continue;
      flagged.forEach((hit, j) => {
        const { seen } = args[j] as Arg;
        if (seen) seenArgs++;
        else freshArgs++;
        if (hit && seen) found++;
        if (hit && !seen) falseFlags++;
      });
    }
  }
  // Raw: every timed call; intrinsic: each call's fastest of its rounds (scheduler preemption on a shared machine
  // lands on single rounds, the argument-dependent cost on all of them).
  const raw = sorted(wall.flat());
  const intrinsic = sorted(wall.map((w) => Math.min(...w)));
  const shortWall: number[][] = short.map(() => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [k, args] of short.entries()) {
      const t = performance.now();
      for (const arg of args) session.scan(arg.value);
      (shortWall[k] as number[]).push((performance.now() - t) * 1000);
    }
  }
  const shortIntrinsic = sorted(shortWall.map((w) => Math.min(...w)));
  // The path a user pays: `decide` on a policy with provenance and URL controls, the same calls as arguments.
  const policy = compilePolicy(POLICY);
  const state = newSessionState({ id: 's', configuration: 'dynamic', input: 'trusted', now: 0 });
  const context = { now: 0, newId: () => 'r', sha256: nativeSha256, provenance: session };
  const toCall = (args: Arg[], k: number): ToolCall => ({
    id: `c${k}`,
    tool: 'send_email',
    args: Object.fromEntries(args.map((a, j) => [ARG_NAMES[j], a.value])),
  });
  const decideCalls = (list: Arg[][]) => {
    const objects = list.map(toCall);
    const times: number[][] = objects.map(() => []);
    const effects: Record<string, number> = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [k, c] of objects.entries()) {
        const t = performance.now();
        const { decision } = decide(policy, state, c, context);
        (times[k] as number[]).push((performance.now() - t) * 1000);
        if (round === 0) effects[decision.effect] = (effects[decision.effect] ?? 0) + 1;
      }
    }
    return { intrinsic: sorted(times.map((w) => Math.min(...w))), effects };
  };
  const decided = decideCalls(calls);
  const decidedShort = decideCalls(short);
  const shortChars = short.reduce((sum, args) => sum + args.reduce((s, a) => s + a.value.length, 0), 0) / short.length;
  // Baseline: keep every output string and test `includes` for each argument (exact substring, no labels).
  const kept = outputs.slice(0, 10);
  const naive: number[] = [];
  for (const args of calls.slice(0, 50)) {
    const t = performance.now();
    for (const arg of args) kept.some((o) => o.includes(arg.value));
    naive.push((performance.now() - t) * 1000);
  }
  const stats = session.stats();
  const f = (n: number, digits = 1) => n.toFixed(digits);
  console.log(`\n${name}`);
  console.log(
    `  index 1 MB output (${times.length} runs): best ${f(index[0] as number, 2)} ms, p50 ${f(percentile(index, 0.5), 2)} ms, max ${f(percentile(index, 1), 2)} ms (target <= 5 ms), first run ${f(cold, 1)} ms; baseline lower-case + split best ${f(base[0] as number, 2)} ms, p50 ${f(percentile(base, 0.5), 2)} ms (ratio ${f(percentile(index, 0.5) / percentile(base, 0.5), 2)}x at p50)`,
  );
  console.log(
    `  check a call of 10 string args (${f(chars, 0)} chars on average) vs 10 MB seen: intrinsic p50 ${f(percentile(intrinsic, 0.5))} µs, p99 ${f(percentile(intrinsic, 0.99))} µs; raw wall p50 ${f(percentile(raw, 0.5))} µs, p99 ${f(percentile(raw, 0.99))} µs (target p99 <= 50 µs); baseline includes() p50 ${f(percentile(sorted(naive), 0.5), 0)} µs (${f(percentile(sorted(naive), 0.5) / percentile(intrinsic, 0.5), 0)}x slower)`,
  );
  console.log(
    `  check a short call of 10 string args (${f(shortChars, 0)} chars on average): intrinsic p50 ${f(percentile(shortIntrinsic, 0.5))} µs, p99 ${f(percentile(shortIntrinsic, 0.99))} µs`,
  );
  for (const [label, d, n, scanned] of [
    ['call', decided, chars, intrinsic],
    ['short call', decidedShort, shortChars, shortIntrinsic],
  ] as const) {
    console.log(
      `  decide a ${label} (${f(n, 0)} chars) with provenance and URL controls: intrinsic p50 ${f(percentile(d.intrinsic, 0.5))} µs, p99 ${f(percentile(d.intrinsic, 0.99))} µs (target p99 <= 50 µs); ${f(percentile(d.intrinsic, 0.5) / percentile(scanned, 0.5), 2)}x the scans alone at p50; effects ${JSON.stringify(d.effects)}`,
    );
  }
  // How the decision's cost grows with the size of the call: the same call shape with bodies of other lengths.
  const sizes = [1000, 1500, 2000].map((body) => {
    const list = Array.from({ length: 1000 }, (_, k) => call(outputs[k % 10] as string, k, body));
    const size = list.reduce((sum, args) => sum + args.reduce((s, a) => s + a.value.length, 0), 0) / list.length;
    return { size, p99: percentile(decideCalls(list).intrinsic, 0.99) };
  });
  const sweep = [
    { size: shortChars, p99: percentile(decidedShort.intrinsic, 0.99) },
    ...sizes,
    { size: chars, p99: percentile(decided.intrinsic, 0.99) },
  ];
  console.log(
    `  decide p99 by call size: ${sweep.map((s) => `${f(s.size, 0)} chars ${f(s.p99)} µs`).join(', ')} (intrinsic)`,
  );
  console.log(
    `  memory per session for 10 MB seen: ${f(memory / MB, 2)} MiB measured, ${f(stats.bytes / MB, 2)} MiB estimated (target <= 8 MiB); baseline keeps 10 MiB of text`,
  );
  console.log(
    `  index: ${stats.values} values, ${stats.fingerprints} fingerprints in ${stats.tableSlots} slots, lost \`${stats.lost}\`; found ${found} of ${seenArgs} arguments carrying seen data, flagged ${falseFlags} of ${freshArgs} fresh ones`,
  );
}

/**
 * An output with far more distinct values than an index keeps (400,000 URLs and their query-less forms against a cap
 * of 40,000): the value table evicts and rebuilds all along, where clustered probe chains once took 30 s.
 */
function churn(): void {
  const parts: string[] = [];
  for (let i = 0; i < 200_000; i++) parts.push(`word${i % 97} https://site${i}.example/p/${i * 7}?q=${i}`);
  const text = parts.join(' ');
  const index = new MemoryProvenanceIndex();
  const t = performance.now();
  index.addOutput({ seq: 0, callId: 'c0', tool: 'fetch' }, 1, text);
  const ms = performance.now() - t;
  console.log(
    `\nvalue churn\n  index a ${(text.length / MB).toFixed(1)} MB output of 200,000 distinct URLs: ${ms.toFixed(0)} ms, ${(index.stats().bytes / MB).toFixed(2)} MiB estimated (target <= 8 MiB)`,
  );
}

console.log(`provenance index benchmark (node ${process.version}, load average ${os.loadavg()[0]?.toFixed(1)})`);
console.log(`at the start: ${hostReference()}`);
await run('prose corpus', prose);
console.log(`\nbetween the corpora: ${hostReference()}`);
await run('random-character corpus (worst case)', noise);
churn();
console.log(`\nat the end: ${hostReference()}`);
