import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Examples import the package by name, as users do; tests run them against the sources.
  resolve: { alias: { ruleoftwo: new URL('./src/index.ts', import.meta.url).pathname } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // Tests must not print: unexpected console output fails the run (CONVENTIONS.md rule 15).
    onConsoleLog: () => false,
    setupFiles: ['test/setup.ts'],
  },
});
