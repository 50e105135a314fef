import { describe, expect, it } from 'vitest';
import { playEmailBot } from '../../src/demo/email-bot.ts';
import { cli } from './run-cli.ts';

describe('demo', () => {
  it('the attack succeeds without the guard and is stopped under every configuration', async () => {
    const unguarded = await playEmailBot();
    expect(unguarded.leaked).toHaveLength(1);
    expect(unguarded.leaked[0]?.body).toContain('Revenue 4.2M');
    for (const configuration of ['dynamic', 'AB', 'AC', 'BC'] as const) {
      const run = await playEmailBot(configuration);
      expect(run.leaked, configuration).toEqual([]);
      const exfil = run.steps.find((s) => s.tool === 'send_email' && s.args.to === 'exfil@evil.test');
      if (exfil) expect(exfil.ran, configuration).toBe(false);
    }
  });

  it('the benign summary still reaches the user where the configuration allows reading mail', async () => {
    expect((await playEmailBot('dynamic')).summarized).toBe(true);
    expect((await playEmailBot('AB')).summarized).toBe(true);
    expect((await playEmailBot('BC')).summarized).toBe(true);
    expect((await playEmailBot('AC')).summarized).toBe(false);
  });

  it('prints each run with its reasons and what the approver saw', async () => {
    const result = await cli(['demo']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('ATTACK SUCCEEDED: 1 email(s) with private mail reached the attacker');
    expect(result.stdout.match(/attack stopped: the attacker received nothing/g)).toHaveLength(4);
    expect(result.stdout).toContain('rule 3: `send_email` is consequential (C) while the session holds AB');
    expect(result.stdout).toContain('rule 2: configuration AC excludes leg B of `read_inbox`');
    expect(result.stdout).toContain('rule 2: configuration BC excludes leg A of `read_inbox`');
    expect(result.stdout).toContain('evidence: A from result of `read_inbox`');
  });
});
