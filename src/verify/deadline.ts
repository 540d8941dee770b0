/**
 * A time budget for one verification. JavaScript cannot interrupt a running function, so
 * the verifier checks the budget between steps (candidate answers, set elements, sample
 * points) and bounds the cost of each step instead (input length, nesting depth, sizes of
 * factorials and binomials); together these keep a pathological input within the budget.
 */
export class TimeoutError extends Error {}

export class Deadline {
  private readonly end: number;

  constructor(readonly ms: number) {
    this.end = Date.now() + ms;
  }

  /** Throws TimeoutError once the budget is spent. */
  check(): void {
    if (Date.now() > this.end) throw new TimeoutError(`timed out after ${this.ms} ms`);
  }
}
