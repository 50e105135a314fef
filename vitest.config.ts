import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // Tests must not print: unexpected console output fails the run (CONVENTIONS.md rule 15).
    onConsoleLog: () => false,
    setupFiles: ['test/setup.ts'],
  },
});
