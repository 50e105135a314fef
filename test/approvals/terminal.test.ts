import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { terminalApprover } from '../../src/approvals/terminal.ts';
import { createGuard } from '../../src/guard/guard.ts';
import { counterIds, emailBot } from '../helpers.ts';

function terminal(typed: string | null) {
  const input = new PassThrough();
  const output = new PassThrough();
  let shown = '';
  output.on('data', (chunk) => (shown += chunk));
  if (typed === null) input.end();
  else input.write(`${typed}\n`);
  return { input, output, shown: () => shown };
}

async function attempt(typed: string | null, timeoutMs = 5_000, to = 'x@evil.test') {
  const io = terminal(typed);
  const guard = createGuard({
    policy: emailBot(),
    newId: counterIds(),
    approver: terminalApprover({ input: io.input, output: io.output, by: 'ops' }),
    approvalTimeoutMs: timeoutMs,
  });
  const session = await guard.session('s', { input: 'untrusted' });
  await session.check({ id: 'c1', tool: 'read_inbox' });
  const decision = await session.authorize({ id: 'c2', tool: 'send_email', args: { to } });
  return { decision, shown: io.shown() };
}

describe('terminal approver', () => {
  it('shows the call, why it is gated and the evidence, and approves on `yes`', async () => {
    const { decision, shown } = await attempt('yes');
    expect(decision.effect).toBe('allow');
    expect(shown).toContain('wants to call `send_email`');
    expect(shown).toContain('"to":"x@evil.test"');
    expect(shown).toContain('why gated: `send_email` is consequential (C) while the session holds AB');
    expect(shown).toContain("evidence: A from the session's own input");
    expect(shown).toContain('evidence: B from call of `read_inbox` (call c1)');
  });

  it('escapes the characters of the arguments a person cannot see: controls (C1 too) and bidi or zero-width marks', async () => {
    // Rendered raw, the right-to-left override would show `x@evil.test` as `tset.live@x`, and C1 CSI (U+009B) is a
    // terminal control sequence.
    const { shown } = await attempt('no', 5_000, 'boss@corp.example\u202Etset.live@x\u200B\u009B2J');
    expect(shown).toContain('"to":"boss@corp.example\\u202etset.live@x\\u200b\\u009b2J"');
    expect(shown).not.toMatch(/[\u202e\u200b\u009b]/);
  });

  it.each([['y'], [''], ['no'], ['yes please']])('denies on %j', async (typed) => {
    const { decision } = await attempt(typed);
    expect(decision.effect).toBe('deny');
    expect(decision.reasons.at(-1)?.code).toBe('approval_denied');
  });

  it('denies when the input ends', async () => {
    const { decision } = await attempt(null);
    expect(decision.effect).toBe('deny');
  });

  it('denies when nobody answers in time', async () => {
    const io = terminal('');
    const guard = createGuard({
      policy: emailBot(),
      approver: terminalApprover({ input: new PassThrough(), output: io.output }),
      approvalTimeoutMs: 50,
    });
    const session = await guard.session('s', { input: 'untrusted' });
    await session.check({ id: 'c1', tool: 'read_inbox' });
    const decision = await session.authorize({ id: 'c2', tool: 'send_email', args: { to: 'x@evil.test' } });
    expect(decision.effect).toBe('deny');
    expect(decision.reasons.at(-1)?.code).toBe('approval_timeout');
  });
});
