/**
 * Progress of long library work (training, search over many problems, a loop iteration), as
 * events: the library reports, the command line draws (a bar with rate and ETA), a server or a
 * test may ignore them. `done` counts `unit`s of `total` in the named stage.
 */
export interface ProgressEvent {
  stage: string;
  done: number;
  total: number;
  unit: string;
  /** Extra figures to show beside the bar (loss, tokens/s, accuracy). */
  fields?: Record<string, string | number>;
}

export type OnProgress = (e: ProgressEvent) => void;

/**
 * Lets the event loop run once between synchronous steps of long work (a training step is one
 * synchronous call): timers, I/O and signal handlers run on the event loop, so without a turn a
 * Ctrl-C (whose handler asks the work to stop) waits for the whole phase to end.
 */
export function yieldTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
