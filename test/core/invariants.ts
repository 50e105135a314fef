/** Safety invariants of the Rule of Two, checked on what the guard did in a trace (independently of the model). */
import { canonicalJson } from '../../src/core/canonical.ts';
import { legs } from '../model/reference.ts';
import { decidedLegs, SESSIONS, type Step } from './trace.ts';

/** No consequential call is allowed while A and B are held (or conferred) without a matching, accepted receipt. */
export function trifectaViolations(steps: readonly Step[]): string[] {
  const out: string[] = [];
  steps.forEach((step, i) => {
    const decision = step.decision;
    if (decision?.effect !== 'allow') return;
    const pre = legs(decision.call?.pre ?? '');
    const counted = legs(decision.legsBefore + (decision.call?.pre ?? ''));
    if (!pre.has('C') || !counted.has('A') || !counted.has('B')) return;
    const approved = step.approved;
    const matches =
      approved !== undefined &&
      approved.sessionId === decision.sessionId &&
      approved.tool === decision.tool &&
      canonicalJson(approved.args ?? null) === canonicalJson(step.call?.args ?? null);
    if (!matches) out.push(`step ${i}: \`${decision.tool}\` allowed with C while holding ${decision.legsBefore}`);
  });
  return out;
}

function eachSession(steps: readonly Step[], visit: (id: string, before: Step, after: Step, i: number) => void): void {
  for (let i = 1; i < steps.length; i++) {
    for (const id of SESSIONS) visit(id, steps[i - 1] as Step, steps[i] as Step, i);
  }
}

/** Held legs never shrink, and a session never disappears. */
export function shrinkViolations(steps: readonly Step[]): string[] {
  const out: string[] = [];
  eachSession(steps, (id, before, after, i) => {
    const was = before.views.get(id);
    if (!was) return;
    const now = after.views.get(id);
    if (!now) {
      out.push(`step ${i}: session ${id} vanished`);
      return;
    }
    for (const leg of was.held) if (!now.held.includes(leg)) out.push(`step ${i}: ${id} lost held leg ${leg}`);
  });
  return out;
}

/**
 * Dropped legs never come back: the dropped set only grows, no allowed call carries a dropped leg, and a leg
 * dropped while absent never enters the session.
 */
export function dropViolations(steps: readonly Step[]): string[] {
  const out: string[] = [];
  const absentWhenDropped = new Map<string, Set<string>>();
  steps.forEach((step, i) => {
    const decision = step.decision;
    const previous = i > 0 ? steps[i - 1]?.views.get(decision?.sessionId ?? '') : undefined;
    if (decision?.effect === 'allow' && previous) {
      for (const leg of decidedLegs(decision)) {
        if (previous.dropped.includes(leg)) out.push(`step ${i}: allowed \`${decision.tool}\` with dropped ${leg}`);
      }
    }
    for (const id of SESSIONS) {
      const view = step.views.get(id);
      const was = i > 0 ? steps[i - 1]?.views.get(id) : undefined;
      if (!view) continue;
      if (was)
        for (const leg of was.dropped) if (!view.dropped.includes(leg)) out.push(`step ${i}: ${id} undropped ${leg}`);
      const absent = absentWhenDropped.get(id) ?? new Set<string>();
      for (const leg of absent) if (view.legs.includes(leg)) out.push(`step ${i}: ${id} regained dropped ${leg}`);
      for (const leg of view.dropped) if (!view.legs.includes(leg)) absent.add(leg);
      absentWhenDropped.set(id, absent);
    }
  });
  return out;
}
