import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/audit/record.ts';
import { readRecords } from '../../src/audit/sqlite-log.ts';
import { loadGatewayConfig } from '../../src/mcp/config.ts';
import { Gateway } from '../../src/mcp/gateway.ts';
import { memoryStores, type RunningGateway, runGateway } from '../../src/mcp/run.ts';
import type { MemoryAuditLog } from '../../src/store/memory.ts';
import { openDatabase } from '../../src/store/sqlite/database.ts';
import { npmServer, rawModernCall, type ToolResult, tempDir, textOf, v1Client, writeConfig } from './harness.ts';

// The 2026-07-28 approval round trip on the wire: the request state is signed, bound to the exact call and
// session, and an approval runs the call once. Upstream: the real server-filesystem from npm.

let dir: string;
let remove: () => Promise<void>;
let running: RunningGateway;
let url: string;
const ACCEPT = { ruleoftwo_approval: { action: 'accept', content: { approve: true } } };

beforeAll(async () => {
  ({ dir, remove } = await tempDir());
  await mkdir(join(dir, 'box'));
  await writeFile(join(dir, 'box', 'private.txt'), 'secret');
  const file = await writeConfig(dir, {
    version: 1,
    policy: { version: 1, session: { input: 'untrusted' } },
    pinning: 'off',
    servers: {
      fs: {
        command: process.execPath,
        args: [npmServer('server-filesystem'), join(dir, 'box')],
        tools: { read_text_file: { output: 'B' }, 'write_*': { call: 'C' }, edit_file: { call: 'C' } },
      },
    },
  });
  running = await runGateway(await loadGatewayConfig(file), { transport: 'http', port: 0 });
  url = running.http?.url ?? '';
}, 30_000);

afterAll(async () => {
  await running?.close();
  await remove?.();
});

/** Opens a session holding A (untrusted input) and B (a private read). */
async function taint(session: string): Promise<void> {
  const read = await rawModernCall(url, {
    id: 1,
    session,
    name: 'fs__read_text_file',
    args: { path: join(dir, 'box', 'private.txt') },
  });
  expect((read.body.result as ToolResult).isError).not.toBe(true);
}

function pendingId(pending: ToolResult): string {
  return String((pending._meta?.['dev.ruleoftwo/decision'] as { requestId?: string } | undefined)?.requestId);
}

function result(response: { body: Record<string, unknown> }): ToolResult & Record<string, unknown> {
  return response.body.result as ToolResult & Record<string, unknown>;
}

