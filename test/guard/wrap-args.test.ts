import { describe, expect, it } from 'vitest';
import { createGuard } from '../../src/guard/guard.ts';
import { MemoryAuditLog } from '../../src/store/memory.ts';
import type { AuditLog } from '../../src/store/types.ts';
import { emailBot } from '../helpers.ts';

// guard.wrap checks a call and then runs the tool: whatever the tool receives must be what was checked, however the
// caller's arguments object changes meanwhile (another task mutating it, or a getter that answers differently later).

type Mail = { to: string; body: string };

/** A guard whose session `s` holds A and B (the inbox was read), with a hook run after each decision is audited. */
async function holdingAB() {
  const audit = new MemoryAuditLog();
  const hook: { afterAllow?: () => void } = {};
  const log: AuditLog = {
    append: async (event) => {
      await audit.append(event);
      if (event.type === 'decision' && event.decision.effect === 'allow') hook.afterAllow?.();
    },
    close: () => audit.close(),
  };
  const guard = createGuard({ policy: emailBot({ approvals: { gate: 'deny' } }), audit: log });
  await guard.session('s');
  await guard.wrap('read_inbox', () => ['private mail'])({}, { session: 's' });
  const sent: Mail[] = [];
  const send = guard.wrap('send_email', (mail: Mail) => {
    sent.push({ ...mail });
    return 'sent';
  });
  return { guard, hook, sent, send };
}

describe('guard.wrap arguments', () => {
  it('runs the tool with the arguments it checked when the caller changes them while the decision is audited', async () => {
    const { hook, sent, send } = await holdingAB();
    const mail = { to: 'alice@example.com', body: 'Yes!' };
    hook.afterAllow = () => {
      mail.to = 'attacker@evil.test';
    };
    await send(mail, { session: 's' });
    expect(sent).toEqual([{ to: 'alice@example.com', body: 'Yes!' }]);
  });

  it('runs the tool with the arguments it checked when a getter answers differently on a later read', async () => {
    const { sent, send } = await holdingAB();
    let reads = 0;
    const mail = {
      get to() {
        return reads++ === 0 ? 'alice@example.com' : 'attacker@evil.test';
      },
      body: 'Yes!',
    };
    await send(mail, { session: 's' });
    expect(sent).toEqual([{ to: 'alice@example.com', body: 'Yes!' }]);
  });

  it('denies arguments that cannot be copied, without running the tool', async () => {
    const { sent, send } = await holdingAB();
    const mail = { to: 'alice@example.com', body: 'Yes!', onSent: () => 'x' };
    await expect(send(mail, { session: 's' })).rejects.toThrow(/arguments that cannot be copied/);
    expect(sent).toEqual([]);
  });
});
