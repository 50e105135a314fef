import { type ChildProcess, fork } from 'node:child_process';
import { join } from 'node:path';
import type { PolicyDocument } from '../../src/core/document.ts';

/** A guard in another process on the same SQLite file (`children/peer.ts`), one step at a time. */
export interface Peer {
  /** Runs one guard method there and resolves with its result; rejects with the error it threw. */
  call<T>(op: 'session' | 'check' | 'record' | 'answer' | 'lock' | 'unlock', ...args: unknown[]): Promise<T>;
  /** Closes its guard (and stores) and waits for the process to exit. */
  close(): Promise<void>;
}

/** Starts a peer process and waits until its stores are open. */
export async function startPeer(path: string, tag: string, policy: PolicyDocument): Promise<Peer> {
  const child: ChildProcess = fork(
    join(import.meta.dirname, 'children', 'peer.ts'),
    [path, tag, JSON.stringify(policy)],
    {
      execPath: process.execPath,
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  const waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  exited.then(() => {
    for (const w of waiting.values()) w.reject(new Error(`peer \`${tag}\` exited: ${stderr}`));
  });
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    exited.then(() => reject(new Error(`peer \`${tag}\` did not start: ${stderr}`)));
  });
  child.on('message', (message: { n: number; ok: boolean; result?: unknown; error?: string }) => {
    const w = waiting.get(message.n);
    waiting.delete(message.n);
    if (message.ok) w?.resolve(message.result);
    else w?.reject(new Error(message.error));
  });
  let n = 0;
  const step = (op: string, args: unknown[]) =>
    new Promise<unknown>((resolve, reject) => {
      const id = ++n;
      waiting.set(id, { resolve, reject });
      child.send({ n: id, op, args });
    });
  return {
    call: async <T>(op: string, ...args: unknown[]) => (await step(op, args)) as T,
    close: async () => {
      if (child.exitCode === null) await step('close', []);
      await exited;
    },
  };
}
