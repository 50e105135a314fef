/**
 * What a verdict held between a framework's approval hook and execution is bound to: the call's tool and its arguments
 * as data, equal exactly when their canonical JSON is equal. Writing canonical JSON twice per call (when the verdict is
 * held and when it is taken) was a third of an adapter's cost; a private copy taken when held and compared in place
 * when taken gives the same answer for plain data at a fraction of it.
 */
import { canonicalJson } from '../core/canonical.ts';
import type { ToolCall } from '../core/decide.ts';
import { copyPlain, NOT_PLAIN } from '../guard/copy.ts';

/** A call as it was when its verdict was held. */
export interface CallBinding {
  tool: string;
  /** A private copy of the arguments, when they are plain data; {@link NOT_PLAIN} otherwise. */
  copy: unknown;
  /** The canonical JSON of the arguments when they are not plain data; undefined when they are not JSON either. */
  key: string | undefined;
}

/** Binds a verdict to the call as it is now: later changes to the caller's arguments do not reach the binding. */
export function bindCall(call: ToolCall): CallBinding {
  const args = call.args ?? null;
  let copy: unknown = NOT_PLAIN;
  try {
    copy = copyPlain(args);
  } catch {
    // A getter or a proxy that throws: not plain, and canonical JSON will not write it either.
  }
  return { tool: call.tool, copy, key: copy === NOT_PLAIN ? argumentsKey(args) : undefined };
}

/**
 * The call as bound: its arguments are the binding's own (the plain copy, or parsed back from canonical JSON), which
 * nothing outside the binding can change. Deciding on it, the guard decides exactly what the binding holds.
 */
export function boundCall(binding: CallBinding, call: ToolCall): ToolCall {
  if (binding.copy !== NOT_PLAIN) return { ...call, args: binding.copy };
  // Arguments that are not JSON are decided as they are: their binding matches no call.
  return binding.key === undefined ? call : { ...call, args: JSON.parse(binding.key) };
}

/** Whether `call` is the call `binding` was made for: the same tool, and arguments equal to it as JSON data. */
export function isBoundTo(binding: CallBinding, call: ToolCall): boolean {
  if (binding.tool !== call.tool) return false;
  const args = call.args ?? null;
  if (binding.copy === NOT_PLAIN) return binding.key !== undefined && binding.key === argumentsKey(args);
  try {
    return sameJson(binding.copy, args);
  } catch {
    // A getter or a proxy that throws: canonical JSON would not write it, so it equals nothing.
    return false;
  }
}

function argumentsKey(args: unknown): string | undefined {
  try {
    return canonicalJson(args);
  } catch {
    return undefined;
  }
}

/**
 * Whether `value` has the same canonical JSON as `copy`, a plain copy ({@link copyPlain}), both being writable: the
 * same primitives (`-0` equals `0`; a non-finite number, a bigint or `undefined` equals nothing), arrays by index
 * (a hole or an `undefined` element equals nothing), objects with the `Object` prototype or none by their own
 * enumerable keys, in any order, keys whose value is `undefined` left out. It recurses along `copy`, which is finite,
 * so a cycle in `value` ends in a mismatch as canonical JSON refuses it. Reads each property of `value` once.
 */
export function sameJson(copy: unknown, value: unknown): boolean {
  if (typeof value !== 'object' || value === null) {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return copy === value;
      case 'number':
        return Number.isFinite(value) && copy === value;
      default:
        return value === null && copy === null;
    }
  }
  if (typeof copy !== 'object' || copy === null) return false;
  if (Array.isArray(value)) {
    if (!Array.isArray(copy) || copy.length !== value.length) return false;
    // A hole reads as undefined, which equals nothing.
    for (let i = 0; i < value.length; i++) if (!sameJson(copy[i], value[i])) return false;
    return true;
  }
  if (Array.isArray(copy)) return false;
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return false;
  const mine = copy as Record<string, unknown>;
  let matched = 0;
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined) continue;
    if (!Object.hasOwn(mine, key) || !sameJson(mine[key], item)) return false;
    matched++;
  }
  // Every key of the copy with a value was matched: none was removed from `value`.
  let defined = 0;
  for (const key of Object.keys(mine)) if (mine[key] !== undefined) defined++;
  return matched === defined;
}
