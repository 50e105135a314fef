import { chmodSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createGuard } from '../../src/guard/guard.ts';
import { openStores } from '../../src/store/open.ts';
import { emailBotDocument } from '../helpers.ts';
import { tempDir } from './stores.ts';

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

describe('the database file and its companions', () => {
  it('a new database, its write-ahead log and shared memory are readable by their owner only', async () => {
    const { dir, remove } = tempDir();
    cleanup = remove;
    const path = join(dir, 'new.db');
    const stores = await openStores({ path, env: {} });
    const guard = createGuard({ policy: emailBotDocument, ...stores });
    await (await guard.session('s1')).check({ id: 'c1', tool: 'read_inbox', args: {} });
    // Approval requests hold the full arguments, redacted ones included: no other user may read them.
    for (const file of [path, `${path}-wal`, `${path}-shm`]) {
      expect({ file, mode: statSync(file).mode & 0o777 }).toEqual({ file, mode: 0o600 });
    }
    await stores.close();
  });

  it('an existing database keeps the mode its owner gave it', async () => {
    const { dir, remove } = tempDir();
    cleanup = remove;
    const path = join(dir, 'shared.db');
    writeFileSync(path, '');
    chmodSync(path, 0o640);
    const stores = await openStores({ path, env: {} });
    await stores.close();
    expect(statSync(path).mode & 0o777).toBe(0o640);
  });
});
