import type { Command } from './args.js';

/** Every subcommand, one file each; the order is the order of `searchlearn --help`. */
export const commands: Command[] = [];
