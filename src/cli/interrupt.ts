/**
 * Ctrl-C handling for long commands: the first SIGINT asks the work to stop after the current
 * step (so it can save), a second one exits at once.
 */
export function onInterrupt(): { requested: () => boolean; dispose: () => void } {
  let count = 0;
  const handler = (): void => {
    count++;
    if (count === 1) process.stderr.write('\ninterrupt: stopping after this step and saving (Ctrl-C again to quit now)\n');
    else process.exit(130);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    requested: () => count > 0,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}
