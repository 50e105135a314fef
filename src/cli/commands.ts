import type { Command } from './io.ts';

/** Every subcommand, loaded on demand so `ruleoftwo check` does not load the gateway. */
export const commands: Record<string, { summary: string; load: () => Promise<Command> }> = {
  check: { summary: 'static analysis of a policy', load: async () => (await import('./commands/check.ts')).check },
  demo: {
    summary: 'the Email-Bot attack, with and without the guard',
    load: async () => (await import('./commands/demo.ts')).demo,
  },
  eval: {
    summary: 'run an attack-scenario suite with and without the refinements',
    load: async () => (await import('./commands/eval.ts')).evaluate,
  },
  gateway: { summary: 'run the MCP gateway', load: async () => (await import('./commands/gateway.ts')).gateway },
  lineage: {
    summary: 'mark an author or item trusted for author lineage',
    load: async () => (await import('./commands/lineage.ts')).lineage,
  },
  replay: {
    summary: 'replay a trace through the engine',
    load: async () => (await import('./commands/replay.ts')).replay,
  },
  tools: {
    summary: 'review and approve MCP tool definitions',
    load: async () => (await import('./commands/tools.ts')).tools,
  },
  validate: { summary: 'validate a policy file', load: async () => (await import('./commands/validate.ts')).validate },
  audit: {
    summary: 'verify, tail, export or summarize an audit log',
    load: async () => (await import('./commands/audit.ts')).audit,
  },
  approvals: {
    summary: 'list, approve or deny approval requests',
    load: async () => (await import('./commands/approvals.ts')).approvals,
  },
};
