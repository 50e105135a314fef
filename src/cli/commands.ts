import type { Command } from './io.ts';

/** Every subcommand, loaded on demand so `ruleoftwo check` does not load the gateway. */
export const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  validate: { summary: 'validate a policy file', load: async () => (await import('./commands/validate.ts')).validate },
};
