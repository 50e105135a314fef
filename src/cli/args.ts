import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.ts';
import { type CliIo, UsageError } from './io.ts';

type Options = Record<string, { type: 'string' | 'boolean'; short?: string }>;

/** Parses options with node:util, turning its errors into usage errors. */
export function parseCommandArgs(args: string[], options: Options, positionals: number) {
  let parsed: ReturnType<typeof parseArgs<{ options: Options; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]?.replace(/\.$/, '').toLowerCase() ?? 'bad options');
  }
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(`expected ${positionals} argument(s), got ${parsed.positionals.length}`);
  }
  return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
}

/** The absolute path of a file that must exist; a database is never created by a reading command. */
export function existingFile(file: string, io: CliIo): string {
  const path = resolve(io.cwd, file);
  if (!existsSync(path)) throw new ConfigError(`no such file \`${file}\``);
  return path;
}
