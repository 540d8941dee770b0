#!/usr/bin/env node
import { UserError } from '../core/errors.js';
import { type Command } from './args.js';
import { CliError } from './args.js';
import { commandIndex } from './command-index.js';

async function help(): Promise<string> {
  const { commands } = await import('./commands.js');
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
    console.log(await help());
    return;
  }
  const entry = commandIndex.find((c) => c.name === name);
  if (!entry) {
    throw new CliError(`unknown command "${name}" (commands: ${commandIndex.map((c) => c.name).join(', ')})`);
  }
  const asksHelp = rest.includes('--help') || rest.includes('-h');
  if (entry.engine && !asksHelp) {
    const { onGlibc, relaunch, relaunchPlan } = await import('./relaunch.js');
    const plan = relaunchPlan(process.env, process.platform, process.platform === 'linux' && onGlibc(), process.execArgv);
    if (plan) {
      process.exitCode = await relaunch(plan.env, process.argv.slice(1), plan.execArgv);
      return;
    }
  }
  const command: Command = await entry.load();
  if (asksHelp) {
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
