import { afterEach, expect, vi } from 'vitest';

// Any console output from the code under test fails the test that produced it.
const methods = ['log', 'info', 'warn', 'error', 'debug'] as const;
const spies = methods.map((method) => vi.spyOn(console, method));

afterEach(() => {
  for (const spy of spies) {
    const calls = spy.mock.calls;
    spy.mockClear();
    expect(calls, 'unexpected console output').toEqual([]);
  }
});
