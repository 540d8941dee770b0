import { allocateCommand } from './allocate.js';
import type { Command } from './args.js';
import { benchCommand } from './bench.js';
import { demoCommand } from './demo.js';
import { evalCommand } from './eval.js';
import { exportDataCommand } from './export-data.js';
import { exportCommand } from './export.js';
import { initCommand } from './init.js';
import { loopCommand } from './loop.js';
import { reportCommand } from './report.js';
import { sampleCommand } from './sample.js';
import { searchCommand } from './search.js';
import { serveCommand } from './serve.js';
import { trainLmCommand } from './train-lm.js';
import { trainPrmCommand } from './train-prm.js';
import { verifyCommand } from './verify.js';

/** Every subcommand, one file each; the order is the order of `searchlearn --help`. */
export const commands: Command[] = [demoCommand, initCommand, loopCommand, evalCommand, searchCommand, trainPrmCommand, allocateCommand, trainLmCommand, sampleCommand, reportCommand, verifyCommand, benchCommand, serveCommand, exportCommand, exportDataCommand];
