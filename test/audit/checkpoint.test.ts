import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkSignature, generateAuditKey, loadAuditKey } from '../../src/audit/checkpoint.ts';
import { verifyDatabase } from '../../src/audit/inspect.ts';
import { SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { tempDir } from '../store/stores.ts';

let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

function dir(): string {
  const made = tempDir();
  cleanup = made.remove;
  return made.dir;
}

const event = (i: number) => ({ type: 'result.ignored' as const, at: i, sessionId: 's', callId: `c${i}`, reason: 'x' });

describe('checkpoint keys', () => {
  it('signs checkpoints that verify under the public key only', () => {
    const { privatePem, publicPem } = generateAuditKey();
    const key = loadAuditKey({ key: privatePem });
    const checkpoint = key?.sign(10, 'ab'.repeat(32), 1, 5);
    if (!checkpoint) throw new Error('no key');
    const other = generateAuditKey();
    expect(checkSignature(checkpoint, key?.publicKey as never)).toBe(true);
    expect(key?.publicPem()).toBe(publicPem);
    expect(checkSignature({ ...checkpoint, size: 11 }, key?.publicKey as never)).toBe(false);
    expect(checkSignature({ ...checkpoint, previous: 4 }, key?.publicKey as never)).toBe(false);
    expect(checkSignature(checkpoint, loadAuditKey({ key: other.privatePem })?.publicKey as never)).toBe(false);
  });

  it('loads the key from the environment or a file, and never puts key material in a message or in JSON', () => {
    const base = dir();
    const { privatePem } = generateAuditKey();
    writeFileSync(join(base, 'key.pem'), privatePem);
    expect(loadAuditKey({ env: {} })).toBeUndefined();
    const fromEnv = loadAuditKey({ env: { RULEOFTWO_AUDIT_KEY: privatePem } });
    const fromFile = loadAuditKey({ env: { RULEOFTWO_AUDIT_KEY_FILE: join(base, 'key.pem') } });
    expect(fromFile?.keyId).toBe(fromEnv?.keyId);
    expect(JSON.stringify(fromEnv)).toBe(`{"keyId":"${fromEnv?.keyId}"}`);

    const garbled = `${privatePem.slice(0, 40)}XX${privatePem.slice(42)}`;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    const failures: [Record<string, string>, RegExp][] = [
      [{ RULEOFTWO_AUDIT_KEY: garbled }, /the audit key in \$RULEOFTWO_AUDIT_KEY is not a PEM private key/],
      [{ RULEOFTWO_AUDIT_KEY: rsa.toString() }, /is rsa, not Ed25519/],
      [{ RULEOFTWO_AUDIT_KEY_FILE: join(base, 'none.pem') }, /cannot read the audit key file `.*none\.pem`: ENOENT/],
    ];
    for (const [env, message] of failures) {
      let thrown: unknown;
      try {
        loadAuditKey({ env });
      } catch (error) {
        thrown = error;
      }
      expect((thrown as Error).message).toMatch(message);
      expect((thrown as Error).message).not.toContain('PRIVATE');
      expect((thrown as Error).message).not.toContain(privatePem.split('\n')[1]);
    }
  });

  it('a writer without the key adds no unsigned checkpoint to a signed log', async () => {
    const path = join(dir(), 'audit.db');
    const { privatePem, publicPem } = generateAuditKey();
    const key = loadAuditKey({ key: privatePem });
    if (!key) throw new Error('no key');
    const signed = new SqliteAuditLog(path, { key });
    await Promise.all([1, 2, 3].map((i) => signed.append(event(i))));
    await signed.close();
    const keyless = new SqliteAuditLog(path);
    await keyless.append(event(4));
    await keyless.close();
    const db = openDatabase(path, { readOnly: true });
    const report = verifyDatabase(db, { publicKeys: [publicPem] });
    db.close();
    expect(report).toMatchObject({ ok: true, records: 4 });
    expect(report.notes).toContain('records 4..4 come after the last checkpoint: chained, not yet signed');
    const again = new SqliteAuditLog(path, { key });
    expect((await again.recover()).checkpoint?.size).toBe(4);
    await again.close();
  });
});
