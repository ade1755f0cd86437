import cliProgress from "cli-progress";

export interface Progress {
  advance(count?: number): void;
  /** Ends the report; the summary line is printed only when the job `completed`. */
  finish(completed?: boolean): void;
}

/**
 * Progress of a long job on stderr: a cli-progress bar when stderr is a terminal, otherwise one
 * plain line per 10% (logs and CI stay readable); nothing at all when `enabled` is false.
 */
export function createProgress(label: string, total: number, enabled: boolean): Progress {
  if (!enabled || total === 0) return { advance() {}, finish() {} };
  const started = Date.now();
  const seconds = () => ((Date.now() - started) / 1000).toFixed(1);

  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {percentage}% {value}/{total} images, {eta_formatted} left`, stream: process.stderr, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    return {
      advance: (count = 1) => bar.increment(count),
      finish: (completed = true) => {
        bar.stop();
        if (completed) process.stderr.write(`${label}: ${total} images in ${seconds()} s\n`);
      },
    };
  }

  let done = 0;
  let reportedTenth = 0;
  process.stderr.write(`${label}: 0/${total} images\n`);
  return {
    advance(count = 1) {
      done += count;
      const tenth = Math.floor((10 * done) / total);
      if (tenth > reportedTenth && done < total) {
        reportedTenth = tenth;
        process.stderr.write(`${label}: ${done}/${total} images (${tenth * 10}%, ${seconds()} s)\n`);
      }
    },
    finish: (completed = true) => {
      if (completed) process.stderr.write(`${label}: ${total} images in ${seconds()} s\n`);
    },
  };
}
