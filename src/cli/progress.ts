// Progress of a trainer job on stderr: a redrawn bar on a terminal, plain lines otherwise (a
// line when the stage changes, then at most one every few seconds, and one when a stage ends),
// so logs of scripted runs and CI stay readable.

export interface ProgressUpdate {
  stage: string;
  step: number;
  totalSteps?: number;
  metrics: Record<string, number>;
  /** Set on the pipeline's first message, which only names its run directory. */
  runDir?: string;
}

interface Sink {
  isTTY?: boolean;
  write(s: string): unknown;
}

function metricText(m: Record<string, number>): string {
  const shown = ['loss', 'score', 'kl'].filter((k) => m[k] !== undefined);
  return shown.map((k) => ` ${k} ${m[k]!.toFixed(4)}`).join('');
}

export class ProgressLines {
  private lastDraw = 0;
  private stage: string | undefined;
  private drawn = false;
  private started = Date.now();

  constructor(
    private readonly label: string,
    private readonly sink: Sink,
    private readonly plainEveryMs = 5000,
    private readonly now: () => number = Date.now,
  ) {}

  update(p: ProgressUpdate): void {
    // The pipeline's first message only names its run directory (the CLI prints that at the end).
    if (p.runDir !== undefined) return;
    const t = this.now();
    const total = p.totalSteps ?? 0;
    const newStage = p.stage !== this.stage;
    if (newStage) {
      this.stage = p.stage;
      this.started = t;
    }
    const last = total > 0 && p.step >= total;
    const elapsed = ((t - this.started) / 1000).toFixed(0);
    if (this.sink.isTTY) {
      if (!newStage && !last && t - this.lastDraw < 100) return;
      this.lastDraw = t;
      if (newStage && this.drawn) this.sink.write('\n');
      const w = 30;
      const f = total > 0 ? Math.round((Math.min(p.step, total) / total) * w) : 0;
      const bar = total > 0 ? `[${'#'.repeat(f)}${'.'.repeat(w - f)}] ${p.step}/${total}` : `${p.step}`;
      this.sink.write(`\r${this.label} ${p.stage} ${bar}${metricText(p.metrics)} ${elapsed}s   `);
      this.drawn = true;
      return;
    }
    if (!newStage && !last && t - this.lastDraw < this.plainEveryMs) return;
    this.lastDraw = t;
    const pct = total > 0 ? ` (${Math.round((100 * Math.min(p.step, total)) / total)}%)` : '';
    this.sink.write(`${this.label} ${p.stage} ${p.step}${total > 0 ? `/${total}` : ''}${pct}${metricText(p.metrics)} ${elapsed}s\n`);
  }

  finish(): void {
    if (this.sink.isTTY && this.drawn) this.sink.write('\n');
    this.drawn = false;
  }
}
