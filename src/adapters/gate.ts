import type { ToolCall } from '../core/decide.ts';
import type { ApprovalRequest, Decision, Reason } from '../core/decision.ts';
import type { Guard } from '../guard/guard.ts';
import type { ApprovalAnswer } from '../store/types.ts';
import { bindCall, boundCall, type CallBinding, isBoundTo } from './binding.ts';

/**
 * What a framework should do with a call before running it: run it, refuse it with a message the model reads, or
 * hand it to the framework's own approval flow.
 */
export type Verdict =
  | { effect: 'allow'; decision: Decision }
  | { effect: 'deny'; message: string; decision?: Decision }
  | { effect: 'ask'; message: string; request: ApprovalRequest };

/** The outcome of running a guarded call: its output, or the message the model reads instead. */
export type RunOutcome<R> = { ok: true; output: R } | { ok: false; message: string };

/** What the model may see of a recorded output. */
export type Recorded = { ok: true; output: unknown; changed: boolean } | { ok: false; message: string };

/** Options of {@link CallGate.run}. */
export interface RunOptions<R> {
  /**
   * A person's answer given through the framework's approval flow for this exact call; read only when the call
   * awaits one (finding it may mean scanning the conversation).
   */
  answer?: () => ApprovalAnswer | undefined;
  /** What of the output the guard records (default: the output itself). */
  recordAs?: (output: R) => unknown;
}

/** The text a model reads when a call was not run. */
export function deniedText(tool: string, reason: string): string {
  return `ruleoftwo blocked \`${tool}\`: ${reason}; the call was not run`;
}

