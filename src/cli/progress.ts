/**
 * A sweep's progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise (a CI
 * log, a Slurm output file) — a line per failing seed and one per tenth of the sweep — so logs stay
 * short and readable.
 */

/** Where progress goes. */
export interface ProgressOutput {
  readonly isTTY: boolean;
  write(text: string): void;
}

const BAR_WIDTH = 30;
/** Failing seeds named one per line; past this the periodic lines count them (a mutant fails every seed). */
const NAMED_FAILURES = 10;

/** Reports a sweep of `total` seeds, one {@link SweepProgress.seed} call per seed, in order. */
export class SweepProgress {
  private failing = 0;
  private nextLine: number;
  private readonly step: number;

  constructor(
    private readonly out: ProgressOutput,
    private readonly total: number,
  ) {
    this.step = Math.max(1, Math.ceil(total / 10));
    this.nextLine = this.step;
  }

  /** One more seed is done (`done` seeds in all); `failure` says how it failed, if it did. */
  seed(seed: number, done: number, failure: string | undefined): void {
    if (failure !== undefined) this.failing++;
    const named = failure !== undefined && this.failing <= NAMED_FAILURES;
    if (this.out.isTTY) {
      if (named) this.out.write(`\r\x1b[Kseed ${seed}: ${failure}\n`);
      // Redraw about 200 times a sweep at most: a terminal repaint costs more than a short seed.
      if (failure !== undefined || done === this.total || done % Math.max(1, Math.floor(this.total / 200)) === 0) this.out.write(`\r\x1b[K${this.bar(done)}`);
      return;
    }
    if (named) this.out.write(`seed ${seed}: ${failure}${this.failing === NAMED_FAILURES ? " (further failing seeds are only counted)" : ""}\n`);
    if (done >= this.nextLine || done === this.total) {
      this.out.write(`explore: ${done}/${this.total} seeds, ${this.failing} failing\n`);
      this.nextLine = done + this.step;
    }
  }

  /** Ends the display (a terminal's bar keeps its last state on its own line). */
  finish(): void {
    if (this.out.isTTY) this.out.write("\n");
  }

  private bar(done: number): string {
    const filled = this.total === 0 ? BAR_WIDTH : Math.round((done / this.total) * BAR_WIDTH);
    return `[${"#".repeat(filled)}${".".repeat(BAR_WIDTH - filled)}] ${done}/${this.total} seeds · ${this.failing} failing`;
  }
}
