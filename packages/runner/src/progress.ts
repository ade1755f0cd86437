import cliProgress from "cli-progress";

/** "auto": a bar when the stream is a terminal, plain lines otherwise (CI). */
export type ProgressMode = "auto" | "bar" | "lines" | "none";

export interface ProgressReporter {
  /** Called after each iteration with the current meta-loss (query loss after adaptation). */
  update(iteration: number, loss: number): void;
  /** Prints a message without breaking the bar. */
  log(message: string): void;
  stop(): void;
}

export interface ProgressOptions {
  readonly mode?: ProgressMode;
  /** Prefix naming the run, e.g. "maml+agreement seed 0". */
  readonly label: string;
  /** Iteration the run starts at (after a resume) and its total. */
  readonly start: number;
  readonly total: number;
  /** Plain mode: one line every this many iterations (and at the end). */
  readonly every: number;
  readonly stream?: NodeJS.WriteStream;
}

/** A progress reporter with iterations/s, ETA and the current meta-loss. */
export function createProgress(options: ProgressOptions): ProgressReporter {
  const stream = options.stream ?? process.stderr;
  const mode = options.mode === "auto" || options.mode === undefined ? (stream.isTTY ? "bar" : "lines") : options.mode;
  if (mode === "none") return { update: () => {}, log: () => {}, stop: () => {} };
  const started = performance.now();
  const rate = (iteration: number) => {
    const seconds = (performance.now() - started) / 1000;
    return seconds > 0 ? (iteration - options.start) / seconds : 0;
  };

  if (mode === "lines") {
    return {
      update(iteration, loss) {
        if (iteration % options.every !== 0 && iteration !== options.total) return;
        const speed = rate(iteration);
        const eta = speed > 0 ? (options.total - iteration) / speed : Number.NaN;
        const percent = options.total > 0 ? Math.floor((100 * iteration) / options.total) : 100;
        stream.write(
          `${options.label}: iteration ${iteration}/${options.total} (${percent}%), ${speed.toFixed(1)} it/s, ETA ${formatSeconds(eta)}, meta-loss ${formatLoss(loss)}\n`,
        );
      },
      log: (message) => stream.write(`${message}\n`),
      stop: () => {},
    };
  }

  const bar = new cliProgress.SingleBar(
    {
      format: `${options.label} [{bar}] {value}/{total} | {speed} it/s | ETA {eta_formatted} | meta-loss {loss}`,
      stream,
      hideCursor: true,
      etaBuffer: 50,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(options.total, options.start, { speed: "0.0", loss: "-" });
  return {
    update(iteration, loss) {
      bar.update(iteration, { speed: rate(iteration).toFixed(1), loss: formatLoss(loss) });
    },
    log(message) {
      stream.write(`\r\x1b[K${message}\n`);
    },
    stop() {
      bar.stop();
    },
  };
}

export function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return "?";
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(Math.round(seconds % 60)).padStart(2, "0")}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, "0")}m`;
}

function formatLoss(loss: number): string {
  return Number.isFinite(loss) ? loss.toFixed(4) : String(loss);
}