function reasonText(reasons: readonly Reason[]): string {
  return reasons.map((r) => r.message).join('; ');
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A verdict held for one exact call. */
interface Held {
  verdict: Verdict;
  call: CallBinding;
}

/**
 * Most verdicts a gate holds between a framework's approval hook and execution. A framework that refuses a call in its
 * own flow never executes it, so its verdict would otherwise stay for the life of the conversation; the oldest is
 * forgotten first, and a forgotten call is decided afresh (an allowed one then meets its own reservation and is
 * denied as a duplicate: fail closed).
 */
export const MAX_HELD_VERDICTS = 1024;

/**
 * The translation every adapter shares: one conversation's calls through one guard session. Frameworks split a call
 * into "may it run?" (an approval hook) and "run it" (execute); the gate keeps the verdict of the first for the second,
 * so each call is decided once and its legs are reserved once.
 */
export class CallGate {
  readonly guard: Guard;
  readonly sessionId: string;
  /** Verdicts handed from the approval hook to execution, by call id, each bound to its call. */
  readonly #verdicts = new Map<string, Held>();
  /** Approval requests created here and not yet shown to a person through the framework. */
  readonly #unshown = new Set<string>();

  constructor(guard: Guard, sessionId: string) {
    this.guard = guard;
    this.sessionId = sessionId;
  }

  /**
   * The verdict held for a call decided earlier and not run yet, if any. A verdict held under the call's id for another
   * tool or other arguments is not this call's: the call is denied, and the verdict stays for the call it was for.
   */
  held(call: ToolCall): Verdict | undefined {
    return this.#lookup(call)?.verdict;
  }

  #lookup(call: ToolCall): { verdict: Verdict; own: boolean } | undefined {
    const held = this.#verdicts.get(call.id);
    if (!held) return undefined;
    // INVARIANT: a verdict runs only the exact call it was decided for; a call reusing its id, or the same call with
    // arguments changed after the hook decided, is denied (test/adapters/held-verdicts.test.ts; the binding agrees with
    // canonical JSON equality: test/adapters/binding.test.ts).
    if (isBoundTo(held.call, call)) return { verdict: held.verdict, own: true };
    return { verdict: otherCall(call), own: false };
  }

  /**
   * Decides a call once: allow (legs reserved), deny, or ask. `shown` says the framework puts an `ask` before a person
   * now (its approval flow pauses); only such requests can later be approved through the framework.
   */
  async decide(call: ToolCall, options: { shown?: boolean } = {}): Promise<Verdict> {
    const known = this.#lookup(call);
    if (known) return known.verdict;
    // INVARIANT: the verdict is bound to the arguments the guard decided on: they are bound first and the guard decides
    // on the binding's own copy, so a change to the caller's object while the guard decides does not pass
    // (test/adapters/held-verdicts.test.ts "change while the guard is deciding").
    const binding = bindCall(call);
    let verdict: Verdict;
    try {
      verdict = await this.#decideOnce(boundCall(binding, call));
    } catch (error) {
      // INVARIANT: an adapter error denies (test/adapters/gate.test.ts "store failure denies").
      verdict = { effect: 'deny', message: deniedText(call.tool, `guard error: ${errorText(error)}`) };
    }
    if (verdict.effect === 'ask') {
      if (options.shown) this.#unshown.delete(verdict.request.id);
    } else {
      // INVARIANT: the verdicts held stay bounded (test/adapters/gate.test.ts "forgets the oldest verdicts").
      this.#verdicts.set(call.id, { verdict, call: binding });
      if (this.#verdicts.size > MAX_HELD_VERDICTS) this.#verdicts.delete(this.#verdicts.keys().next().value as string);
    }
    return verdict;
  }

  async #decideOnce(call: ToolCall): Promise<Verdict> {
    const earlier = await this.guard.approvalFor(this.sessionId, call.id);
    if (earlier) {
      const { request, status } = earlier;
      if (status === 'pending' || (status === 'approved' && earlier.usedAt === undefined)) {
        return { effect: 'ask', request, message: askText(request) };
      }
      // INVARIANT: an approval resumes its call once; a replay is refused, and the guard audits the refusal because
      // the spent receipt is presented to it (test/adapters/conformance.ts "replay").
      const receipt = { requestId: request.id, hash: request.hash };
      const decision = await this.guard.check(this.sessionId, call, { receipt });
      return { effect: 'deny', decision, message: deniedText(call.tool, reasonText(decision.reasons)) };
    }
    const decision = await this.guard.check(this.sessionId, call);
    if (decision.effect === 'allow') return { effect: 'allow', decision };
    if (decision.effect === 'ask' && decision.approval) {
      this.#unshown.add(decision.approval.id);
      return { effect: 'ask', request: decision.approval, message: askText(decision.approval) };
    }
    return { effect: 'deny', decision, message: deniedText(call.tool, reasonText(decision.reasons)) };
  }

  /**
   * The final verdict for a call about to run: allow or deny. An `ask` is settled by the person's answer given through
   * the framework; without one, or for a request no person was shown, it is denied.
   */
  settle(call: ToolCall, answerOf?: () => ApprovalAnswer | undefined): Promise<Verdict> {
    return this.#settle(call, bindCall(call), answerOf);
  }

  async #settle(
    call: ToolCall,
    binding: CallBinding,
    answerOf: (() => ApprovalAnswer | undefined) | undefined,
  ): Promise<Verdict> {
    const verdict = await this.decide(call);
    // A verdict held for another call under this id stays for that call.
    if (this.#lookup(call)?.own) this.#verdicts.delete(call.id);
    if (verdict.effect !== 'ask') return verdict;
    const { request } = verdict;
    try {
      const answer = answerOf?.();
      if (!answer || this.#unshown.has(request.id)) {
        // INVARIANT: a standing framework approval never stands in for a person; the request is closed as denied so
        // no later answer can revive it (test/adapters/openai-agents.test.ts "always-approve").
        this.#unshown.delete(request.id);
        await this.guard.answer(request.id, { approved: false, by: 'ruleoftwo', reason: 'no person was asked' });
        return {
          effect: 'deny',
          message: deniedText(call.tool, `it needs a person's approval: ${reasonText(request.reasons)}`),
        };
      }
      const receipt = await this.guard.answer(request.id, answer);
      if (!receipt) {
        const why = answer.approved ? `approval \`${request.id}\` is no longer valid` : 'a person declined it';
        return { effect: 'deny', message: deniedText(call.tool, why + (answer.reason ? `: ${answer.reason}` : '')) };
      }
      const decision = await this.guard.check(this.sessionId, boundCall(binding, call), { receipt });
      if (decision.effect === 'allow')
        return isBoundTo(binding, call) ? { effect: 'allow', decision } : otherCall(call);
      return { effect: 'deny', decision, message: deniedText(call.tool, reasonText(decision.reasons)) };
    } catch (error) {
      return { effect: 'deny', message: deniedText(call.tool, `guard error: ${errorText(error)}`) };
    }
  }

  /** Settles a call and, when allowed, runs it and records its output; otherwise returns the message for the model. */
  async run<R>(call: ToolCall, execute: () => R | Promise<R>, options: RunOptions<R> = {}): Promise<RunOutcome<R>> {
    // The common path: the approval hook allowed or denied the call; settling it again would only cost time.
    const held = this.#lookup(call);
    if (held?.own) this.#verdicts.delete(call.id);
    let verdict = held?.verdict;
    if (verdict === undefined) {
      const binding = bindCall(call);
      verdict = await this.#settle(call, binding, options.answer);
      // INVARIANT: a call settled here runs only with the arguments it was settled for: checked again after the last
      // await, as it is about to run (test/adapters/held-verdicts.test.ts "change while an approval is settled").
      if (verdict.effect === 'allow' && !isBoundTo(binding, call)) verdict = otherCall(call);
    }
    if (verdict.effect !== 'allow') return { ok: false, message: verdict.message };
    let output: R;
    try {
      output = await execute();
    } catch (error) {
      // The error text enters the model's context like an output would.
      const recorded = await this.record(call.id, { error: errorText(error) });
      // INVARIANT: nor does the error text of a call whose legs were not recorded reach the model
      // (test/adapters/ai-sdk.test.ts "withholds the error text of a tool that threw").
      if (!recorded.ok) throw new Error(recorded.message);
      throw error;
    }
    const recorded = await this.record(call.id, options.recordAs ? options.recordAs(output) : output);
    if (!recorded.ok) return { ok: false, message: recorded.message };
    if (!recorded.changed) return { ok: true, output };
    // INVARIANT: items that author lineage removed never reach the model (test/adapters/gate.test.ts "lineage").
    if (options.recordAs) {
      const why = 'author lineage removed items by untrusted authors, and this output cannot be filtered';
      return { ok: false, message: `ruleoftwo withheld the output of call \`${call.id}\`: ${why}` };
    }
    return { ok: true, output: recorded.output as R };
  }

  /**
   * Audits a refusal given in the framework's own approval flow for a call that will not run. A pending approval
   * request of the guard is answered as declined; a call the guard allowed (the framework asked on its own account)
   * is recorded with the refusal as its output, which releases its reservation into the session's legs.
   */
  async decline(callId: string, answer: { by: string; reason?: string | undefined }): Promise<void> {
    const verdict = this.#verdicts.get(callId)?.verdict;
    this.#verdicts.delete(callId);
    try {
      const earlier = await this.guard.approvalFor(this.sessionId, callId);
      if (earlier?.status === 'pending') {
        this.#unshown.delete(earlier.request.id);
        const declined: ApprovalAnswer = { approved: false, by: answer.by };
        if (answer.reason !== undefined) declined.reason = answer.reason;
        await this.guard.answer(earlier.request.id, declined);
        return;
      }
      const pending = (await this.guard.view(this.sessionId))?.pending.find((p) => p.callId === callId);
      if (verdict?.effect !== 'allow' && !pending) return;
      const tool = pending?.tool ?? (verdict?.effect === 'allow' ? verdict.decision.tool : '');
      const why = answer.reason === undefined ? '' : `: ${answer.reason}`;
      await this.record(callId, `\`${tool}\` was not run: declined by ${answer.by}${why}`);
    } catch {
      // The call does not run either way. A store that failed here leaves the request pending (it expires, never
      // approved) or the legs reserved: the session stays as restricted as if the call had run.
    }
  }

  /**
   * Records the output of an allowed call and says what the model may see: the output, the output with items by
   * untrusted authors removed (`changed`), or a message instead: an output whose legs the guard could not record must
   * not reach the model.
   */
  async record(callId: string, output: unknown): Promise<Recorded> {
    this.#verdicts.delete(callId);
    try {
      const outcome = await this.guard.record(this.sessionId, callId, output);
      if (outcome.ok) return { ok: true, output: outcome.output, changed: outcome.output !== output };
      return { ok: false, message: `ruleoftwo withheld the output of call \`${callId}\`: ${outcome.message}` };
    } catch (error) {
      return { ok: false, message: `ruleoftwo withheld the output of call \`${callId}\`: ${errorText(error)}` };
    }
  }
}

/** The verdict for a call that is not the one a verdict was decided for under its id. */
function otherCall(call: ToolCall): Verdict {
  const why = `call id \`${call.id}\` was decided for another call (another tool or other arguments)`;
  return { effect: 'deny', message: deniedText(call.tool, why) };
}

/** The text shown with an approval request: what is gated and why. */
export function askText(request: ApprovalRequest): string {
  return `ruleoftwo needs a person to approve \`${request.tool}\`: ${reasonText(request.reasons)}`;
}
