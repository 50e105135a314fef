import { defineConfig } from 'vitest/config';

const src = new URL('./src/', import.meta.url).pathname;

export default defineConfig({
  // Examples import the package by name, as users do; tests run them against the sources.
  resolve: {
    alias: [
      { find: /^ruleoftwo\/(ai-sdk|openai-agents|langchain|claude-agent-sdk)$/, replacement: `${src}adapters/$1.ts` },
      { find: /^ruleoftwo\/sqlite$/, replacement: `${src}store/sqlite/index.ts` },
      { find: /^ruleoftwo$/, replacement: `${src}index.ts` },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // Tests must not print: unexpected console output fails the run (CONVENTIONS.md rule 15).
    onConsoleLog: () => false,
    setupFiles: ['test/setup.ts'],
  },
});
