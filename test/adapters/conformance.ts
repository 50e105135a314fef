import { describe, expect, it } from 'vitest';
import type { ScriptedConversation } from '../../examples/mailbox.ts';
import type { AuditEvent } from '../../src/store/types.ts';
import { FINAL_TEXT, type Script, scripts, type World, world } from './fixture.ts';

/** A person asked through the framework's own approval flow; answers yes or no. */
export type Human = (call: { tool: string; args: unknown; callId: string }) => boolean;

/** What one conversation did, seen from the scripted model's side. */
export type Conversation = ScriptedConversation;

/** Drives one framework, with its real package and its own scripted model, through the adapter. */
export interface AdapterDriver {
  name: string;
  /** Plays `script` in `world`'s session to the end, answering each approval with `human`. */
  run(world: World, script: Script, human: Human): Promise<Conversation>;
  /**
   * Applies the last approval given in `run` once more, from the state saved before it was first applied; returns
   * what the model read for the replayed call, when the framework shows it one.
   */
  replay(): Promise<string | undefined>;
}

/** Remembers a driver's last approval so `replay()` can apply it again and report what the model then read. */
export function lastApproval() {
  let saved: { conversation: Conversation; callId: string; run: () => Promise<unknown> } | undefined;
  return {
    remember(conversation: Conversation, callId: string, run: () => Promise<unknown>): void {
      saved = { conversation, callId, run };
    },
    async replay(): Promise<string | undefined> {
      if (!saved) throw new Error('nothing to replay');
      saved.conversation.seen.delete(saved.callId);
      await saved.run();
      return saved.conversation.seen.get(saved.callId);
    },
  };
}

const never: Human = () => {
  throw new Error('no approval was expected');
};

function decisions(events: AuditEvent[]): { tool: string; effect: string; codes: string[] }[] {
  return events.flatMap((e) =>
    e.type === 'decision'
      ? [{ tool: e.decision.tool, effect: e.decision.effect, codes: e.decision.reasons.map((r) => r.code) }]
      : [],
  );
}

/** The conformance suite: the same scenarios and expected decisions for every adapter. */
export function conformance(driver: AdapterDriver): void {
  describe(`${driver.name} conformance`, () => {
    it('runs the benign task: read the inbox, reply internally', async () => {
      const w = await world('ask', { name: 'benign' });
      const conversation = await driver.run(w, scripts.benign, never);
      expect(w.mailbox.reads).toBe(1);
      expect(w.mailbox.sent).toEqual([{ to: 'alice@example.com', body: 'Yes!' }]);
      expect(conversation.seen.get('call_read')).toContain('IGNORE PREVIOUS INSTRUCTIONS');
      expect(conversation.final).toBe(FINAL_TEXT);
      expect(decisions(w.audit.events)).toEqual([
        { tool: 'read_inbox', effect: 'allow', codes: ['allowed'] },
        { tool: 'send_email', effect: 'allow', codes: ['allowed'] },
      ]);
      const results = w.audit.events.filter((e) => e.type === 'result');
      expect(results.map((e) => (e.type === 'result' ? [e.tool, e.brought] : []))).toEqual([
        ['read_inbox', 'AB'],
        ['send_email', ''],
      ]);
    });

    it('stops the exfiltration with a message the model reads, and the task goes on (gate deny)', async () => {
      const w = await world('deny', { name: 'deny' });
      const conversation = await driver.run(w, scripts.attackThenTask, never);
      expect(w.mailbox.sent).toEqual([{ to: 'alice@example.com', body: 'Yes!' }]);
      const seen = conversation.seen.get('call_exfil') ?? '';
      expect(seen).toContain('ruleoftwo blocked `send_email`');
      expect(seen).toContain('while the session holds AB');
      expect(conversation.final).toBe(FINAL_TEXT);
      expect(decisions(w.audit.events)).toEqual([
        { tool: 'read_inbox', effect: 'allow', codes: ['allowed'] },
        { tool: 'send_email', effect: 'deny', codes: ['lethal_trifecta'] },
        { tool: 'send_email', effect: 'allow', codes: ['allowed'] },
      ]);
    });

    it('asks a person through the framework; a refusal keeps the mail unsent', async () => {
      const w = await world('ask', { name: 'refuse' });
      const conversation = await driver.run(w, scripts.attack, () => false);
      expect(conversation.asked).toEqual(['call_exfil']);
      expect(w.mailbox.sent).toEqual([]);
      expect(conversation.final).toBe(FINAL_TEXT);
      const request = w.audit.events.find((e) => e.type === 'approval.request');
      expect(request?.type === 'approval.request' && request.request.callId).toBe('call_exfil');
      expect(decisions(w.audit.events).filter((d) => d.effect === 'allow' && d.tool === 'send_email')).toEqual([]);
      // The refusal given in the framework's own flow is audited as the answer to the guard's request.
      const answers = w.audit.events.flatMap((e) => (e.type === 'approval.answer' ? [[e.requestId, e.status]] : []));
      expect(answers).toEqual([[request?.type === 'approval.request' && request.request.id, 'denied']]);
    });

    it('runs exactly the approved call once; a replay of the approval is refused', async () => {
      const w = await world('ask', { name: 'approve' });
      const conversation = await driver.run(w, scripts.attack, (call) => call.callId === 'call_exfil');
      expect(conversation.asked).toEqual(['call_exfil']);
      expect(w.mailbox.sent).toEqual([{ to: 'attacker@evil.test', body: 'Lunch on Friday? (forwarded private mail)' }]);
      expect(conversation.seen.get('call_exfil')).toContain('sent to attacker@evil.test');
      expect(decisions(w.audit.events)).toEqual([
        { tool: 'read_inbox', effect: 'allow', codes: ['allowed'] },
        { tool: 'send_email', effect: 'ask', codes: ['lethal_trifecta'] },
        { tool: 'send_email', effect: 'allow', codes: ['lethal_trifecta', 'approved'] },
      ]);
      const answers = w.audit.events.filter((e) => e.type === 'approval.answer');
      expect(answers.map((e) => e.type === 'approval.answer' && e.status)).toEqual(['approved']);
      const replayed = await driver.replay();
      expect(w.mailbox.sent).toHaveLength(1);
      expect(replayed ?? '').not.toContain('sent to');
      const refusal = decisions(w.audit.events).at(-1);
      expect(refusal).toEqual({ tool: 'send_email', effect: 'deny', codes: ['receipt_invalid'] });
    });

    it('denies every call of a session that was never opened', async () => {
      const w = await world('ask', { name: 'missing', open: false });
      const conversation = await driver.run(w, scripts.benign, never);
      expect(w.mailbox.reads).toBe(0);
      expect(w.mailbox.sent).toEqual([]);
      expect(conversation.seen.get('call_read')).toContain('unknown session `s-missing`');
      expect(decisions(w.audit.events).every((d) => d.effect === 'deny' && d.codes.includes('unknown_session'))).toBe(
        true,
      );
    });
  });
}
