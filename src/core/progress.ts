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
