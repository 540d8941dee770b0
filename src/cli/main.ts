#!/usr/bin/env node
import { UserError } from '../core/errors.js';
import { type Command } from './args.js';
import { CliError } from './args.js';
import { commands } from './commands.js';

function help(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    'searchlearn: search and learning for reasoning (arXiv 2412.14135)',
    '',
    'usage: searchlearn <command> [options]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'searchlearn <command> --help shows a command\'s options.',
  ].join('\n');
}

async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(help());
    return;
  }
  const command: Command | undefined = commands.find((c) => c.name === name);
  if (!command) {
    throw new CliError(`unknown command "${name}" (commands: ${commands.map((c) => c.name).join(', ')})`);
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(`usage: searchlearn ${command.usage}\n\n${command.summary}`);
    return;
  }
  await command.run(rest);
}

main(process.argv.slice(2)).then(
  () => {
    // Native thread pools (onnxruntime) can keep the event loop alive; exit explicitly.
    process.exit(process.exitCode ?? 0);
  },
  (e: unknown) => {
    if (e instanceof UserError) {
      console.error(`searchlearn: ${e.message}`);
      process.exit(2);
    }
    console.error(`searchlearn: ${(e as Error)?.stack ?? String(e)}`);
    process.exit(1);
  },
);
