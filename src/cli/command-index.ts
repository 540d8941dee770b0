import type { Command } from './args.js';

/**
 * Every subcommand by name, loaded on demand: a command imports only what it uses, so `verify`
 * does not pay for Vega, onnxruntime or node-llama-cpp at start. The order is that of `--help`.
 * `engine`: the command may train or sample with the built-in model, so it runs with the
 * allocator settings of relaunch.ts (glibc malloc tunables, V8's initial old-space size).
 */
export const commandIndex: { name: string; load: () => Promise<Command>; engine?: true }[] = [
  { name: 'demo', load: async () => (await import('./demo.js')).demoCommand, engine: true },
  { name: 'init', load: async () => (await import('./init.js')).initCommand, engine: true },
  { name: 'loop', load: async () => (await import('./loop.js')).loopCommand, engine: true },
  { name: 'eval', load: async () => (await import('./eval.js')).evalCommand, engine: true },
  { name: 'search', load: async () => (await import('./search.js')).searchCommand, engine: true },
  { name: 'train-prm', load: async () => (await import('./train-prm.js')).trainPrmCommand, engine: true },
  { name: 'allocate', load: async () => (await import('./allocate.js')).allocateCommand, engine: true },
  { name: 'train-lm', load: async () => (await import('./train-lm.js')).trainLmCommand, engine: true },
  { name: 'sample', load: async () => (await import('./sample.js')).sampleCommand, engine: true },
  { name: 'report', load: async () => (await import('./report.js')).reportCommand },
  { name: 'verify', load: async () => (await import('./verify.js')).verifyCommand },
  { name: 'bench', load: async () => (await import('./bench.js')).benchCommand, engine: true },
  { name: 'serve', load: async () => (await import('./serve.js')).serveCommand, engine: true },
  { name: 'export', load: async () => (await import('./export.js')).exportCommand },
  { name: 'export-data', load: async () => (await import('./export-data.js')).exportDataCommand },
];
