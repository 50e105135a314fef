/** Runs every benchmark in bench/ one after another (`npm run bench`); exits non-zero if one fails. */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const self = basename(fileURLToPath(import.meta.url));
const benches = readdirSync(here)
  .filter((file) => file.endsWith('.ts') && file !== self)
  .sort();

let failed = 0;
for (const file of benches) {
  console.log(`\n== bench/${file}`);
  // One at a time, each in its own process, so one benchmark's heap and JIT state do not colour the next.
  const run = spawnSync(process.execPath, ['--expose-gc', join(here, file)], { stdio: 'inherit' });
  if (run.status !== 0) {
    failed++;
    console.log(`bench/${file} failed with ${run.signal ?? `exit code ${run.status}`}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
