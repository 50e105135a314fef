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
    throw new UsageError(optionProblem(error as NodeJS.ErrnoException));
  }
  if (parsed.positionals.length !== positionals) {
    throw new UsageError(`expected ${positionals} argument(s), got ${parsed.positionals.length}`);
  }
  return { values: parsed.values as Record<string, string | boolean | undefined>, positionals: parsed.positionals };
}

/** node:util's parse error in this CLI's style: `unknown option \`--frmat\``, not its advice on positionals. */
function optionProblem(error: NodeJS.ErrnoException): string {
  const option = /'(-[^']*?)(?: <value>)?'/.exec(error.message)?.[1];
  if (option !== undefined && error.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option \`${option}\``;
  if (option !== undefined && error.message.endsWith('argument missing')) return `option \`${option}\` needs a value`;
  if (option !== undefined && error.message.endsWith('does not take an argument')) {
    return `option \`${option}\` takes no value`;
  }
  return error.message.split('\n')[0]?.replace(/\.$/, '').toLowerCase() ?? 'bad options';
}

/** The absolute path of a file that must exist; a database is never created by a reading command. */
export function existingFile(file: string, io: CliIo): string {
  const path = resolve(io.cwd, file);
  if (!existsSync(path)) throw new ConfigError(`no such file \`${file}\``);
  return path;
}
