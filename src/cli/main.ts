import * as fs from 'node:fs';
import * as path from 'node:path';
import { FormatError } from '../core/constitution/formats/index.js';
import { CliError, UsageError } from './args.js';
import { COMMANDS, packageRoot } from './commands.js';

/**
 * `cai`: Constitution Studio on the command line. Exit codes: 0 success, 1 problems found or
 * the operation failed, 2 the command was called wrongly or a path could not be read.
 */
function help(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'cai — Constitution Studio command line',
    '',
    'usage: cai COMMAND [ARGS]',
    '',
    ...Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    'cai help COMMAND shows how to call a command.',
  ].join('\n');
}

function version(): string {
  try {
    return JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')).version as string;
  } catch {
    return 'unknown';
  }
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h') {
    process.stdout.write(`${help()}\n`);
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  if (name === 'help') {
    const c = rest[0] ? COMMANDS[rest[0]] : undefined;
    if (rest[0] && !c) throw new UsageError(`unknown command '${rest[0]}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
    process.stdout.write(`${c ? `${c.summary}\nusage: ${c.usage}` : help()}\n`);
    return 0;
  }
  const cmd = COMMANDS[name];
  if (!cmd) throw new UsageError(`unknown command '${name}' (commands: ${Object.keys(COMMANDS).join(', ')})`);
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.summary}\nusage: ${cmd.usage}\n`);
    return 0;
  }
  return cmd.run(rest, process.cwd());
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`cai: ${e.message}\n`);
      process.exitCode = 2;
    } else if (e instanceof CliError) {
      process.stderr.write(`cai: ${e.message}\n`);
      process.exitCode = e.exitCode;
    } else if (e instanceof FormatError) {
      process.stderr.write(`cai: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      // a bug: say so plainly, with the stack only when asked for
      process.stderr.write(`cai: internal error: ${(e as Error)?.message ?? String(e)}${process.env.CAI_DEBUG ? `\n${(e as Error)?.stack ?? ''}` : ' (set CAI_DEBUG=1 for details)'}\n`);
      process.exitCode = 70;
    }
  },
);
