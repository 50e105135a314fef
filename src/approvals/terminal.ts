import { createReadStream, createWriteStream } from 'node:fs';
import { createInterface } from 'node:readline/promises';
import type { Readable, Writable } from 'node:stream';
import type { ApprovalAnswer } from '../store/types.ts';
import { formatApprovalRequest } from './format.ts';
import type { Approver } from './types.ts';

/** Options of {@link terminalApprover}; by default it talks to the controlling terminal (`/dev/tty`). */
export interface TerminalApproverOptions {
  input?: Readable;
  output?: Writable;
  /** Name recorded as the approver; defaults to `terminal`. */
  by?: string;
}

/**
 * An approver that shows each request on a terminal and waits for a typed answer. Only the full word `yes`
 * approves; anything else, an empty line, end of input or an abort denies, so a reflexive Enter cannot approve.
 */
export function terminalApprover(options: TerminalApproverOptions = {}): Approver {
  return async (request, { signal }): Promise<ApprovalAnswer> => {
    const input = options.input ?? createReadStream('/dev/tty');
    const output = options.output ?? createWriteStream('/dev/tty');
    const rl = createInterface({ input, output, terminal: false });
    try {
      output.write(`\n${formatApprovalRequest(request)}\n`);
      const closed = new Promise<string>((resolve) => rl.once('close', () => resolve('')));
      const answer = await Promise.race([
        rl.question('approve this call? type `yes` to approve [no]: ', { signal }),
        closed,
      ]);
      const approved = answer.trim().toLowerCase() === 'yes';
      output.write(approved ? 'approved\n' : 'not approved\n');
      return { approved, by: options.by ?? 'terminal' };
    } finally {
      rl.close();
      if (!options.input) input.destroy();
      if (!options.output) output.end();
    }
  };
}
