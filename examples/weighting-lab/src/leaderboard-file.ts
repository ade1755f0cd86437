import type { ArmRow, PresetBoard, SeedLevel, Verdict } from "./leaderboard.js";

/** leaderboard.json: every preset's board, arms and verdicts keyed by name so documents can point at them. */
export interface LeaderboardFile {
  readonly records: string;
  readonly boards: Record<string, KeyedBoard>;
}

export interface KeyedBoard extends Omit<PresetBoard, "arms" | "verdicts"> {
  readonly arms: Record<string, ArmRow>;
  /** Keyed by algorithm, then criterion, each with a plain sentence. */
  readonly verdicts: Record<string, Record<string, Verdict & { readonly sentence: string }>>;
}

const CRITERION_NAMES = { mean: "mean", cvar: "CVaR at 10% (the worst tenth of tasks)", worstGroup: "worst group" } as const;

/** The leaderboard file of several presets' boards. */
export function leaderboardFile(boards: readonly PresetBoard[], records: string): LeaderboardFile {
  return {
    records,
    boards: Object.fromEntries(
      boards.map((board) => [
        board.preset,
        {
          ...board,
          arms: Object.fromEntries(board.arms.map((arm) => [arm.arm, arm])),
          verdicts: verdictsByAlgorithm(board),
        },
      ]),
    ),
  };
}

function verdictsByAlgorithm(board: PresetBoard): KeyedBoard["verdicts"] {
  const keyed: Record<string, Record<string, Verdict & { sentence: string }>> = {};
  for (const verdict of board.verdicts) {
    keyed[verdict.algorithm] ??= {};
    keyed[verdict.algorithm]![verdict.criterion] = { ...verdict, sentence: verdictSentence(verdict, board) };
  }
  return keyed;
}

/**
 * "MAML, mean: uniform is best; its margin over tail-risk is −0.012 ± 0.020 (5 seeds), not resolved."
 * Values in the metric's units (loss, or accuracy in points).
 */
export function verdictSentence(verdict: Verdict, board: PresetBoard): string {
  const format = (interval: SeedLevel) => `${signed(scale(interval.mean, board))} ± ${scale(interval.ci95, board).toFixed(digits(board))}`;
  const seeds = `${board.seeds.length} seeds`;
  const head = `${verdict.algorithm}, ${CRITERION_NAMES[verdict.criterion]}`;
  const resolved = verdict.resolved ? "resolved at 95%" : "not resolved at 95%";
  if (verdict.best !== "uniform") {
    const difference = verdict.difference ? `${format(verdict.difference)} against uniform (${seeds}), ${resolved}` : "no uniform arm to compare with";
    return `${head}: ${verdict.best} is best, ${difference}.`;
  }
  if (!verdict.uniformMargin) return `${head}: uniform is the only arm.`;
  return `${head}: uniform is best, ${format(verdict.uniformMargin)} against the runner-up ${verdict.runnerUp} (${seeds}), ${resolved}.`;

  function signed(value: number): string {
    const text = value.toFixed(digits(board));
    return value > 0 ? `+${text}` : text.replace("-", "−");
  }
}

/** Accuracy in percentage points, losses as they are. */
function scale(value: number, board: PresetBoard): number {
  return board.metric === "accuracy" ? value * 100 : value;
}

function digits(board: PresetBoard): number {
  return board.metric === "accuracy" ? 2 : 3;
}
