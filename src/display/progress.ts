/**
 * Progress for long work: a bar redrawn in place on a terminal, one output
 * updated in place in a notebook, and nothing noisy in logs.
 *
 * @module
 */
import { displayBundle, inJupyter } from "./jupyter.ts";

let nextDisplayId = 0;

/**
 * A progress bar with ETA: on a TTY it redraws one line; in a notebook it
 * updates one output; otherwise it prints a line at each 10 % step.
 *
 * @example
 * ```ts
 * import { ProgressBar } from "convscope";
 * const bar = new ProgressBar({ total: 3, label: "steps" });
 * for (let i = 0; i < 3; i++) bar.tick({ loss: 1 / (i + 1) });
 * bar.done();
 * ```
 */
export class ProgressBar {
  #done = 0;
  #started = performance.now();
  #lastDecile = -1;
  #displayId = `convscope-progress-${Date.now()}-${nextDisplayId++}`;
  #shown = false;
  #lastDraw = 0;
  readonly #tty: boolean;
  readonly #write: (text: string) => void;

  /** Starts the clock. */
  constructor(
    readonly options: {
      /** Steps to do. */
      total: number;
      /** Text before the bar. */
      label?: string;
      /** Where terminal output goes; default standard error. */
      write?: (text: string) => void;
    },
  ) {
    const encoder = new TextEncoder();
    this.#write = options.write ?? ((text) => Deno.stderr.writeSync(encoder.encode(text)));
    this.#tty = options.write == null && Deno.stderr.isTerminal();
  }

  /** Advances by `steps` and shows metrics such as `{ loss: 0.3 }`. */
  tick(metrics: Record<string, number> = {}, steps = 1): void {
    this.#done = Math.min(this.options.total, this.#done + steps);
    const now = performance.now();
    const finished = this.#done === this.options.total;
    if (!finished && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const line = this.render(metrics);
    if (inJupyter()) {
      displayBundle({ "text/plain": line }, {
        displayId: this.#displayId,
        update: this.#shown,
      }).catch(() => {
        // A front end that refuses an update must not end the training run; the
        // next update (or the final line) tries again.
      });
      this.#shown = true;
    } else if (this.#tty) {
      this.#write(`\r\x1b[2K${line}`);
    } else {
      const decile = Math.floor((this.#done / this.options.total) * 10);
      if (decile !== this.#lastDecile) {
        this.#lastDecile = decile;
        this.#write(line + "\n");
      }
    }
  }

  /** The bar as text. */
  render(metrics: Record<string, number> = {}): string {
    const { total, label } = this.options;
    const fraction = total > 0 ? this.#done / total : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const elapsed = (performance.now() - this.#started) / 1000;
    const eta = this.#done > 0 ? elapsed / this.#done * (total - this.#done) : NaN;
    const extra = Object.entries(metrics).map(([k, v]) => `${k} ${formatMetric(v)}`).join("  ");
    return `${label ? label + " " : ""}[${"█".repeat(filled)}${
      "·".repeat(width - filled)
    }] ${this.#done}/${total}` +
      `  ${formatSeconds(elapsed)}${
        this.#done < total && Number.isFinite(eta) ? ` ETA ${formatSeconds(eta)}` : ""
      }` +
      (extra ? `  ${extra}` : "");
  }

  /** Ends the line on a terminal. */
  done(): void {
    if (this.#tty) this.#write("\n");
  }
}

function formatMetric(v: number): string {
  return Math.abs(v) >= 100 || v === 0 ? v.toFixed(0) : v.toPrecision(4);
}

function formatSeconds(s: number): string {
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s`;
}
