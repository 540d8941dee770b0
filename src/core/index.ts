export * from './problem.js';
export * from './compute.js';
export * from './rng.js';
export * from './trajectory.js';
export * from './progress.js';
export * from './errors.js';
