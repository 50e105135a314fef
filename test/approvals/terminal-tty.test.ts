import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/** Runs the child under `script`, which gives it a real pseudo-terminal as its controlling terminal. */
function underTerminal(answer: string): Promise<string> {
  const command = `${process.execPath} test/fixtures/tty/approve.ts`;
  const child = spawn('script', ['-qec', command, '/dev/null'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
  let screen = '';
  let answered = false;
  child.stderr.on('data', (chunk: Buffer) => (screen += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no answer; screen so far:\n${screen}`));
    }, 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      screen += chunk.toString();
      if (screen.includes('[no]: ') && !answered) {
        answered = true;
        child.stdin.write(`${answer}\r`);
      }
      // `script` outlives its child while its own input is open: stop it once the child has reported.
      if (/EFFECT=\w+/.test(screen)) {
        clearTimeout(timer);
        child.kill();
        resolve(screen);
      }
    });
  });
}

describe('terminal approver on a real terminal', () => {
  it('prompts on /dev/tty and approves only a typed `yes`', async () => {
    const approved = await underTerminal('yes');
    expect(approved).toContain('wants to call `send_email`');
    expect(approved).toContain('EFFECT=allow');
    const declined = await underTerminal('y');
    expect(declined).toContain('EFFECT=deny');
  });
});
