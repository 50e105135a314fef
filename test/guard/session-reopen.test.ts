import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { emailBot } from '../helpers.ts';

describe('reopening a session', () => {
  it('refuses to declare untrusted input on a session opened as trusted, instead of ignoring it', async () => {
    const guard = createGuard({ policy: emailBot() });
    await guard.session('s1', { input: 'trusted' });
    await expect(guard.session('s1', { input: 'untrusted' })).rejects.toThrow(ConfigError);
    await expect(guard.session('s1', { input: 'untrusted' })).rejects.toThrow(
      'session `s1` exists with trusted input; its input cannot become untrusted',
    );
    expect((await guard.view('s1'))?.held).toBe('');
  });

  it('reopens with the same or a safer declaration', async () => {
    const guard = createGuard({ policy: emailBot() });
    await guard.session('s1', { input: 'untrusted' });
    await expect(guard.session('s1', { input: 'untrusted' })).resolves.toMatchObject({ id: 's1' });
    await expect(guard.session('s1', { input: 'trusted' })).resolves.toMatchObject({ id: 's1' });
    await expect(guard.session('s1')).resolves.toMatchObject({ id: 's1' });
    expect((await guard.view('s1'))?.held).toBe('A');
  });
});
