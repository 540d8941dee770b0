import type { Command } from './args.js';

/**
 * Every subcommand by name, loaded on demand: a command imports only what it uses, so `verify`
 * does not pay for Vega, onnxruntime or node-llama-cpp at start. The order is that of `--help`.
 */
export const commandIndex: { name: string; load: () => Promise<Command> }[] = [
  { name: 'demo', load: async () => (await import('./demo.js')).demoCommand },
  { name: 'init', load: async () => (await import('./init.js')).initCommand },
  { name: 'loop', load: async () => (await import('./loop.js')).loopCommand },
  { name: 'eval', load: async () => (await import('./eval.js')).evalCommand },
  { name: 'search', load: async () => (await import('./search.js')).searchCommand },
  { name: 'train-prm', load: async () => (await import('./train-prm.js')).trainPrmCommand },
  { name: 'allocate', load: async () => (await import('./allocate.js')).allocateCommand },
  { name: 'train-lm', load: async () => (await import('./train-lm.js')).trainLmCommand },
  { name: 'sample', load: async () => (await import('./sample.js')).sampleCommand },
  { name: 'report', load: async () => (await import('./report.js')).reportCommand },
  { name: 'verify', load: async () => (await import('./verify.js')).verifyCommand },
  { name: 'bench', load: async () => (await import('./bench.js')).benchCommand },
  { name: 'serve', load: async () => (await import('./serve.js')).serveCommand },
  { name: 'export', load: async () => (await import('./export.js')).exportCommand },
  { name: 'export-data', load: async () => (await import('./export-data.js')).exportDataCommand },
];
