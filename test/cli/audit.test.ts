import { spawn } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { leafHash } from '../../src/audit/merkle.ts';
import { SqliteAuditLog } from '../../src/audit/sqlite-log.ts';
import { runCli } from '../../src/cli/run.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { openStores } from '../../src/store/open.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { writeSampleLog } from '../audit/log.ts';
import { emailBot } from '../helpers.ts';
import { tempDirs } from '../store/stores.ts';

const workdir = tempDirs();

async function cli(cwd: string, args: string[], env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const status = await runCli(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    stdin: Readable.from([]),
    env,
    cwd,
  });
  return { status, stdout, stderr };
}

describe('ruleoftwo audit', () => {
  it('verify: ok on an intact log, exit 1 naming the record on tampering', async () => {
    const dir = workdir();
    const { publicPem } = await writeSampleLog(dir, 30);
    writeFileSync(join(dir, 'pub.pem'), publicPem);
    const ok = await cli(dir, ['audit', 'verify', 'audit.db', '--public-key', 'pub.pem']);
    expect(ok).toMatchObject({ status: 0, stderr: '' });
    expect(ok.stdout).toMatch(/^audit\.db: ok, 30 records, \d+ checkpoints \(\d+ signed\), root [0-9a-f]{64}\n$/);

    const db = openDatabase(join(dir, 'audit.db'));
    db.exec('UPDATE audit_records SET record = replace(record, \'"bytes":2\', \'"bytes":3\') WHERE seq = 3');
    db.close();
    const bad = await cli(dir, ['audit', 'verify', 'audit.db', '--public-key', 'pub.pem']);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toContain('audit.db: verification failed at record 3');
    expect(bad.stdout).toContain('record 3 was changed: record 4 does not chain to it [hash_mismatch]');
  });

  it('verify names an edit of the records after the last checkpoint that left the head as it was', async () => {
    const dir = workdir();
    await writeSampleLog(dir, 20);
    const db = openDatabase(join(dir, 'audit.db'));
    // The checkpoint the log took on closing goes too (only a witness would miss it): record 20 is then signed by none.
    db.exec('DELETE FROM audit_checkpoints WHERE size = 20');
    expect(db.prepare('SELECT changes() AS n').get()).toEqual({ n: 1 });
    const before = db.prepare('SELECT record FROM audit_records WHERE seq = 20').get() as { record: string };
    db.exec(`UPDATE audit_records SET record = replace(record, '"leg":"C"', '"leg":"A"') WHERE seq = 20`);
    expect(db.prepare('SELECT record FROM audit_records WHERE seq = 20').get()).not.toEqual(before);
    db.close();
    const edited = await cli(dir, ['audit', 'verify', 'audit.db']);
    expect(edited.status).toBe(1);
    expect(edited.stdout).toContain('verification failed at record 20');
    expect(edited.stdout).toContain(
      "record 20 was changed: it is not the last record the log's head names [head_mismatch]",
    );
  });

  it('verify --witness detects truncation after the last checkpoint the log still has', async () => {
    const dir = workdir();
    await writeSampleLog(dir, 20);
    const stats = await cli(dir, ['audit', 'stats', 'audit.db', '--json']);
    writeFileSync(join(dir, 'witness.json'), stats.stdout);
    const db = openDatabase(join(dir, 'audit.db'));
    db.exec('DELETE FROM audit_records WHERE seq > 15; DELETE FROM audit_checkpoints WHERE size > 15');
    const headless = await cli(dir, ['audit', 'verify', 'audit.db']);
    expect(headless.status).toBe(1);
    expect(headless.stdout).toContain(
      'the log ends after record 15 but its head says 20 records (truncated) [head_mismatch]',
    );
    // Rewriting the head as well, to the record the log now ends with, leaves only the witness to tell.
    const last = db.prepare('SELECT record FROM audit_records WHERE seq = 15').get() as { record: string };
    db.prepare('UPDATE audit_head SET size = 15, last_hash = ?').run(Buffer.from(leafHash(last.record), 'hex'));
    db.close();
    expect((await cli(dir, ['audit', 'verify', 'audit.db'])).status).toBe(0);
    const witnessed = await cli(dir, ['audit', 'verify', 'audit.db', '--witness', 'witness.json']);
    expect(witnessed.status).toBe(1);
    expect(witnessed.stdout).toMatch(/ends after record 15 but checkpoint 20/);
  });

  it('export --format jsonl round-trips through verify, and rejects other formats', async () => {
    const dir = workdir();
    const { publicPem } = await writeSampleLog(dir, 12);
    writeFileSync(join(dir, 'pub.pem'), publicPem);
    expect((await cli(dir, ['audit', 'export', 'audit.db', '--format', 'jsonl', '--out', 'log.jsonl'])).status).toBe(0);
    const lines = readFileSync(join(dir, 'log.jsonl'), 'utf8').trim().split('\n');
    expect(JSON.parse(lines[0] as string)).toMatchObject({ log: 'ruleoftwo-audit', v: 1 });
    const verified = await cli(dir, ['audit', 'verify', 'log.jsonl', '--public-key', 'pub.pem']);
    expect(verified.stdout).toMatch(/^log\.jsonl: ok, 12 records/);
    const stdout = await cli(dir, ['audit', 'export', 'audit.db']);
    expect(stdout.stdout).toBe(`${lines.join('\n')}\n`);
    const csv = await cli(dir, ['audit', 'export', 'audit.db', '--format', 'csv']);
    expect(csv.status).toBe(2);
    expect(csv.stderr).toContain('unknown format `csv`; expected jsonl');
  });

  it('tail shows the last records human-readable; stats counts them', async () => {
    const dir = workdir();
    await writeSampleLog(dir, 9);
    const tail = await cli(dir, ['audit', 'tail', 'audit.db', '-n', '3']);
    const lines = tail.stdout.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^#7 {2}2023-11-14 \d\d:\d\d:\d\d\.\d{3} {2}result {2}read_inbox {2}session s1 call c6/);
    expect(lines[1]).toMatch(/^#8 .* transition drop {2}session s1 {2}\{"leg":"C","reason":null\}$/);
    expect(lines[2]).toMatch(/^#9 .* decision {2}ALLOW send_email/);
    const stats = await cli(dir, ['audit', 'stats', 'audit.db']);
    expect(stats.stdout).toMatch(/^records {6}9$/m);
    expect(stats.stdout).toMatch(/^ {2}decision {11}3$/m);
  });

  it('redacts argument values per policy while the chain still verifies', async () => {
    const dir = workdir();
    await writeSampleLog(dir, 4);
    const tail = await cli(dir, ['audit', 'tail', 'audit.db']);
    expect(tail.stdout).toContain('"body":"[redacted]"');
    expect(tail.stdout).toContain('"password":"[redacted]"');
    expect(tail.stdout).toContain('(redacted: args.body, args.nested.password)');
    expect(tail.stdout).not.toContain('hunter2');
    expect(tail.stdout).toContain('"to":"x@evil.test"');
    expect((await cli(dir, ['audit', 'verify', 'audit.db'])).status).toBe(0);
  });

  it('tail -f follows records another process appends', async () => {
    const dir = workdir();
    const path = join(dir, 'audit.db');
    const log = new SqliteAuditLog(path);
    await log.append({ type: 'result.ignored', at: 1, sessionId: 's', callId: 'first', reason: 'x' });
    const child = spawn(
      process.execPath,
      [join(import.meta.dirname, '../../src/cli/main.ts'), 'audit', 'tail', '-f', 'audit.db'],
      {
        cwd: dir,
      },
    );
    let out = '';
    const seen = (text: string) =>
      new Promise<void>((resolve) => {
        const check = () => (out.includes(text) ? resolve() : undefined);
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          check();
        });
        check();
      });
    try {
      await seen('call first');
      await log.append({ type: 'result.ignored', at: 2, sessionId: 's', callId: 'second', reason: 'y' });
      await seen('call second');
      expect(out).toMatch(/#1 .*call first: x\n#2 .*call second: y\n/);
    } finally {
      child.kill();
      await log.close();
    }
  });

  it('errors name the file and never show a stack', async () => {
    const dir = workdir();
    const missing = await cli(dir, ['audit', 'verify', 'nope.db']);
    // Exit 1 means the log failed verification; a missing file is an operator error (2), so a cron job tells them apart.
    expect(missing).toMatchObject({ status: 2, stderr: 'ruleoftwo audit: no such file `nope.db`\n' });
    writeFileSync(join(dir, 'other.db'), '');
    const other = await cli(dir, ['audit', 'stats', 'other.db']);
    expect(other).toMatchObject({ status: 2, stderr: 'ruleoftwo audit: `other.db` holds no ruleoftwo audit log\n' });
    const usage = await cli(dir, ['audit', 'tail', 'a.db', '--bogus']);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/^ruleoftwo audit: unknown option `--bogus`\n\nusage: /);
    expect(`${missing.stderr}${other.stderr}${usage.stderr}`).not.toMatch(/at .*\.ts:\d+/);
  });

  it('keygen writes a private key readable only by its owner and prints the public key', async () => {
    const dir = workdir();
    const made = await cli(dir, ['audit', 'keygen', '--out', 'key.pem']);
    expect(made.stdout).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(made.stdout).not.toContain('PRIVATE');
    expect(statSync(join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
    expect((await cli(dir, ['audit', 'keygen', '--out', 'key.pem'])).stderr).toContain('`key.pem` exists');
  });
});

/** A database at `path` holding one pending approval request of the email bot; returns its id. */
async function pendingRequest(path: string): Promise<string> {
  const guard = createGuard({ policy: emailBot(), ...(await openStores({ path })) });
  const s = await guard.session('s1', { input: 'untrusted' });
  await s.check({ id: 'c1', tool: 'search_contacts', args: {} });
  const asked = await s.check({ id: 'c2', tool: 'send_email', args: { to: 'x@evil.test' } });
  await guard.close();
  return asked.approval?.id as string;
}

describe('ruleoftwo approvals', () => {
  it('an unknown id answered before the gateway logged anything leaves the log usable', async () => {
    const dir = workdir();
    const path = join(dir, 'fresh.db');
    const stores = await openStores({ path, env: {} });
    const guard = createGuard({ policy: emailBot(), ...stores });
    // A typo by the operator, while the log is still empty.
    const typo = await cli(dir, ['approvals', 'deny', 'fresh.db', 'r-typo']);
    expect(typo).toMatchObject({
      status: 1,
      stderr: expect.stringMatching(/^ruleoftwo approvals: unknown approval request `r-typo`; /),
    });
    const session = await guard.session('s1');
    expect((await session.check({ id: 'c1', tool: 'get_time', args: {} })).effect).toBe('allow');
    await guard.close();
    const reopened = await openStores({ path, env: {} });
    await reopened.close();
  });

  it('lists a pending request with why it is gated, and an approval from the CLI is usable once by the guard', async () => {
    const dir = workdir();
    const path = join(dir, 'guard.db');
    const stores = await openStores({ path });
    const guard = createGuard({ policy: emailBot(), ...stores });
    try {
      const s = await guard.session('s1', { input: 'untrusted' });
      await s.check({ id: 'c1', tool: 'search_contacts', args: {} });
      await s.record('c1', []);
      const asked = await s.check({ id: 'c2', tool: 'send_email', args: { to: 'x@evil.test' } });
      const id = asked.approval?.id as string;
      const listed = await cli(dir, ['approvals', 'list', 'guard.db', '--status', 'pending']);
      expect(listed.stdout).toContain(`approval ${id}: session \`s1\` wants to call \`send_email\``);
      expect(listed.stdout).toContain('evidence: B from call of `search_contacts` (call c1)');
      expect(listed.stdout).toMatch(/status: pending, \d+s left/);

      const approved = await cli(dir, ['approvals', 'approve', 'guard.db', id, '--by', 'ana', '--reason', 'known']);
      expect(approved).toMatchObject({ status: 0, stdout: `approval ${id} approved by ana\n` });
      const again = await cli(dir, ['approvals', 'deny', 'guard.db', id]);
      expect(again).toMatchObject({ status: 1, stdout: `approval ${id} was already approved; unchanged\n` });

      const receipt = { requestId: id, hash: asked.approval?.hash as string };
      const call = { id: 'c2', tool: 'send_email', args: { to: 'x@evil.test' } };
      expect((await s.check(call, { receipt })).effect).toBe('allow');
      expect((await s.check({ ...call, id: 'c3' }, { receipt })).effect).toBe('deny');
    } finally {
      await guard.close();
    }
    const tail = await cli(dir, ['audit', 'tail', 'guard.db', '-n', '50']);
    expect(tail.stdout).toMatch(/approval\.answer {2}\S+ approved by ana {2}session s1: known/);
    expect((await cli(dir, ['audit', 'verify', 'guard.db'])).status).toBe(0);
  });

  it('an answer the log cannot hold is not given: the request stays pending, and the failure is reported', async () => {
    const dir = workdir();
    const path = join(dir, 'g.db');
    const id = await pendingRequest(path);
    const db = openDatabase(path);
    db.exec(
      "CREATE TRIGGER fail BEFORE INSERT ON audit_records BEGIN SELECT RAISE(ABORT, 'injected write error'); END",
    );
    const failed = await cli(dir, ['approvals', 'approve', 'g.db', id]);
    expect(failed.status).toBe(1);
    expect(failed.stderr).toBe('ruleoftwo approvals: cannot write the audit log: injected write error\n');
    const row = db.prepare('SELECT status FROM approvals WHERE id = ?').get(id) as { status: string };
    expect(row.status).toBe('pending');
    db.exec('DROP TRIGGER fail');
    db.close();
    expect((await cli(dir, ['approvals', 'approve', 'g.db', id])).stdout).toBe(`approval ${id} approved by cli\n`);
    const tail = await cli(dir, ['audit', 'tail', 'g.db', '-n', '1']);
    expect(tail.stdout).toMatch(/approval\.answer {2}\S+ approved by cli/);
  });

  it('deny works, an unknown id fails, and a missing database is not created', async () => {
    const dir = workdir();
    const id = await pendingRequest(join(dir, 'g.db'));
    expect((await cli(dir, ['approvals', 'deny', 'g.db', id])).stdout).toBe(`approval ${id} denied by cli\n`);
    expect((await cli(dir, ['approvals', 'approve', 'g.db', 'r-404'])).stderr).toBe(
      'ruleoftwo approvals: unknown approval request `r-404`; `ruleoftwo approvals list g.db` shows them\n',
    );
    const missing = await cli(dir, ['approvals', 'list', 'none.db']);
    expect(missing).toMatchObject({ status: 2, stderr: 'ruleoftwo approvals: no such file `none.db`\n' });
    const json = JSON.parse((await cli(dir, ['approvals', 'list', 'g.db', '--json'])).stdout);
    expect(json[0]).toMatchObject({ status: 'denied', by: 'cli' });
  });
});
