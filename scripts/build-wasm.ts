/**
 * Builds src/core/kernels.wat into the module bytes that src/core/kernels-wasm.ts carries, with wabt from npm:
 * `npm run build:wasm` writes that file; test/core/kernels.test.ts checks that it matches the source.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import wabtInit from 'wabt';

const core = join(import.meta.dirname, '..', 'src', 'core');

/** The bytes of the WebAssembly module built from src/core/kernels.wat. */
export async function buildKernels(): Promise<Uint8Array> {
  const wabt = await wabtInit();
  const module = wabt.parseWat('kernels.wat', readFileSync(join(core, 'kernels.wat'), 'utf8'), { simd: true });
  try {
    module.validate();
    return new Uint8Array(module.toBinary({}).buffer);
  } finally {
    module.destroy();
  }
}

if (import.meta.main) {
  const base64 = Buffer.from(await buildKernels()).toString('base64');
  writeFileSync(
    join(core, 'kernels-wasm.ts'),
    `// Generated from kernels.wat by \`npm run build:wasm\` (scripts/build-wasm.ts); test/core/kernels.test.ts checks it.\n` +
      `/** The WebAssembly module built from kernels.wat, in base64. */\nexport const KERNELS_WASM =\n  '${base64}';\n`,
  );
}