describe('elicitation on 2026-07-28 (MRTR)', () => {
  it('signed state: accepted once, replay refused, other arguments refused, tampering refused', async () => {
    const session = `mrtr-${crypto.randomUUID()}`;
    await taint(session);
    const target = join(dir, 'box', 'once.txt');
    const args = { path: target, edits: [{ oldText: 'n', newText: 'n+' }] };
    await writeFile(target, 'n');
    const ask = result(await rawModernCall(url, { id: 2, session, name: 'fs__edit_file', args }));
    expect(ask.resultType).toBe('input_required');
    const state = String(ask.requestState);
    const retry = (id: number, extra: Record<string, unknown>, callArgs: unknown = args, who = session) =>
      rawModernCall(url, { id, session: who, name: 'fs__edit_file', args: callArgs, extra });

    // Another session cannot use this state.
    const stolen = result(await retry(3, { requestState: state, inputResponses: ACCEPT }, args, `${session}-other`));
    expect(textOf(stolen)).toContain('issued for another call or session');
    // Nor can it approve other arguments.
    const widened = result(
      await retry(
        4,
        { requestState: state, inputResponses: ACCEPT },
        { ...args, edits: [{ oldText: 'n', newText: 'PWNED' }] },
      ),
    );
    expect(textOf(widened)).toContain('issued for another call or session');
    // A forged signature is a JSON-RPC error.
    const forged = await retry(5, { requestState: `${state.slice(0, -4)}AAAA`, inputResponses: ACCEPT });
    expect((forged.body.error as { code: number }).code).toBe(-32602);
    expect(await readFile(target, 'utf8')).toBe('n');

    const accepted = result(await retry(6, { requestState: state, inputResponses: ACCEPT }));
    expect(accepted.isError).not.toBe(true);
    expect(await readFile(target, 'utf8')).toBe('n+');
    // The same state again: the receipt is single-use.
    const replay = result(await retry(7, { requestState: state, inputResponses: ACCEPT }));
    expect(replay.isError).toBe(true);
    expect(textOf(replay)).toContain('already used');
    expect(await readFile(target, 'utf8')).toBe('n+');
    // The replayed answer changed nothing, so the log holds one answer in the session: the one that approved it.
    const db = openDatabase(join(dir, 'ruleoftwo.db'), { readOnly: true });
    try {
      const answers = [...readRecords(db)]
        .map((record) => (JSON.parse(record.text) as AuditRecord).event)
        .filter((e) => e.type === 'approval.answer' && e.sessionId.endsWith(session));
      expect(answers).toMatchObject([{ status: 'approved' }]);
    } finally {
      db.close();
    }
  });

  it('a retry without an answer, or with approve false, runs nothing', async () => {
    const session = `mrtr-${crypto.randomUUID()}`;
    await taint(session);
    const target = join(dir, 'box', 'never.txt');
    const args = { path: target, content: 'x' };
    const ask = result(await rawModernCall(url, { id: 2, session, name: 'fs__write_file', args }));
    const state = String(ask.requestState);
    const empty = result(
      await rawModernCall(url, { id: 3, session, name: 'fs__write_file', args, extra: { requestState: state } }),
    );
    expect(textOf(empty)).toContain('carries no approval answer');
    const no = { ruleoftwo_approval: { action: 'accept', content: { approve: false } } };
    const refused = result(
      await rawModernCall(url, {
        id: 4,
        session,
        name: 'fs__write_file',
        args,
        extra: { requestState: state, inputResponses: no },
      }),
    );
    expect(textOf(refused)).toContain('declined');
    await expect(readFile(target, 'utf8')).rejects.toThrow(/ENOENT/);
  });
});

describe('elicitation answers raced or replayed', () => {
  it('concurrent accepts of one state run the call once; a declined state cannot be accepted afterwards', async () => {
    const session = `mrtr-${crypto.randomUUID()}`;
    await taint(session);
    const target = join(dir, 'box', 'raced.txt');
    await writeFile(target, 'n');
    const args = { path: target, edits: [{ oldText: 'n', newText: 'n+' }] };
    const retry = (id: number, state: string, answer: unknown, callArgs = args) =>
      rawModernCall(url, {
        id,
        session,
        name: 'fs__edit_file',
        args: callArgs,
        extra: { requestState: state, inputResponses: answer },
      });
    const ask = result(await rawModernCall(url, { id: 2, session, name: 'fs__edit_file', args }));
    const raced = await Promise.all([3, 4, 5, 6, 7, 8].map((id) => retry(id, String(ask.requestState), ACCEPT)));
    expect(raced.filter((r) => result(r).isError !== true)).toHaveLength(1);
    // Each edit appends a `+`: exactly one ran.
    expect(await readFile(target, 'utf8')).toBe('n+');

    const other = { path: target, edits: [{ oldText: 'n+', newText: 'PWNED' }] };
    const asked = String(
      result(await rawModernCall(url, { id: 9, session, name: 'fs__edit_file', args: other })).requestState,
    );
    const declined = result(await retry(10, asked, { ruleoftwo_approval: { action: 'decline' } }, other));
    expect(textOf(declined)).toContain('declined');
    const overturned = result(await retry(11, asked, ACCEPT, other));
    expect(textOf(overturned)).toContain('expired, already used or unknown');
    expect(await readFile(target, 'utf8')).toBe('n+');
  });
});

describe('the approval question', () => {
  it('shows invisible and control characters of the arguments as escapes, so they cannot disguise the call', async () => {
    const session = `spoof-${crypto.randomUUID()}`;
    await taint(session);
    // Right-to-left override, zero-width space, C1 CSI (a terminal control), line separator: each would make the
    // text a person reads differ from the call they approve.
    const path = join(dir, 'box', 'report\u202Etxt.exe\u200B\u009B2J\u2028note');
    const ask = result(
      await rawModernCall(url, { id: 2, session, name: 'fs__write_file', args: { path, content: 'x' } }),
    );
    const question = (ask.inputRequests as Record<string, { params: { message: string } }>).ruleoftwo_approval;
    const message = question?.params.message ?? '';
    expect(message).toContain('report\\u202etxt.exe\\u200b\\u009b2J\\u2028note');
    expect(message).not.toMatch(/[\u202e\u200b\u009b\u2028]/);
  });
});

