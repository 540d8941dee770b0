import type { Command } from './args.js';
import { commandIndex } from './command-index.js';

/** Every subcommand, loaded (for `--help` and tests); `main` loads only the one it runs. */
export const commands: Command[] = await Promise.all(commandIndex.map((c) => c.load()));
