export * from './task.js';
export * from './behaviours.js';
export * from './arith.js';
export * from './countdown.js';
export { solveCountdown, toExpression, type CountdownOp, type CountdownStep } from './countdown-solve.js';
export * from './dataset.js';
export * from './registry.js';
export { splitOf } from './split.js';
export { lastAnswerLine, verifyIntegerAnswer } from './answer.js';