describe('2026-07-28 sessions over HTTP', () => {
  it('requests without a session header share one session, where legs only accumulate', async () => {
    const read = result(
      await rawModernCall(url, { id: 1, name: 'fs__read_text_file', args: { path: join(dir, 'box', 'private.txt') } }),
    );
    expect(read._meta?.['dev.ruleoftwo/decision']).toMatchObject({ legsAfter: 'AB' });
    const target = join(dir, 'box', 'shared.txt');
    // Another request without a header, as another client would send it: same session, so C asks.
    const write = result(
      await rawModernCall(url, { id: 2, name: 'fs__write_file', args: { path: target, content: 'x' } }),
    );
    expect(write.resultType).toBe('input_required');
    const view = await running.gateway.guard.view('http:shared');
    expect(view?.legs).toBe('AB');
    // A named session is separate from the shared one.
    const named = result(
      await rawModernCall(url, {
        id: 3,
        session: `fresh-${crypto.randomUUID()}`,
        name: 'fs__write_file',
        args: { path: target, content: 'x' },
      }),
    );
    expect(named.isError).not.toBe(true);
    expect(await readFile(target, 'utf8')).toBe('x');
  });

  it('the fast path answers as the SDK server does (same fields, resultType and serverInfo)', async () => {
    const session = `parity-${crypto.randomUUID()}`;
    const path = join(dir, 'box', 'private.txt');
    const fast = await rawModernCall(url, { id: 1, session, name: 'fs__read_text_file', args: { path } });
    // An extra parameter is not the fast path's to serve: the SDK server answers this one.
    const sdk = await rawModernCall(url, {
      id: 2,
      session,
      name: 'fs__read_text_file',
      args: { path },
      extra: { x: 1 },
    });
    expect(sdk.status).toBe(fast.status);
    const shape = (r: { body: Record<string, unknown> }) => {
      const res = result(r);
      return { keys: Object.keys(res).sort(), meta: Object.keys(res._meta ?? {}).sort(), type: res.resultType };
    };
    expect(shape(fast)).toEqual(shape(sdk));
    expect(shape(fast)).toMatchObject({
      type: 'complete',
      meta: ['dev.ruleoftwo/decision', 'io.modelcontextprotocol/serverInfo'],
    });
    expect(result(fast).content).toEqual(result(sdk).content);
  });

  it('with `http.requireSessionHeader`, a call without a session header is refused, on both paths', async () => {
    const config = running.gateway.config;
    const strict = await runGateway(
      { ...config, http: { ...config.http, requireSessionHeader: true } },
      {
        transport: 'http',
        port: 0,
      },
    );
    try {
      const strictUrl = strict.http?.url ?? '';
      const shared = await strict.gateway.guard.view('http:shared');
      const path = join(dir, 'box', 'private.txt');
      const bare = await rawModernCall(strictUrl, { id: 1, name: 'fs__read_text_file', args: { path } });
      expect(bare.status).toBe(400);
      expect(bare.body.error).toMatchObject({ message: expect.stringContaining('`ruleoftwo-session` header') });
      // An extra parameter takes the SDK path (not the fast path); it is refused the same way.
      const slow = await rawModernCall(strictUrl, {
        id: 2,
        name: 'fs__read_text_file',
        args: { path },
        extra: { x: 1 },
      });
      expect(slow.status).toBe(400);
      expect((await strict.gateway.guard.view('http:shared'))?.seq).toBe(shared?.seq);
      const named = await rawModernCall(strictUrl, {
        id: 3,
        session: 'strict',
        name: 'fs__read_text_file',
        args: { path },
      });
      expect(result(named)._meta?.['dev.ruleoftwo/decision']).toMatchObject({ effect: 'allow' });
    } finally {
      await strict.close();
    }
  });
});

