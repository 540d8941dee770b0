/**
 * A progress bar on stderr with rate and ETA: redrawn in place on a terminal, printed as a
 * line at most every `intervalMs` otherwise (logs, CI), and always at the end.
 */
export class Progress {
  private readonly start = performance.now();
  private lastDraw = 0;
  private readonly tty: boolean;

  constructor(
    private readonly label: string,
    private total: number,
    private readonly unit = 'it',
    private readonly intervalMs = process.stderr.isTTY ? 100 : 5000,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {
    this.tty = Boolean(stream.isTTY);
  }

  /** Reports `done` of `total`, with extra fields (e.g. loss, tokens/s). */
  update(done: number, fields: Record<string, string | number> = {}, force = false): void {
    const now = performance.now();
    if (!force && now - this.lastDraw < this.intervalMs && done < this.total) return;
    this.lastDraw = now;
    const elapsed = (now - this.start) / 1000;
    // A bar whose first event already counts work done before it existed would show a rate of
    // thousands per second: no rate until a quarter second has passed.
    const rate = elapsed >= 0.25 ? done / elapsed : NaN;
    const eta = rate > 0 ? (this.total - done) / rate : Infinity;
    const width = 24;
    const filled = Math.round((width * Math.min(done, this.total)) / Math.max(this.total, 1));
    const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
    const extra = Object.entries(fields).map(([k, v]) => `${k} ${typeof v === 'number' ? fmt(v) : v}`).join('  ');
    const line = `${this.label} [${bar}] ${done}/${this.total}  ${fmt(rate)} ${this.unit}/s  ETA ${clock(eta)}  ${extra}`;
    if (this.tty) this.stream.write(`\r\x1b[K${line}`);
    else this.stream.write(`${line}\n`);
  }

  /** A total learned on the way (a learner that knows its step count only once its data is batched). */
  setTotal(total: number): void {
    this.total = total;
  }

  done(fields: Record<string, string | number> = {}): void {
    this.update(this.total, fields, true);
    if (this.tty) this.stream.write('\n');
  }
}

function fmt(v: number): string {
  if (Number.isNaN(v)) return '--';
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1e4) return `${(v / 1000).toFixed(1)}k`;
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

export function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

/**
 * Draws library progress events (core/progress.ts) as one bar per stage: a new stage name
 * starts a new bar, `done === total` closes it, and a stage's later events may change its total.
 */
export function progressPrinter(prefix = ''): (e: import('../core/progress.js').ProgressEvent) => void {
  let current: { stage: string; bar: Progress } | null = null;
  return (e) => {
    if (!current || current.stage !== e.stage) current = { stage: e.stage, bar: new Progress(`${prefix}${e.stage}`, e.total, e.unit) };
    else current.bar.setTotal(e.total);
    if (e.done >= e.total) {
      current.bar.done(e.fields);
      current = null;
    } else current.bar.update(e.done, e.fields);
  };
}
