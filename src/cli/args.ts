import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { UsageError } from './io.ts';

/** Parses a command's arguments (positionals allowed); a malformed option is a usage error. */
export function parseCommandArgs<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args, allowPositionals: true, options, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