describe('2025-11-25 elicitation after the fast path', () => {
  it('an ask the fast path decided is put to the person once by the SDK server, not decided again', async () => {
    const stores = memoryStores();
    const gateway = await runGateway(running.gateway.config, { transport: 'http', port: 0, stores });
    try {
      const client = await v1Client({ url: gateway.http?.url ?? '' }, ['decline']);
      try {
        await client.callTool('fs__read_text_file', { path: join(dir, 'box', 'private.txt') });
        const target = join(dir, 'box', 'handoff.txt');
        const write = await client.callTool('fs__write_file', { path: target, content: 'x' });
        expect(write.isError).toBe(true);
        expect(client.elicited).toHaveLength(1);
        await expect(readFile(target, 'utf8')).rejects.toThrow(/ENOENT/);
      } finally {
        await client.close();
      }
      const effects = (stores.audit as MemoryAuditLog).events.flatMap((e) =>
        e.type === 'decision' ? [e.decision.effect] : [],
      );
      expect(effects).toEqual(['allow', 'ask']);
    } finally {
      await gateway.close();
    }
  });
});

describe('answers', () => {
  it("another session's request cannot be answered from this session", async () => {
    const owner = `owner-${crypto.randomUUID()}`;
    await taint(owner);
    const target = join(dir, 'box', 'foreign.txt');
    const pending = result(
      await rawModernCall(url, {
        id: 2,
        session: owner,
        name: 'fs__write_file',
        args: { path: target, content: 'x' },
        elicitation: false,
      }),
    );
    const requestId = pendingId(pending);
    const retry = () => running.gateway.callTool('http:intruder', 'fs__write_file', { path: target, content: 'x' });
    const answered = await running.gateway.answer('http:intruder', requestId, true, 'intruder', retry);
    expect(textOf(answered)).toContain('is not one of this session');
    const record = await running.gateway.stores.approvals.get(requestId);
    expect(record?.status).toBe('pending');
    await expect(readFile(target, 'utf8')).rejects.toThrow(/ENOENT/);
  });
});

describe('out-of-band approvals', () => {
  it('a client without elicitation gets a pending request; once approved in the store, the same call runs once', async () => {
    const session = `oob-${crypto.randomUUID()}`;
    await taint(session);
    const target = join(dir, 'box', 'oob.txt');
    const args = { path: target, edits: [{ oldText: 'k', newText: 'k+' }] };
    await writeFile(target, 'k');
    const call = (id: number, callArgs: unknown = args) =>
      rawModernCall(url, { id, session, name: 'fs__edit_file', args: callArgs, elicitation: false });
    const pending = result(await call(2));
    expect(pending.isError).toBe(true);
    const requestId = pendingId(pending);
    const records = await running.gateway.stores.approvals.list({ sessionId: `named:${session}`, status: 'pending' });
    expect(records.map((r) => r.request.id)).toContain(requestId);

    // What `ruleoftwo approvals approve <db> <id>` does against a shared store.
    await running.gateway.guard.answer(requestId, { approved: true, by: 'operator' });
    const other = result(await call(3, { ...args, edits: [{ oldText: 'k', newText: 'EVIL' }] }));
    expect(other.isError).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('k');
    const ran = result(await call(4));
    expect(ran.isError).not.toBe(true);
    expect(await readFile(target, 'utf8')).toBe('k+');
    const again = result(await call(5));
    expect(again.isError).toBe(true);
    expect(await readFile(target, 'utf8')).toBe('k+');
  });

  it('an approval made for a request another replica asked is found by this one within a second', async () => {
    let now = Date.now();
    const stores = memoryStores();
    const options = { stores, now: () => now };
    const [first, second] = await Promise.all([
      Gateway.start(running.gateway.config, options),
      Gateway.start(running.gateway.config, options),
    ]);
    try {
      const target = join(dir, 'box', 'replica.txt');
      const write = { path: target, content: 'x' };
      // The second replica serves a call in the session first and remembers that it has no open approval request.
      await second.callTool('replicas', 'fs__read_text_file', { path: join(dir, 'box', 'private.txt') });
      const asked = await first.callTool('replicas', 'fs__write_file', write);
      if (asked.kind !== 'ask') throw new Error('expected an ask');
      await first.guard.answer(asked.request.id, { approved: true, by: 'operator' });
      now += 1001;
      const ran = await second.callTool('replicas', 'fs__write_file', write);
      expect(ran.kind === 'result' && ran.result.isError).not.toBe(true);
      expect(await readFile(target, 'utf8')).toBe('x');
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });
});
